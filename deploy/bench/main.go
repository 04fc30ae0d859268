// Command bench measures sluice end to end against goflow2, nfcapd and pmacct on this machine,
// with loss accounting: for each collector and protocol it sends traffic from `sluice demo`
// (load-test mode) at a rate, counts what the collector stored, and steps the rate to find
// the highest one with less than --max-loss lost. Collectors take turns at every step, so
// that whatever else runs on the machine weighs on all of them alike.
//
// Run it through deploy/bench/bench.sh, which installs the peers, sets the socket buffer
// limits and builds sluice; see BENCHMARKS.md for what is measured and how.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type bench struct {
	sluice        string // the sluice binary, also the load generator
	goflow2       string
	kafka         string // bootstrap address of the broker for sluice-split
	kafkaPID      int
	receiveBuffer int
	duration      time.Duration
	maxLoss       float64
	exporters     int
	out           string
	runID         int64
	steps         int
	bisections    int
	factor        float64
	maxDrain      time.Duration
	startRate     int
	startRates    map[string]int
	maxRate       int
	profile       bool
	rssInterval   time.Duration
	detect        bool
	detectOff     []string
	queueOverflow int64
	queueBatches  int
	longInterval  time.Duration
	stepCount     int
	results       *os.File
}

// stepResult is one collector at one rate for one protocol.
type stepResult struct {
	Target        string  `json:"target"`
	Protocol      string  `json:"protocol"`
	Rate          int     `json:"rate"`
	Sent          uint64  `json:"sent"`
	SentRate      float64 `json:"sent_rate"` // what the generator achieved
	Datagrams     uint64  `json:"datagrams"`
	Stored        uint64  `json:"stored"`
	Loss          float64 `json:"loss"` // (sent - stored) / sent; negative means duplicates
	Duplicates    uint64  `json:"duplicates"`
	KernelDrops   uint64  `json:"kernel_drops"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	CPUPerMillion float64 `json:"cpu_seconds_per_million"`
	KafkaCPU      float64 `json:"kafka_cpu_seconds,omitempty"`
	PeakRSS       int64   `json:"peak_rss_bytes"`
	ReceiveBuffer int64   `json:"receive_buffer_bytes"`
	DrainSeconds  float64 `json:"drain_seconds"`
	Pass          bool    `json:"pass"`
	// GeneratorLimited: the generator could not offer the rate (it shares the CPUs); the
	// step then counts at the rate it did offer.
	GeneratorLimited bool    `json:"generator_limited,omitempty"`
	Error            string  `json:"error,omitempty"`
	RSSSamples       []int64 `json:"rss_samples_bytes,omitempty"`
	Profiles         string  `json:"profiles,omitempty"`
}

func main() {
	b := &bench{}
	var targetList, protocolList, rateList string
	flag.StringVar(&b.sluice, "sluice", "bin/sluice", "sluice binary (collector under test and load generator)")
	flag.StringVar(&b.goflow2, "goflow2", "", "goflow2 binary (empty: goflow2 is skipped)")
	flag.StringVar(&b.kafka, "kafka", "", "Kafka bootstrap address for sluice-split (empty: skipped)")
	flag.IntVar(&b.kafkaPID, "kafka-pid", 0, "the broker's pid, to report its CPU beside sluice-split's")
	flag.StringVar(&targetList, "targets", "sluice-run,sluice-split,goflow2,nfcapd,pmacct", "collectors to measure")
	flag.StringVar(&protocolList, "protocols", strings.Join(allProtocols, ","), "protocols, each measured on its own")
	flag.StringVar(&rateList, "rates", "", "fixed rates to run (records/s, comma-separated) instead of searching")
	flag.IntVar(&b.receiveBuffer, "receive-buffer", 4<<20, "socket receive buffer every collector asks for, bytes")
	flag.DurationVar(&b.duration, "duration", 15*time.Second, "sending time of each step (sustained: at least 15 s)")
	flag.Float64Var(&b.maxLoss, "max-loss", 0.001, "a step passes when less than this fraction is lost")
	flag.IntVar(&b.exporters, "exporters", 64, "simulated exporters (distinct 127.0.x.y sources)")
	flag.IntVar(&b.steps, "steps", 5, "most rate steps per collector and protocol when searching")
	flag.IntVar(&b.bisections, "bisections", 0, "bisections once a passing and a failing rate are known")
	flag.Float64Var(&b.factor, "factor", 1.5, "the search multiplies (or divides) the rate by this until a step fails (or passes)")
	flag.DurationVar(&b.maxDrain, "max-drain", 10*time.Second, "records not stored this long after the last datagram count as lost")
	flag.IntVar(&b.startRate, "start-rate", 0, "first rate of the search for every collector, records/s (0: --start-rates)")
	startRates := flag.String("start-rates", "sluice-run=200000,sluice-split=200000,goflow2=200000,nfcapd=1200000,pmacct=400000,"+
		"sluice-run/sflow5=100000,sluice-split/sflow5=100000,goflow2/sflow5=100000,pmacct/sflow5=200000",
		"first rate of the search per collector (or collector/protocol), near what it sustained here before, so that few steps suffice")
	flag.IntVar(&b.maxRate, "max-rate", 3_200_000, "highest rate the search tries, records/s")
	flag.StringVar(&b.out, "out", "", "results directory (default bench-results/<time>)")
	flag.BoolVar(&b.profile, "profile", false, "take CPU and allocation profiles of the sluice processes at every step")
	flag.BoolVar(&b.detect, "detect", true, "run sluice's threat detections (detect.enabled), which take the embedded engine for seconds each minute")
	detectOff := flag.String("detect-off", "", "detections to turn off, comma-separated (e.g. beaconing, whose hour-long window outgrows max-query-time at high rates)")
	flag.DurationVar(&b.longInterval, "detect-long-interval", 0, "detect.long-interval, how often beaconing and exfiltration run (0: sluice's default, 10m; 5m runs beaconing at 5 minutes into a flatness run)")
	flag.IntVar(&b.queueBatches, "queue-batches", 0, "queue.batches of sluice run, batches of 8192 records in memory (0: sluice's default, 8)")
	flag.Int64Var(&b.queueOverflow, "queue-overflow", -1, "queue.overflow.max-bytes of sluice run, bytes (-1: sluice's default; 0: off, a full queue makes the collector wait and drop)")
	flag.DurationVar(&b.rssInterval, "rss-interval", 0, "sample the resident set this often during each step (the flatness run)")
	rateFrom := flag.String("rate-from", "", "print --rate-fraction of the highest passing rate of the first target and protocol in this summary.json, and exit")
	rateFraction := flag.Float64("rate-fraction", 0.8, "see --rate-from")
	flag.Parse()
	if *rateFrom != "" {
		rate, err := rateFromSummary(*rateFrom, splitList(targetList)[0], splitList(protocolList)[0], *rateFraction)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Println(rate)
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b.startRates = map[string]int{}
	for _, kv := range splitList(*startRates) {
		name, v, _ := strings.Cut(kv, "=")
		rate, err := strconv.Atoi(v)
		if err != nil || rate <= 0 {
			fmt.Fprintf(os.Stderr, "bench: --start-rates: %q is not collector=rate\n", kv)
			os.Exit(2)
		}
		b.startRates[name] = rate
	}
	b.detectOff = splitList(*detectOff)
	if err := b.run(ctx, splitList(targetList), splitList(protocolList), rateList); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// search steps one collector's rate for one protocol: doubling from the start rate while
// steps pass, halving while they fail, then bisecting (geometrically) between the highest
// pass and the lowest failure, within --steps steps. The result is the highest passing rate;
// the true limit lies below the lowest failing one.
type search struct {
	target     target
	protocol   string
	next       int
	pass       int // highest passing rate, 0 if none yet
	fail       int // lowest failing rate, 0 if none yet
	best       *stepResult
	last       *stepResult // the latest step, whose RSS samples the flatness run reports
	steps      int
	bisections int
	done       bool
	// generatorLimited: the collector kept up with all the generator could send.
	generatorLimited bool
	fixed            []int
}

func (s *search) record(b *bench, r *stepResult) {
	s.steps++
	s.last = r
	if r.Pass && r.GeneratorLimited {
		// No higher rate can be offered: the result is a lower bound, at the offered rate.
		if int(r.SentRate) > s.pass {
			s.pass, s.best = int(r.SentRate), r
		}
		s.generatorLimited, s.done = true, true
		return
	}
	if r.Pass {
		if r.Rate > s.pass {
			s.pass, s.best = r.Rate, r
		}
	} else if s.fail == 0 || r.Rate < s.fail {
		s.fail = r.Rate
	}
	if s.fixed != nil {
		if s.steps >= len(s.fixed) {
			s.done = true
		} else {
			s.next = s.fixed[s.steps]
		}
		return
	}
	switch {
	case s.steps >= b.steps:
		s.done = true
	case s.fail == 0:
		s.next = roundRate(int(float64(r.Rate) * b.factor))
		if s.next > b.maxRate {
			s.done = true
		}
	case s.pass == 0:
		s.next = roundRate(int(float64(r.Rate) / b.factor))
		if s.next < 10_000 {
			s.done = true
		}
	default:
		s.bisections++
		s.next = roundRate(int(math.Sqrt(float64(s.pass) * float64(s.fail))))
		if s.bisections > b.bisections || s.next <= s.pass || s.next >= s.fail {
			s.done = true
		}
	}
}

func roundRate(r int) int { return max(1000, r/1000*1000) }

func (b *bench) run(ctx context.Context, targetNames, protocols []string, rateList string) error {
	all := map[string]target{}
	for _, t := range []target{sluiceRunTarget(), sluiceSplitTarget(), goflow2Target(), nfcapdTarget(), pmacctTarget()} {
		all[t.name] = t
	}
	var targets []target
	for _, n := range targetNames {
		t, ok := all[n]
		if !ok {
			return fmt.Errorf("--targets: unknown collector %q", n)
		}
		if n == "goflow2" && b.goflow2 == "" || n == "sluice-split" && b.kafka == "" {
			fmt.Fprintf(os.Stderr, "bench: skipping %s (not installed)\n", n)
			continue
		}
		targets = append(targets, t)
	}
	var fixed []int
	for _, r := range splitList(rateList) {
		v, err := strconv.Atoi(r)
		if err != nil || v <= 0 {
			return fmt.Errorf("--rates: %q is not a rate", r)
		}
		fixed = append(fixed, v)
	}
	b.runID = time.Now().Unix()
	if b.out == "" {
		b.out = filepath.Join("bench-results", time.Now().UTC().Format("20060102T150405Z"))
	}
	var err error
	// Absolute: each collector runs in its step's directory.
	if b.out, err = filepath.Abs(b.out); err != nil {
		return err
	}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return err
	}
	if b.sluice, err = filepath.Abs(b.sluice); err != nil {
		return err
	}
	if b.results, err = os.Create(filepath.Join(b.out, "steps.jsonl")); err != nil {
		return err
	}
	defer b.results.Close()
	fmt.Fprintf(os.Stderr, "bench: results in %s\n", b.out)

	var searches []*search
	for _, p := range protocols {
		for _, t := range targets {
			if !slices.Contains(t.protocols, p) {
				continue
			}
			start := b.startRate
			if start == 0 {
				start = b.startRates[t.name+"/"+p]
			}
			if start == 0 {
				start = b.startRates[t.name]
			}
			if start == 0 {
				start = 200_000
			}
			s := &search{target: t, protocol: p, next: start}
			if fixed != nil {
				s.fixed, s.next = fixed, fixed[0]
			}
			searches = append(searches, s)
		}
	}
	// Interleave: one step of every collector of a protocol, then the next round.
	for _, p := range protocols {
		for {
			progressed := false
			for _, s := range searches {
				if s.protocol != p || s.done {
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r := b.step(ctx, s.target, p, s.next)
				s.record(b, r)
				progressed = true
			}
			if !progressed {
				break
			}
		}
	}
	return b.summary(searches)
}

// step runs one collector at one rate: start it, send, wait until it has stored what it will,
// measure, stop it.
func (b *bench) step(ctx context.Context, t target, protocol string, rate int) *stepResult {
	b.stepCount++
	r := &stepResult{Target: t.name, Protocol: protocol, Rate: rate}
	env := &stepEnv{b: b, protocol: protocol, step: b.stepCount,
		dir: filepath.Join(b.out, fmt.Sprintf("%03d-%s-%s-%d", b.stepCount, t.name, protocol, rate))}
	defer func() {
		line, _ := json.Marshal(r)
		fmt.Fprintf(b.results, "%s\n", line)
		fmt.Fprintf(os.Stderr, "bench: %-12s %-8s %9d/s: sent %d stored %d (dup %d) loss %.4f%% drops %d cpu %.2fs (%.2f s/M) rss %d MiB rb %d MiB %s\n",
			t.name, protocol, rate, r.Sent, r.Stored, r.Duplicates, 100*r.Loss, r.KernelDrops, r.CPUSeconds, r.CPUPerMillion,
			r.PeakRSS>>20, r.ReceiveBuffer>>20, map[bool]string{true: "PASS", false: "FAIL " + r.Error}[r.Pass])
		// Only the last steps' data are worth keeping on disk; the logs stay.
		for _, d := range []string{"data", "collect", "pipeline", "nfcapd"} {
			os.RemoveAll(filepath.Join(env.dir, d))
		}
	}()
	if err := os.MkdirAll(env.dir, 0o755); err != nil {
		r.Error = err.Error()
		return r
	}
	in, err := t.start(ctx, env)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	stopped := false
	defer func() {
		if !stopped {
			in.stop()
		}
	}()
	r.ReceiveBuffer = receiveBuffer(in.port)
	before := in.usage()
	var kafkaBefore groupUsage
	if b.kafkaPID > 0 && t.name == "sluice-split" {
		kafkaBefore = usageOfGroup(b.kafkaPID)
	}
	baseline := uint64(0)
	if !in.afterStop {
		if baseline, err = in.stored(ctx); err != nil {
			r.Error = "baseline: " + err.Error()
			return r
		}
	}

	// Side jobs while sending: profiles, RSS samples.
	sideDone := make(chan struct{})
	sideCtx, stopSide := context.WithCancel(ctx)
	go func() {
		defer close(sideDone)
		if b.profile {
			r.Profiles = b.takeProfiles(sideCtx, env.dir, t.name)
		}
		if b.rssInterval > 0 {
			tick := time.NewTicker(b.rssInterval)
			defer tick.Stop()
			for {
				select {
				case <-sideCtx.Done():
					return
				case <-tick.C:
					r.RSSSamples = append(r.RSSSamples, in.usage().RSS)
				}
			}
		}
	}()
	sent, err := b.send(ctx, env, protocol, rate)
	stopSide()
	<-sideDone
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Sent, r.Datagrams = sent.Flows, sent.Datagrams
	r.SentRate = float64(sent.Flows) / sent.Seconds

	// Drain: until everything is stored, or nothing more arrives for a while.
	drainStart := time.Now()
	stored, err := b.drain(ctx, in, baseline, sent.Flows)
	r.DrainSeconds = time.Since(drainStart).Seconds()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if s, ok := udpSockets(in.port); ok {
		r.KernelDrops = s.drops
	}
	after := in.usage()
	// Counted after the CPU reading: the check is the benchmark's work, not the collector's.
	// Beyond maxDuplicateCheck records, uniqExact needs more than the SQL endpoint's 4 GiB.
	dupErr := ""
	if in.duplicates != nil && stored >= r.Sent && r.Sent <= maxDuplicateCheck {
		if r.Duplicates, err = in.duplicates(ctx); err != nil {
			dupErr = "duplicates: " + err.Error()
		}
	}
	r.CPUSeconds = after.CPUSeconds - before.CPUSeconds
	r.PeakRSS = after.PeakRSS
	if b.kafkaPID > 0 && t.name == "sluice-split" {
		r.KafkaCPU = usageOfGroup(b.kafkaPID).CPUSeconds - kafkaBefore.CPUSeconds
	}
	in.stop()
	stopped = true
	if in.afterStop {
		if stored, err = in.stored(ctx); err != nil {
			r.Error = err.Error()
			return r
		}
	}
	r.Stored = stored
	if r.Sent > 0 {
		r.Loss = (float64(r.Sent) - float64(r.Stored)) / float64(r.Sent)
		r.CPUPerMillion = r.CPUSeconds / (float64(r.Sent) / 1e6)
	}
	// A step passes when little is lost, nothing is counted twice, and the generator kept
	// close to the asked rate (else the rate was never really offered).
	r.Pass = r.Sent > 0 && r.Loss < b.maxLoss && r.Stored <= r.Sent && r.Duplicates == 0
	if r.SentRate < 0.95*float64(rate) {
		r.GeneratorLimited = true
		r.Error = fmt.Sprintf("generator reached only %.0f/s", r.SentRate)
	}
	if r.Stored > r.Sent || r.Duplicates > 0 {
		r.Error = fmt.Sprintf("records stored twice (%d repeat another)", r.Duplicates)
	}
	if dupErr != "" {
		r.Pass, r.Error = false, dupErr
	}
	return r
}

// maxDuplicateCheck is the most stored records the duplicate check reads (about 1 GiB of
// uniqExact state).
const maxDuplicateCheck = 20_000_000

// sendTotals is the part of `sluice demo --json` the benchmark reads.
type sendTotals struct {
	Flows     uint64  `json:"flows"`
	Datagrams uint64  `json:"datagrams"`
	Seconds   float64 `json:"seconds"`
	Complete  bool    `json:"complete"`
}

// send runs the load generator for one step.
func (b *bench) send(ctx context.Context, env *stepEnv, protocol string, rate int) (sendTotals, error) {
	statsFile := filepath.Join(env.dir, "sent.json")
	cmd := exec.CommandContext(ctx, b.sluice, "demo",
		"--target", addr(netflowPort), "--sflow-target", addr(sflowPort),
		"--protocols", protocol, "--exporters", strconv.Itoa(b.exporters), "--bind-sources",
		"--pool", "1024", "--send-batch", "64", "--pacing-interval", "1ms",
		"--template-refresh", "1s", "--counter-interval", "0", "--interface-names=false", "--rate", strconv.Itoa(rate), "--duration", b.duration.String(),
		"--quiet", "--stats-file", statsFile)
	out, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(env.dir, "demo.log"), out, 0o644)
	if err != nil {
		return sendTotals{}, fmt.Errorf("load generator: %w: %s", err, strings.TrimSpace(string(out)))
	}
	data, err := os.ReadFile(statsFile)
	if err != nil {
		return sendTotals{}, err
	}
	var t sendTotals
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("%s: %w", statsFile, err)
	}
	if !t.Complete {
		return t, errors.New("load generator did not complete")
	}
	return t, nil
}

// drain waits until the collector has stored what it will, for at most --max-drain: what a
// collector has not stored by then it was buffering, not keeping up with, and counts as lost.
// For collectors counted while running: until stored reaches sent. For those counted after
// stop: until their socket is empty and their CPU time stops growing.
func (b *bench) drain(ctx context.Context, in *instance, baseline, sent uint64) (uint64, error) {
	start := time.Now()
	var last uint64
	lastCPU := -1.0
	for {
		if in.afterStop {
			s, _ := udpSockets(in.port)
			cpu := in.usage().CPUSeconds
			if s.rxQueue == 0 && cpu == lastCPU && time.Since(start) > 500*time.Millisecond {
				return 0, nil
			}
			lastCPU = cpu
		} else {
			n, err := in.stored(ctx)
			if err != nil {
				return 0, err
			}
			n -= baseline
			if n >= sent {
				return n, nil
			}
			last = n
		}
		if time.Since(start) >= b.maxDrain {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// takeProfiles fetches, from each sluice process of the target, a CPU profile over most of
// the sending time, then its allocations since start, from /debug/pprof.
func (b *bench) takeProfiles(ctx context.Context, dir, target string) string {
	processes := map[string][]struct {
		name string
		port int
	}{
		"sluice-run":   {{"run", httpPort}},
		"sluice-split": {{"collect", collectHTTPPort}, {"pipeline", httpPort}},
	}[target]
	seconds := max(1, int(b.duration.Seconds()*0.8))
	saved := make(chan string, 2*len(processes))
	done := make(chan struct{})
	for _, proc := range processes {
		go func() {
			defer func() { done <- struct{}{} }()
			base := "http://" + addr(proc.port) + "/debug/pprof/"
			for _, p := range []struct{ name, path string }{
				{proc.name + "-cpu.pprof", fmt.Sprintf("profile?seconds=%d", seconds)},
				{proc.name + "-allocs.pprof", "allocs"},
			} {
				body, err := httpGet(ctx, base+p.path)
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: profile %s: %v\n", p.name, err)
					continue
				}
				path := filepath.Join(dir, p.name)
				if os.WriteFile(path, []byte(body), 0o644) == nil {
					saved <- path
				}
			}
		}()
	}
	for range processes {
		<-done
	}
	close(saved)
	var paths []string
	for p := range saved {
		paths = append(paths, p)
	}
	return strings.Join(paths, ",")
}

// summaryRow is one line of summary.json.
type summaryRow struct {
	Target   string      `json:"target"`
	Protocol string      `json:"protocol"`
	MaxRate  int         `json:"max_rate"`  // highest passing rate, 0 if none
	FailRate int         `json:"fail_rate"` // lowest failing rate, 0 if none failed
	Best     *stepResult `json:"best,omitempty"`
}

// rateFromSummary reads the highest passing rate of target and protocol from a summary.json
// and returns fraction of it.
func rateFromSummary(path, target, protocol string, fraction float64) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var rows []summaryRow
	if err := json.Unmarshal(data, &rows); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range rows {
		if r.Target == target && r.Protocol == protocol && r.MaxRate > 0 {
			return roundRate(int(float64(r.MaxRate) * fraction)), nil
		}
	}
	return 0, fmt.Errorf("%s: no passing rate for %s %s", path, target, protocol)
}

// summary prints the table of the highest passing rate of each collector and protocol.
func (b *bench) summary(searches []*search) error {
	var rows []summaryRow
	var md strings.Builder
	fmt.Fprintf(&md, "| collector | protocol | records/s at < %.1f %% loss | first failing rate | CPU s per million records | peak RSS | socket buffer (rb) |\n", b.maxLoss*100)
	fmt.Fprintf(&md, "| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range searches {
		rw := summaryRow{Target: s.target.name, Protocol: s.protocol, MaxRate: s.pass, FailRate: s.fail, Best: s.best}
		rows = append(rows, rw)
		failing := "—"
		if s.fail > 0 {
			failing = fmt.Sprintf("%d", s.fail)
		}
		if s.best == nil {
			fmt.Fprintf(&md, "| %s | %s | none passed | %s | — | — | — |\n", s.target.name, s.protocol, failing)
			continue
		}
		cpu := fmt.Sprintf("%.2f", s.best.CPUPerMillion)
		if s.best.KafkaCPU > 0 {
			cpu += fmt.Sprintf(" (+ Kafka %.2f)", s.best.KafkaCPU/(float64(s.best.Sent)/1e6))
		}
		rate := fmt.Sprintf("%d", s.pass)
		switch {
		case s.generatorLimited:
			rate = fmt.Sprintf("≥ %d (all the generator sent)", s.pass)
		case s.fail == 0:
			rate = fmt.Sprintf("≥ %d (no step failed)", s.pass)
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %d MiB | %d MiB |\n", s.target.name, s.protocol, rate, failing,
			cpu, s.best.PeakRSS>>20, s.best.ReceiveBuffer>>20)
	}
	md.WriteString(goalRatios(searches))
	for _, s := range searches {
		if s.last != nil && len(s.last.RSSSamples) > 0 {
			md.WriteString(rssReport(s.last, int(rssWarmUp/b.rssInterval)))
		}
	}
	data, _ := json.MarshalIndent(rows, "", "  ")
	if err := os.WriteFile(filepath.Join(b.out, "summary.json"), data, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.out, "summary.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	return nil
}

// rssWarmUp is the start of a flatness run left out of its mean: the goal is ± 10 %
// after the first two minutes, while the queues, caches and heap grow to their working size.
const rssWarmUp = 2 * time.Minute

// rssReport describes the resident set samples of a long step: every sample, and how far the
// samples after the first warmUp of them stray from their mean (the flatness goal is ± 10 %).
func rssReport(r *stepResult, warmUp int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nRSS of %s (%s, %d records/s, %.3f %% lost), MiB, one sample per interval:", r.Target, r.Protocol, r.Rate, 100*r.Loss)
	for _, v := range r.RSSSamples {
		fmt.Fprintf(&b, " %d", v>>20)
	}
	b.WriteString("\n")
	skip := max(0, min(len(r.RSSSamples)-1, warmUp))
	tail := r.RSSSamples[skip:]
	var sum, lo, hi float64
	lo = math.Inf(1)
	for _, v := range tail {
		f := float64(v)
		sum += f
		lo, hi = min(lo, f), max(hi, f)
	}
	mean := sum / float64(len(tail))
	fmt.Fprintf(&b, "after the first %d samples: mean %.0f MiB, min %.1f %%, max %+.1f %% of the mean\n",
		skip, mean/(1<<20), 100*(lo-mean)/mean, 100*(hi-mean)/mean)
	return b.String()
}

// goalRatios compares, per protocol, the rate sluice sustained end to end (both deployments)
// with goflow2's and nfcapd's, the goals being at least 5× goflow2 and 1× nfcapd. A
// peer that never failed gives a lower bound, so the ratio is then an upper bound (≤).
func goalRatios(searches []*search) string {
	find := func(target, protocol string) *search {
		for _, s := range searches {
			if s.target.name == target && s.protocol == protocol {
				return s
			}
		}
		return nil
	}
	var b strings.Builder
	for _, p := range allProtocols {
		for _, own := range []string{"sluice-run", "sluice-split"} {
			o := find(own, p)
			if o == nil {
				continue
			}
			for _, peer := range []struct {
				name string
				goal float64
			}{{"goflow2", 5}, {"nfcapd", 1}} {
				q := find(peer.name, p)
				if q == nil || q.pass == 0 {
					continue
				}
				ownOpen := o.fail == 0 || o.generatorLimited // sluice's rate is a lower bound
				peerOpen := q.fail == 0 || q.generatorLimited
				ratio := float64(o.pass) / float64(q.pass)
				bound, verdict := "", "met"
				switch {
				case ownOpen && peerOpen:
					bound, verdict = "~ ", "undecided: neither failed"
				case peerOpen: // the ratio is at most this
					bound, verdict = "≤ ", "missed"
					if ratio >= peer.goal {
						verdict = "undecided"
					}
				case ownOpen: // the ratio is at least this
					bound = "≥ "
					if ratio < peer.goal {
						verdict = "undecided"
					}
				case ratio < peer.goal:
					verdict = "missed"
				}
				fmt.Fprintf(&b, "- %s, %s / %s: %s%.2f× (goal ≥ %g×: %s)\n", p, own, peer.name, bound, ratio, peer.goal, verdict)
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nAgainst the goals, from this run:\n\n" + b.String()
}
