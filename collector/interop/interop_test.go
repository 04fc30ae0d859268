// Package interop runs real flow exporters from Debian (softflowd, pmacctd
// with its nfprobe and sfprobe plugins) over a capture of ordinary traffic,
// sends what they export through the collector, and compares the totals
// the collector hands on with tshark's decoding of the same datagrams. The
// exported datagrams are kept under ../testdata/interop (go test -update),
// where the decoders' field-by-field comparisons with tshark read them.
package interop

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/collector"
	"sluice/internal/pcap"
	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/queue"
	"sluice/pipeline/record"
)

var update = flag.Bool("update", false, "copy the exported datagrams to ../testdata/interop")

// exporter is one real exporter configuration.
type exporter struct {
	name    string
	binary  string // must be on PATH
	sflow   bool
	ipv6    bool // exports IPv6 flows too
	command func(t *testing.T, dir, traffic string, to netip.AddrPort) *exec.Cmd
	// after runs once the command has been started, to make an exporter
	// that keeps running flush and stop (nil: it exits on its own).
	after func(t *testing.T, dir string, cmd *exec.Cmd)
}

func softflowd(version string, ipv6 bool) exporter {
	return exporter{
		name: "softflowd-" + version, binary: "softflowd", ipv6: ipv6,
		command: func(t *testing.T, dir, traffic string, to netip.AddrPort) *exec.Cmd {
			return exec.Command("softflowd", "-r", traffic, "-n", to.String(), "-v", version, "-d",
				"-c", filepath.Join(dir, "softflowd.ctl"), "-p", filepath.Join(dir, "softflowd.pid"))
		},
		// softflowd 1.1 exports at the end of the capture and exits; older
		// versions wait for `softflowctl expire-all` then `shutdown`.
		after: func(t *testing.T, dir string, cmd *exec.Cmd) {
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("softflowd: %v", err)
				}
				return
			case <-time.After(5 * time.Second):
			}
			ctl := filepath.Join(dir, "softflowd.ctl")
			for _, op := range []string{"expire-all", "shutdown"} {
				if out, err := exec.Command("softflowctl", "-c", ctl, op).CombinedOutput(); err != nil {
					t.Fatalf("softflowctl %s: %v\n%s", op, err, out)
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("softflowd: %v", err)
			}
		},
	}
}

func pmacct(name, plugin string, sflow bool, lines ...string) exporter {
	return exporter{
		name: name, binary: "pmacctd", sflow: sflow, ipv6: true,
		command: func(t *testing.T, dir, traffic string, to netip.AddrPort) *exec.Cmd {
			conf := []string{
				"daemonize: false",
				"pcap_savefile: " + traffic,
				"plugins: " + plugin + "[p]",
			}
			for _, l := range lines {
				conf = append(conf, strings.ReplaceAll(l, "TARGET", to.String()))
			}
			path := filepath.Join(dir, "pmacctd.conf")
			if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return exec.Command("pmacctd", "-f", path)
		},
	}
}

var exporters = []exporter{
	softflowd("5", false),
	softflowd("9", true),
	softflowd("10", true),
	pmacct("pmacctd-nfprobe-v9", "nfprobe", false, "nfprobe_receiver[p]: TARGET", "nfprobe_version[p]: 9"),
	pmacct("pmacctd-nfprobe-ipfix", "nfprobe", false, "nfprobe_receiver[p]: TARGET", "nfprobe_version[p]: 10"),
	// pmacct 1.7.7 has no sfprobe_sampling_rate; the global sampling_rate
	// applies. 1: every packet becomes a flow sample.
	pmacct("pmacctd-sfprobe", "sfprobe", true, "sfprobe_receiver[p]: TARGET", "sfprobe_agentip[p]: 192.0.2.250", "sampling_rate: 1"),
}

// recorder receives what an exporter sends, writes every datagram to a
// capture (as sent to port 2055, or 6343 for sFlow, so that tshark picks
// the dissector) and forwards it to the collector.
type recorder struct {
	conn    *net.UDPConn
	forward *net.UDPConn
	w       *pcap.Writer
	file    *os.File
	port    uint16
	wg      sync.WaitGroup
	last    time.Time
	mu      sync.Mutex
	count   int
	err     error
}

