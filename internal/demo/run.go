package demo

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"time"
)

// Run sends the configured traffic to cfg.Target (and cfg.SFlowTarget) until cfg.Duration has
// passed, cfg.Count flows have been sent, or ctx is cancelled, calling progress (when not nil)
// every cfg.ProgressInterval and once at the end. Flows are paced so that, at any moment, the
// number sent is Rate × elapsed time. Each simulated exporter sends from its own UDP socket.
//
// The returned Stats count only datagrams the kernel accepted, with the flows they carried.
// A send error stops the run and is returned with the Stats so far; cancellation returns an
// error wrapping ctx.Err().
func Run(ctx context.Context, cfg Config, progress func(Stats)) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, fmt.Errorf("demo: invalid configuration: %w", err)
	}
	target, err := resolveTarget("--target", cfg.Target)
	if err != nil {
		return Stats{}, err
	}
	sflowTarget := target
	if cfg.SFlowTarget != "" {
		if sflowTarget, err = resolveTarget("--sflow-target", cfg.SFlowTarget); err != nil {
			return Stats{}, err
		}
	}
	if cfg.BindSources && (!target.Addr().Is4() || !target.Addr().IsLoopback() ||
		!sflowTarget.Addr().Is4() || !sflowTarget.Addr().IsLoopback()) {
		return Stats{}, errors.New("demo: --bind-sources needs IPv4 loopback targets (127.0.0.0/8)")
	}

	start := time.Now()
	// Flow time: scaled, ending at the wall clock when the run ends.
	flowStart := start.Add(-time.Duration(float64(cfg.Duration) * (cfg.scale() - 1)))
	flowAt := func(wall time.Time) time.Time {
		return flowStart.Add(time.Duration(float64(wall.Sub(start)) * cfg.scale()))
	}
	gen, err := NewGenerator(cfg, flowStart)
	if err != nil {
		return Stats{}, err
	}
	var attacks *attackPlan
	if len(cfg.Attacks) > 0 {
		if attacks, err = newAttackPlan(cfg.Attacks, cfg.Seed, flowStart, gen); err != nil {
			return Stats{}, err
		}
		if cfg.Truth != nil {
			defer func() {
				*cfg.Truth = GroundTruth{TimeScale: cfg.scale(), Feeds: AttackFeeds, Attacks: attacks.truth}
			}()
		}
	}
	var stats Stats
	var send func(d *Datagram) error
	flushSends := func() error { return nil }
	if cfg.SendBatch > 1 {
		batch, err := newBatchSender(cfg.SendBatch, cfg.MaxDatagramSize)
		if err != nil {
			return Stats{}, err
		}
		defer batch.Close()
		sent := func(d *sentDatagram) { stats.add(d.protocol, d.counters) }
		send = func(d *Datagram) error {
			to := target
			if d.Protocol == SFlow5 {
				to = sflowTarget
			}
			return batch.add(d, to, sent)
		}
		flushSends = func() error { return batch.flush(sent) }
	} else {
		sockets, err := openSockets(gen.Exporters(), cfg.BindSources)
		if err != nil {
			return Stats{}, err
		}
		defer func() {
			for _, s := range sockets {
				s.Close()
			}
		}()
		send = func(d *Datagram) error {
			to := target
			if d.Protocol == SFlow5 {
				to = sflowTarget
			}
			if _, err := sockets[d.Exporter].WriteToUDPAddrPort(d.Payload, to); err != nil {
				return fmt.Errorf("demo: send %s datagram of exporter %s to %s: %w", d.Protocol, d.Source, to, err)
			}
			stats.record(d)
			return nil
		}
	}
	// generate draws and sends n flows, or with n 0 flushes every open datagram.
	generate := func(wall time.Time, n int) error {
		now := flowAt(wall)
		var err error
		if attacks != nil {
			if err := attacks.inject(gen, now, wall, send); err != nil {
				return errors.Join(err, flushSends())
			}
		}
		if n > 0 {
			err = gen.Generate(now, n, send)
		} else {
			err = gen.Flush(now, send)
		}
		return errors.Join(err, flushSends())
	}
	report := func() {
		if progress != nil {
			progress(stats)
		}
	}

	pace := time.NewTicker(cfg.PacingInterval)
	defer pace.Stop()
	reportTicker := time.NewTicker(cfg.ProgressInterval)
	defer reportTicker.Stop()

	var generated uint64
	for {
		now := time.Now()
		elapsed, done := now.Sub(start), false
		if cfg.Duration > 0 && elapsed >= cfg.Duration {
			elapsed, done = cfg.Duration, true
		}
		due := flowsDue(cfg.Rate, elapsed)
		if cfg.Count > 0 && due >= cfg.Count {
			due, done = cfg.Count, true
		}
		if due > generated {
			if err := generate(now, int(due-generated)); err != nil {
				report()
				return stats, err
			}
			generated = due
		}
		if done {
			err := generate(now, 0)
			report()
			return stats, err
		}
		select {
		case <-ctx.Done():
			// Send what was drawn: it is already late, not lost.
			if err := generate(time.Now(), 0); err != nil {
				report()
				return stats, err
			}
			report()
			return stats, fmt.Errorf("demo: stopped after %d flows: %w", stats.Flows, ctx.Err())
		case <-reportTicker.C:
			report()
		case <-pace.C:
		}
	}
}

// flowsDue is how many flows rate flows/s makes in elapsed, in integer arithmetic so that a
// run of d at rate r sends exactly r×d flows.
func flowsDue(rate int, elapsed time.Duration) uint64 {
	hi, lo := bits.Mul64(uint64(rate), uint64(max(elapsed, 0)))
	q, _ := bits.Div64(hi, lo, uint64(time.Second))
	return q
}

func resolveTarget(flag, target string) (netip.AddrPort, error) {
	a, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("demo: %s %q: %w", flag, target, err)
	}
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// openSockets opens one UDP socket per exporter, as each real exporter has its own source
// port: bound to the exporter's address when bind is set, else to the wildcard address.
func openSockets(exporters []ExporterInfo, bind bool) ([]*net.UDPConn, error) {
	sockets := make([]*net.UDPConn, 0, len(exporters))
	for _, e := range exporters {
		network, local := "udp", &net.UDPAddr{}
		if bind {
			network, local = "udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.Address, 0))
		}
		s, err := net.ListenUDP(network, local)
		if err != nil {
			for _, o := range sockets {
				o.Close()
			}
			return nil, fmt.Errorf("demo: open socket for %s exporter %s: %w", e.Protocol, e.Address, err)
		}
		sockets = append(sockets, s)
	}
	return sockets, nil
}
