//go:build !linux

package demo

import (
	"errors"
	"net/netip"
)

// batchSender needs sendmmsg(2) and IP_PKTINFO, which only Linux has.
type batchSender struct{}

func newBatchSender(size, maxDatagram int) (*batchSender, error) {
	return nil, errors.New("demo: --send-batch needs Linux (sendmmsg)")
}

func (s *batchSender) Close() error { return nil }

func (s *batchSender) add(d *Datagram, to netip.AddrPort, sent func(*sentDatagram)) error {
	return nil
}

func (s *batchSender) flush(sent func(*sentDatagram)) error { return nil }