func newRecorder(t *testing.T, path string, to netip.AddrPort, port uint16) *recorder {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadBuffer(8 << 20)
	fwd, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcap.NewWriter(f, pcap.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{conn: conn, forward: fwd, w: w, file: f, port: port, last: time.Now()}
	r.wg.Add(1)
	go r.run()
	return r
}

func (r *recorder) addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (r *recorder) run() {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	exporterAddr := netip.MustParseAddrPort("192.0.2.250:50000")
	for {
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.setErr(err)
			}
			return
		}
		now := time.Now()
		if err := r.w.WriteUDP(now.UnixNano(), exporterAddr, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), r.port), buf[:n]); err != nil {
			r.setErr(err)
		}
		if _, err := r.forward.Write(buf[:n]); err != nil {
			r.setErr(err)
		}
		r.mu.Lock()
		r.count++
		r.last = now
		r.mu.Unlock()
		// Pace the forwarding so that the collector's socket never drops.
		time.Sleep(200 * time.Microsecond)
	}
}

func (r *recorder) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// close waits until nothing arrived for quiet, then stops. This is idle
// detection, not a fixed sleep, and it cannot become a counter: the real
// exporter says nowhere how many datagrams it sent, and what it sent before
// exiting may still sit in the socket buffer, read at the paced rate.
func (r *recorder) close(t *testing.T, quiet time.Duration) int {
	t.Helper()
	for {
		r.mu.Lock()
		idle := time.Since(r.last)
		r.mu.Unlock()
		if idle >= quiet {
			break
		}
		time.Sleep(quiet - idle)
	}
	r.conn.Close()
	r.wg.Wait()
	r.forward.Close()
	if err := r.file.Close(); err != nil {
		t.Fatal(err)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.count
}

// totals are what a decoding found.
type totals struct {
	flows, bytes, packets uint64
}

func tsharkTotals(t *testing.T, path string, sflow bool) totals {
	t.Helper()
	records, _, err := tshark.Decode(testenv.Tshark(t), path)
	if err != nil {
		t.Fatal(err)
	}
	var tot totals
	for i := range records {
		r := &records[i]
		tot.flows++
		if sflow {
			tot.packets++
			continue
		}
		b, _ := r.Uint("cflow.octets")
		p, _ := r.Uint("cflow.packets")
		tot.bytes += b
		tot.packets += p
	}
	return tot
}

// TestExportersThroughCollector: for each exporter, the records the
// collector hands on add up to what tshark decodes from the datagrams the
// exporter sent, and the packets they count to the packets of the traffic.
func TestExportersThroughCollector(t *testing.T) {
	testenv.SkipIfShort(t, "runs real exporters")
	testenv.Tshark(t)
	dir := t.TempDir()
	traffic := filepath.Join(dir, "traffic.pcap")
	packets4, _, packets6, _ := writeTraffic(t, traffic)
	for _, ex := range exporters {
		t.Run(ex.name, func(t *testing.T) {
			if _, err := exec.LookPath(ex.binary); err != nil {
				testenv.Missing(t, ex.binary+" (Debian package "+map[string]string{"softflowd": "softflowd", "pmacctd": "pmacct"}[ex.binary]+")")
			}
			// run exports the traffic once through the exporter, the
			// recorder and the collector.
			run := func() (captured string, datagrams int, got, want totals) {
				work := t.TempDir()
				c, q := startCollector(t)
				port := uint16(2055)
				if ex.sflow {
					port = 6343
				}
				captured = filepath.Join(work, ex.name+".pcap")
				rec := newRecorder(t, captured, c.Addrs()[0], port)
				cmd := ex.command(t, work, traffic, rec.addr())
				var out strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if ex.after != nil {
					ex.after(t, work, cmd)
				} else if err := cmd.Wait(); err != nil && !shutdownRace(ex.binary, out.String()) {
					t.Fatalf("%s: %v\n%s", ex.binary, err, out.String())
				}
				datagrams = rec.close(t, time.Second)
				if datagrams == 0 {
					t.Fatalf("%s exported nothing:\n%s", ex.name, out.String())
				}
				flows := drain(c, q)

				want = tsharkTotals(t, captured, ex.sflow)
				for _, f := range flows {
					got.flows++
					got.bytes += f.Bytes
					got.packets += f.Packets
				}
				if ex.sflow {
					got.bytes = 0 // tshark gives no per-sample byte count to compare
				}
				return captured, datagrams, got, want
			}
			wantPackets := uint64(packets4)
			if ex.ipv6 {
				wantPackets += uint64(packets6)
			}
			captured, datagrams, got, want := run()
			if !ex.sflow && got.packets < wantPackets && got == want {
				// The exporter sent less than the traffic: seen once with
				// softflowd 1.1, which exported one datagram of three
				// before exiting. That is the exporter's doing (what it
				// sent was decoded exactly), so it gets a second run; the
				// same checks apply to that run.
				t.Logf("%s exported %d of %d packets; running it again", ex.name, got.packets, wantPackets)
				captured, datagrams, got, want = run()
			}
			if got != want {
				t.Errorf("collector: %d flows, %d bytes, %d packets; tshark: %d flows, %d bytes, %d packets",
					got.flows, got.bytes, got.packets, want.flows, want.bytes, want.packets)
			}
			// Every packet of the traffic is accounted for (sampling 1).
			// pmacctd's sfprobe sees 4 of the 312 packets less than
			// softflowd and nfprobe do from the same capture (its sample
			// pool, the packets the agent saw, says 308): for sFlow, every
			// packet the agent saw must be a stored sample.
			if ex.sflow {
				wantPackets = samplePool(t, captured)
			}
			if got.packets != wantPackets {
				t.Errorf("the flows count %d packets, the traffic has %d", got.packets, wantPackets)
			}
			t.Logf("%d datagrams, %d flows, %d packets", datagrams, got.flows, got.packets)
			if *update {
				data, err := os.ReadFile(captured)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join("..", "testdata", "interop", ex.name+".pcap"), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// samplePool is the largest sample pool (packets the agent saw) of an
// sFlow capture.
func samplePool(t *testing.T, path string) uint64 {
	t.Helper()
	records, _, err := tshark.Decode(testenv.Tshark(t), path)
	if err != nil {
		t.Fatal(err)
	}
	var pool uint64
	for i := range records {
		if v, ok := records[i].Uint("sflow.flow_sample.sample_pool"); ok {
			pool = max(pool, v)
		}
	}
	return pool
}

func startCollector(t *testing.T) (*collector.Collector, *queue.Queue) {
	t.Helper()
	r := reporter.New(slog.New(slog.DiscardHandler))
	q, err := queue.New(r, queue.Config{Batches: 1024}, queue.Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := collector.DefaultConfig()
	cfg.NetFlow.Listen = []string{"127.0.0.1:0"}
	cfg.SFlow.Listen = nil
	cfg.Workers = 1
	c, err := collector.New(r, cfg, collector.Dependencies{Output: q})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, q
}

func drain(c *collector.Collector, q *queue.Queue) []record.Flow {
	c.Stop(context.Background())
	_ = q.Stop(context.Background())
	var flows []record.Flow
	for b := range q.Batches() {
		flows = append(flows, b.Flows...)
		b.Release()
	}
	return flows
}

// shutdownRace recognises pmacctd 1.7.7 ending a capture file normally but
// exiting with status 1: the core sometimes notices its plugin gone before
// the plugin's own orderly stop ("connection lost to 'p-nfprobe'", then "no
// more plugins active"), after every flow was exported. The checks that
// follow (datagrams recorded, totals equal to tshark's, every packet
// accounted for) still catch anything missing.
func shutdownRace(binary, log string) bool {
	return binary == "pmacctd" &&
		strings.Contains(log, "Shutting down on user request") &&
		strings.Contains(log, "no more plugins active")
}
