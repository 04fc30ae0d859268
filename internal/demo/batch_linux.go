package demo

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSender sends datagrams in batches with sendmmsg(2) from one unbound IPv4 socket, each
// with its exporter's source address in an IP_PKTINFO control message, so that one system call
// carries the datagrams of many exporters. It copies each payload, since the generator reuses
// its buffers.
type batchSender struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	msgs []unix.Mmsghdr
	iovs []unix.Iovec
	// Per slot: the payload, the destination and the control message.
	payloads [][]byte
	names    []unix.RawSockaddrInet4
	controls [][]byte
	// Per slot: what the datagram counts for once the kernel has taken it.
	pending []sentDatagram
	n       int
}

func newBatchSender(size, maxDatagram int) (*batchSender, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, fmt.Errorf("demo: open the batch socket: %w", err)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("demo: batch socket: %w", err)
	}
	s := &batchSender{
		conn:     conn,
		raw:      raw,
		msgs:     make([]unix.Mmsghdr, size),
		iovs:     make([]unix.Iovec, size),
		payloads: make([][]byte, size),
		names:    make([]unix.RawSockaddrInet4, size),
		controls: make([][]byte, size),
		pending:  make([]sentDatagram, size),
	}
	for i := range size {
		s.payloads[i] = make([]byte, 0, maxDatagram)
		s.controls[i] = make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&s.controls[i][0]))
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	}
	return s, nil
}

func (s *batchSender) Close() error { return s.conn.Close() }

// add queues d for to, sending the batch first when it is full; sent is called with each
// datagram the kernel took.
func (s *batchSender) add(d *Datagram, to netip.AddrPort, sent func(*sentDatagram)) error {
	if s.n == len(s.msgs) {
		if err := s.flush(sent); err != nil {
			return err
		}
	}
	i := s.n
	s.payloads[i] = append(s.payloads[i][:0], d.Payload...)
	s.names[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: to.Addr().As4()}
	port := to.Port()
	s.names[i].Port = port>>8 | port<<8 // network byte order
	info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&s.controls[i][unix.CmsgLen(0)]))
	info.Spec_dst = d.Source.As4()
	s.pending[i] = sentDatagram{protocol: d.Protocol, counters: d.counters()}
	s.n++
	return nil
}

// flush sends every queued datagram, retrying the rest of a batch the kernel took in part.
func (s *batchSender) flush(sent func(*sentDatagram)) error {
	for i := range s.n {
		s.iovs[i].Base = unsafe.SliceData(s.payloads[i])
		s.iovs[i].SetLen(len(s.payloads[i]))
		m := &s.msgs[i].Hdr
		m.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		m.Namelen = unix.SizeofSockaddrInet4
		m.Iov = &s.iovs[i]
		m.SetIovlen(1)
		m.Control = &s.controls[i][0]
		m.SetControllen(len(s.controls[i]))
	}
	done := 0
	for done < s.n {
		var n int
		var errno syscall.Errno
		err := s.raw.Write(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.msgs[done])), uintptr(s.n-done), 0, 0, 0)
			n, errno = int(r), e
			return errno != unix.EAGAIN
		})
		runtime.KeepAlive(s)
		if err == nil && errno != 0 {
			err = errno
		}
		if err != nil {
			s.n = 0
			return fmt.Errorf("demo: sendmmsg of %d datagrams: %w", s.n-done, err)
		}
		for j := done; j < done+n; j++ {
			sent(&s.pending[j])
		}
		done += n
	}
	s.n = 0
	return nil
}
