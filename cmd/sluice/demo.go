package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"sluice/internal/demo"
)

// cmdDemo runs the built-in exporter and prints a live line of what it sent
// (and, with --sluice, how much of it is stored).
func cmdDemo(ctx context.Context, args []string, stderr io.Writer) error {
	def := demo.DefaultConfig()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", def.Target, "collector address for NetFlow v5/v9 and IPFIX")
	sflowTarget := fs.String("sflow-target", "", "collector address for sFlow (default: --target)")
	rate := fs.Int("rate", def.Rate, "flows per second, all protocols together")
	duration := fs.Duration("duration", def.Duration, "stop after this long (0: no limit)")
	count := fs.Uint64("count", 0, "stop after this many flows (0: no limit)")
	protocols := fs.String("protocols", strings.Join(def.Protocols, ","), "protocols to send: netflow9, ipfix, sflow5, netflow5")
	exporters := fs.Int("exporters", def.Exporters, "simulated exporters per protocol")
	interfaces := fs.Int("interfaces", def.Interfaces, "interfaces per exporter")
	counterInterval := fs.Duration("counter-interval", demo.DefaultCounterInterval, "sFlow exporters send each interface's counters at start and this often (0: never)")
	interfaceNames := fs.Bool("interface-names", true, "NetFlow v9 and IPFIX exporters announce interface names in options data")
	seed := fs.Uint64("seed", def.Seed, "random seed: the same seed sends the same traffic")
	bindSources := fs.Bool("bind-sources", false, "send each exporter from its own 127.0.X.Y address (loopback targets only)")
	ipv6Share := fs.Float64("ipv6-share", def.IPv6Share, "fraction of flows between IPv6 addresses")
	sluiceURL := fs.String("sluice", "", "the receiving sluice's HTTP address, host:port or URL, to show how many flows are stored (default: $"+serverAddrEnv+" when set)")
	quiet := fs.Bool("quiet", false, "no live line, only the final totals")
	templateRefresh := fs.Duration("template-refresh", def.TemplateRefresh, "resend NetFlow v9/IPFIX templates this often (0: only at start)")
	templateRefreshDatagrams := fs.Int("template-refresh-datagrams", 0, "also resend templates every this many datagrams of an exporter (0: off)")
	flushInterval := fs.Duration("flush-interval", def.FlushInterval, "longest a flow waits in a datagram that is not full")
	maxDatagram := fs.Int("max-datagram-size", def.MaxDatagramSize, "largest UDP payload, bytes")
	pool := fs.Int("pool", 0, "load tests: each exporter draws this many flows once and replays them with unique source ports (0: draw every flow)")
	sendBatch := fs.Int("send-batch", 0, "load tests: datagrams per sendmmsg call, from one socket (needs --bind-sources; 0: one call per datagram)")
	pacing := fs.Duration("pacing-interval", def.PacingInterval, "send the flows that came due this often")
	jsonOut := fs.Bool("json", false, "print the final totals as JSON on stdout")
	statsFile := fs.String("stats-file", "", "also write the final totals as JSON to this file")
	timeScale := fs.Float64("time-scale", 1, "date flows this many times faster than real time, ending now when the run ends (60 with --duration 1m: an hour of traffic); needs --duration, no sflow5")
	attacks := fs.String("attacks", "none", "inject attack scenarios among the benign traffic: all, none, or some of "+strings.Join(demo.AttackNames(), ",")+
		"; "+demo.BenignHubs+" adds busy benign hosts (a resolver, a sampled HTTPS server, a NAT gateway, a long-lived connection) that must raise no alert")
	groundTruth := fs.String("ground-truth", "", "write what --attacks injected (detection, attacker, victim, flow-time window) as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := def
	cfg.Target, cfg.SFlowTarget = *target, *sflowTarget
	cfg.Rate, cfg.Duration, cfg.Count = *rate, *duration, *count
	cfg.Protocols = splitList(*protocols)
	cfg.Exporters, cfg.Interfaces, cfg.Seed = *exporters, *interfaces, *seed
	cfg.CounterInterval, cfg.InterfaceNames = *counterInterval, *interfaceNames
	cfg.BindSources, cfg.IPv6Share = *bindSources, *ipv6Share
	cfg.TemplateRefresh, cfg.TemplateRefreshDatagrams = *templateRefresh, *templateRefreshDatagrams
	cfg.FlushInterval, cfg.MaxDatagramSize = *flushInterval, *maxDatagram
	cfg.Pool, cfg.SendBatch, cfg.PacingInterval = *pool, *sendBatch, *pacing
	cfg.TimeScale = *timeScale
	var err error
	if cfg.Attacks, err = demo.ParseAttacks(*attacks); err != nil {
		return err
	}
	var truth demo.GroundTruth
	if *groundTruth != "" {
		if len(cfg.Attacks) == 0 {
			return errors.New("--ground-truth needs --attacks")
		}
		cfg.Truth = &truth
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	origin := "--sluice"
	if *sluiceURL == "" {
		*sluiceURL, origin = os.Getenv(serverAddrEnv), serverAddrEnv
	}
	if *sluiceURL != "" {
		server, err := parseServerAddress(*sluiceURL, origin)
		if err != nil {
			return err
		}
		*sluiceURL = server.url
	}
	stored := newStoredCounter(*sluiceURL)
	start := time.Now()
	progress := func(s demo.Stats) {
		if *quiet {
			return
		}
		elapsed := time.Since(start).Seconds()
		line := fmt.Sprintf("sent %d flows (%.0f/s) in %d datagrams, describing %s of traffic", s.Flows, float64(s.Flows)/elapsed, s.Datagrams, humanBytes(s.Bytes))
		if n, ok := stored.Count(ctx); ok {
			line += fmt.Sprintf(" | stored %d", n)
		}
		fmt.Fprintf(stderr, "\r\033[K%s", line)
	}
	stored.Count(ctx) // the baseline: flows stored before this demo
	stats, err := demo.Run(ctx, cfg, progress)
	elapsed := time.Since(start)
	if !*quiet {
		fmt.Fprintln(stderr)
	}
	fmt.Fprintf(stderr, "sent %d flows in %d datagrams (%d payload bytes) in %s: %d bytes, %d packets (netflow9 %d, ipfix %d, sflow5 %d, netflow5 %d flows)\n",
		stats.Flows, stats.Datagrams, stats.PayloadBytes, elapsed.Round(time.Millisecond), stats.Bytes, stats.Packets,
		stats.NetFlow9.Flows, stats.IPFIX.Flows, stats.SFlow5.Flows, stats.NetFlow5.Flows)
	totals := demoTotals{Stats: stats, Seconds: elapsed.Seconds(),
		FlowsPerSecond: float64(stats.Flows) / elapsed.Seconds(), Complete: err == nil}
	if *sluiceURL != "" {
		// The last flows are still on their way to storage (about 4 s): wait
		// for the count to settle, even after Ctrl-C (a second one ends the
		// wait), then say what was stored.
		if !*quiet {
			fmt.Fprintf(stderr, "waiting for %s to store the last flows (at most %s)...\n", *sluiceURL, settleTimeout)
		}
		wait, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
		n, ok := stored.Settle(wait, stats.Flows, settlePoll, settleQuiet)
		cancel()
		fmt.Fprintln(stderr, finalLine(stats.Flows, n, ok))
		if ok {
			totals.Stored = &n
		}
	}
	if *jsonOut || *statsFile != "" {
		out, jerr := json.Marshal(totals)
		if jerr != nil {
			return errors.Join(err, jerr)
		}
		if *jsonOut {
			fmt.Fprintf(stdoutOf(stderr), "%s\n", out)
		}
		if *statsFile != "" {
			if werr := os.WriteFile(*statsFile, append(out, '\n'), 0o644); werr != nil {
				return errors.Join(err, fmt.Errorf("--stats-file: %w", werr))
			}
		}
	}
	if *groundTruth != "" {
		out, jerr := json.MarshalIndent(truth, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(*groundTruth, append(out, '\n'), 0o644)
		}
		if jerr != nil {
			return errors.Join(err, fmt.Errorf("--ground-truth: %w", jerr))
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil // Ctrl-C is how a demo ends
	}
	return err
}

// demoTotals is the JSON of --json and --stats-file: what was sent (only datagrams the kernel
// accepted count), how long it took, whether the run ended as configured rather than
// being cancelled or failing, and with --sluice the flows stored once the count settled.
type demoTotals struct {
	demo.Stats
	Seconds        float64 `json:"seconds"`
	FlowsPerSecond float64 `json:"flows_per_second"`
	Complete       bool    `json:"complete"`
	Stored         *int64  `json:"stored,omitempty"`
}

// How the demo waits for the stored count to settle once it stops sending:
// a poll every settlePoll; settled when every flow sent is stored, or when
// settleQuiet polls in a row found the same count. 5 s without change is more
// than a record takes from arrival to storage with the default timers
// (collector flush 1 s, pipeline flush 2 s, the insert). settleTimeout bounds
// the wait.
const (
	settlePoll    = 500 * time.Millisecond
	settleQuiet   = 10
	settleTimeout = 30 * time.Second
)

// finalLine is the demo's last line with --sluice: sent, stored, and the
// difference.
func finalLine(sent uint64, stored int64, ok bool) string {
	line := fmt.Sprintf("done: sent %d flows", sent)
	switch {
	case !ok:
		return line + ", stored count unavailable (sluice did not answer)"
	case stored == int64(sent):
		return line + fmt.Sprintf(", stored %d (all stored)", stored)
	case stored < int64(sent):
		return line + fmt.Sprintf(", stored %d (%d missing)", stored, int64(sent)-stored)
	default:
		return line + fmt.Sprintf(", stored %d (%d more than sent: other exporters send to this sluice too)", stored, stored-int64(sent))
	}
}

// storedCounter asks a running sluice how many flows it has stored since
// the demo started.
type storedCounter struct {
	url      string
	baseline int64
	ready    bool
}

func newStoredCounter(base string) *storedCounter {
	if base == "" {
		return &storedCounter{}
	}
	return &storedCounter{url: strings.TrimRight(base, "/") + "/api/v1/sql?format=TSV&query=" +
		url.QueryEscape("SELECT count() FROM sluice.flows")}
}

func (c *storedCounter) Count(ctx context.Context) (int64, bool) {
	if c.url == "" {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return 0, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
	if err != nil {
		return 0, false
	}
	if !c.ready {
		c.baseline, c.ready = n, true
	}
	return n - c.baseline, true
}

// Settle polls the stored count every poll until every one of sent flows is
// stored, or quiet polls in a row found the same count, or ctx ends. It
// returns the last count read, and whether one was read at all.
func (c *storedCounter) Settle(ctx context.Context, sent uint64, poll time.Duration, quiet int) (int64, bool) {
	var last int64
	read, same := false, 0
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if n, ok := c.Count(ctx); ok {
			if read && n == last {
				same++
			} else {
				same = 0
			}
			last, read = n, true
			if n >= int64(sent) || same >= quiet {
				return last, true
			}
		}
		select {
		case <-ctx.Done():
			return last, read
		case <-t.C:
		}
	}
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
