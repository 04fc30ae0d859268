// Package udp receives flow-export datagrams. One Listener binds several
// sockets to the same address with SO_REUSEPORT, so the kernel spreads
// exporters across them and across cores, and asks for a large receive
// buffer, since at high rates the socket buffer, not the CPU, decides loss.
// Each socket has one read buffer; a datagram is copied out of it into a
// pooled Datagram that the handler owns until it calls Release.
package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config is one UDP input.
type Config struct {
	// Listen is the address to bind, e.g. "0.0.0.0:2055" or ":6343".
	Listen string `yaml:"listen"`
	// Sockets is how many sockets share the port (SO_REUSEPORT).
	Sockets int `yaml:"sockets"`
	// ReceiveBuffer is the requested SO_RCVBUF in bytes. As root the
	// kernel's rmem_max is bypassed (SO_RCVBUFFORCE); otherwise it caps it.
	ReceiveBuffer int `yaml:"receive-buffer"`
}

// DefaultReceiveBuffer is 4 MiB: measured here, it is what lets a collector
// keep up with bursts of ~1M records/s without kernel drops.
const DefaultReceiveBuffer = 4 << 20

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// pooledCapacity covers jumbo-frame exports; larger datagrams get a buffer
// of their own (rare, and still correct).
const pooledCapacity = 9216

// Datagram is one received datagram. The handler owns it until Release.
type Datagram struct {
	Source   netip.AddrPort
	Received int64 // Unix nanoseconds
	Payload  []byte
	pooled   bool
}

var datagramPool = sync.Pool{New: func() any {
	return &Datagram{Payload: make([]byte, 0, pooledCapacity), pooled: true}
}}

// Release returns the datagram to the pool.
func (d *Datagram) Release() {
	if d.pooled {
		d.Payload = d.Payload[:0]
		datagramPool.Put(d)
	}
}

// drainTime bounds how long Close keeps reading what the kernel already
// holds: at shutdown, datagrams it accepted are decoded, not discarded.
const drainTime = 200 * time.Millisecond

// Listener is a set of sockets bound to one address.
type Listener struct {
	cfg      Config
	conns    []*net.UDPConn
	addr     netip.AddrPort
	wg       sync.WaitGroup
	draining atomic.Bool
}

// Listen binds cfg.Sockets sockets to cfg.Listen. Errors name the address.
func Listen(ctx context.Context, cfg Config) (*Listener, error) {
	if cfg.Sockets <= 0 {
		cfg.Sockets = 1
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var sockErr error
		err := c.Control(func(fd uintptr) {
			sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, sockErr)
	}}
	l := &Listener{cfg: cfg}
	for i := 0; i < cfg.Sockets; i++ {
		address := cfg.Listen
		if i > 0 {
			// Port 0 picks a port on the first socket; the others join it.
			address = net.JoinHostPort(l.addr.Addr().String(), fmt.Sprint(l.addr.Port()))
		}
		pc, err := lc.ListenPacket(ctx, "udp", address)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("listen on udp %s: %w", cfg.Listen, err)
		}
		conn := pc.(*net.UDPConn)
		if cfg.ReceiveBuffer > 0 {
			if err := setReceiveBuffer(conn, cfg.ReceiveBuffer); err != nil {
				conn.Close()
				l.Close()
				return nil, fmt.Errorf("set receive buffer of udp %s to %d: %w", cfg.Listen, cfg.ReceiveBuffer, err)
			}
		}
		if i == 0 {
			l.addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
		}
		l.conns = append(l.conns, conn)
	}
	return l, nil
}

func setReceiveBuffer(conn *net.UDPConn, size int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		// SO_RCVBUFFORCE ignores rmem_max but needs CAP_NET_ADMIN.
		if sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); sockErr != nil {
			sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
	})
	return errors.Join(err, sockErr)
}

// Addr is the bound address (useful when listening on port 0).
func (l *Listener) Addr() netip.AddrPort { return l.addr }

// ReceiveBuffer reports the receive buffer the kernel actually granted to
// the first socket (Linux reports twice the requested value).
func (l *Listener) ReceiveBuffer() int {
	if len(l.conns) == 0 {
		return 0
	}
	raw, err := l.conns[0].SyscallConn()
	if err != nil {
		return 0
	}
	var size int
	_ = raw.Control(func(fd uintptr) {
		size, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return size
}

// Serve starts one reader per socket. handle runs on the reader goroutine
// and takes ownership of the datagram; it must not block for long, or the
// socket buffer fills and the kernel drops (counted by KernelDrops).
// onError is told about read errors other than the listener being closed.
func (l *Listener) Serve(handle func(*Datagram), onError func(error)) {
	for _, conn := range l.conns {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.read(conn, handle, onError)
		}()
	}
}

func (l *Listener) read(conn *net.UDPConn, handle func(*Datagram), onError func(error)) {
	buf := make([]byte, maxDatagram)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if l.draining.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
				return // drained: Close may close the socket
			}
			onError(err)
			time.Sleep(10 * time.Millisecond) // never spin on a persistent error
			continue
		}
		var d *Datagram
		if n <= pooledCapacity {
			d = datagramPool.Get().(*Datagram)
		} else {
			d = &Datagram{Payload: make([]byte, 0, n)}
		}
		d.Payload = append(d.Payload[:0], buf[:n]...)
		d.Source = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		d.Received = time.Now().UnixNano()
		handle(d)
	}
}

// Close stops intake: each reader first hands on what the kernel already
// holds for its socket (reading for at most drainTime), then the sockets
// close. Datagrams the kernel accepted are not lost at shutdown.
func (l *Listener) Close() {
	l.draining.Store(true)
	deadline := time.Now().Add(drainTime)
	for _, conn := range l.conns {
		conn.SetReadDeadline(deadline)
	}
	l.wg.Wait()
	for _, conn := range l.conns {
		conn.Close()
	}
}

// Port is the bound UDP port.
func (l *Listener) Port() uint16 { return l.addr.Port() }
