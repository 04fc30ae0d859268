package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Loopback ports of the collector under test; one collector runs at a time.
const (
	netflowPort     = 39155
	sflowPort       = 39163
	httpPort        = 39180 // sluice run / sluice pipeline (SQL), goflow2 metrics
	collectHTTPPort = 39181 // sluice collect
)

// target is one collector the benchmark drives.
type target struct {
	name      string
	protocols []string // the demo protocol names it accepts
	start     func(ctx context.Context, env *stepEnv) (*instance, error)
}

// stepEnv is what a target needs for one step: fresh directories and the run's settings.
type stepEnv struct {
	b        *bench
	dir      string // this step's directory: data, logs
	protocol string
	step     int
}

// instance is one running collector.
type instance struct {
	procs []*exec.Cmd // each leads its own process group
	// stored reads how many records the collector has stored so far. With afterStop, it is
	// only meaningful once stop has returned (nfcapd closes its file then).
	stored func(ctx context.Context) (uint64, error)
	// duplicates, when set, counts stored records that repeat another one (the same exporter,
	// source address and source port, which the generator makes unique).
	duplicates func(ctx context.Context) (uint64, error)
	afterStop  bool
	port       int // the UDP port the protocol under test goes to
	stopWait   time.Duration
}

// usage sums the process groups of the instance.
func (in *instance) usage() groupUsage {
	var u groupUsage
	for _, p := range in.procs {
		g := usageOfGroup(p.Process.Pid)
		u.CPUSeconds += g.CPUSeconds
		u.PeakRSS += g.PeakRSS
		u.RSS += g.RSS
		u.Processes += g.Processes
	}
	return u
}

// stop ends the processes, last started first (a pipeline before its collector would do as
// well: both stop cleanly): SIGTERM to the group, SIGKILL once stopWait has passed.
func (in *instance) stop() {
	for i := len(in.procs) - 1; i >= 0; i-- {
		stopGroup(in.procs[i], in.stopWait)
	}
}

func stopGroup(cmd *exec.Cmd, wait time.Duration) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// A forked child (pmacct's plugin) may outlive its parent: end the group for good.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// startProcess starts name in its own process group, logging to dir/log.
func startProcess(env *stepEnv, log string, name string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(env.dir, log))
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child holds its own descriptor
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = env.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return cmd, nil
}

// waitFor polls ready until it is true, the process exits or timeout passes.
func waitFor(ctx context.Context, what string, cmd *exec.Cmd, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ready() {
			return nil
		}
		if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
			return fmt.Errorf("%s exited before it was ready", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s", what, timeout)
}

func httpOK(rawURL string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(rawURL)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func httpGet(ctx context.Context, rawURL string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", rawURL, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

func portBound(port int) bool {
	_, ok := udpSockets(port)
	return ok
}

func portOf(protocol string) int {
	if protocol == "sflow5" {
		return sflowPort
	}
	return netflowPort
}

// sluiceConfig writes the YAML every sluice process of the run shares: the benchmark's socket
// buffer on both inputs, and short flush timers, which let the end of a step reach the store
// within the drain limit instead of up to 3 s later (1 s collector, 2 s pipeline by default).
//
// The split deployment's topic has 2 partitions, one per core, for its one pipeline worker:
// the worker stores each partition's batch as an insert of its own, so with the default 8
// partitions it would make 16 inserts a second of a few thousand rows each, every one paying
// the embedded engine's fixed cost of about 30 ms (a part for the table and each view).
func sluiceConfig(env *stepEnv) (string, error) {
	path := filepath.Join(env.dir, "sluice.yaml")
	cfg := fmt.Sprintf(`collector:
  netflow:
    receive-buffer: %d
  sflow:
    receive-buffer: %d
  flush-interval: 250ms
pipeline:
  flush-interval: 500ms
kafka:
  topic-partitions: 2
detect:
  enabled: %t
`, env.b.receiveBuffer, env.b.receiveBuffer, env.b.detect)
	if env.b.longInterval > 0 {
		cfg += fmt.Sprintf("  long-interval: %s\n", env.b.longInterval)
	}
	for _, name := range env.b.detectOff {
		cfg += fmt.Sprintf("  %s: {enabled: false}\n", name)
	}
	if env.b.queueBatches > 0 || env.b.queueOverflow >= 0 {
		cfg += "queue:\n"
		if env.b.queueBatches > 0 {
			cfg += fmt.Sprintf("  batches: %d\n", env.b.queueBatches)
		}
		if env.b.queueOverflow >= 0 {
			cfg += fmt.Sprintf("  overflow: {max-bytes: %d}\n", env.b.queueOverflow)
		}
	}
	cfg += "status-interval: 0s\n"
	return path, os.WriteFile(path, []byte(cfg), 0o644)
}

// sluiceCount asks a sluice's SQL endpoint how many flows are stored.
func sluiceCount(httpAddr string) func(ctx context.Context) (uint64, error) {
	return sluiceQuery(httpAddr, "SELECT count() FROM sluice.flows")
}

// sluiceDuplicates counts the stored flows whose (exporter, source address, source port)
// another stored flow has already.
func sluiceDuplicates(httpAddr string) func(ctx context.Context) (uint64, error) {
	return sluiceQuery(httpAddr, "SELECT count() - uniqExact(ExporterAddress, SrcAddr, SrcPort) FROM sluice.flows")
}

// sluiceQuery runs a query answering one number on a sluice's SQL endpoint.
func sluiceQuery(httpAddr, query string) func(ctx context.Context) (uint64, error) {
	u := "http://" + httpAddr + "/api/v1/sql?format=TSV&query=" + url.QueryEscape(query)
	return func(ctx context.Context) (uint64, error) {
		body, err := httpGet(ctx, u)
		if err != nil {
			return 0, err
		}
		return strconv.ParseUint(strings.TrimSpace(body), 10, 64)
	}
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

var allProtocols = []string{"netflow5", "netflow9", "ipfix", "sflow5"}

func sluiceRunTarget() target {
	return target{name: "sluice-run", protocols: allProtocols, start: func(ctx context.Context, env *stepEnv) (*instance, error) {
		cfg, err := sluiceConfig(env)
		if err != nil {
			return nil, err
		}
		cmd, err := startProcess(env, "sluice-run.log", env.b.sluice, "run", "--config", cfg,
			"--data", filepath.Join(env.dir, "data"), "--http", addr(httpPort),
			"--netflow-listen", addr(netflowPort), "--sflow-listen", addr(sflowPort))
		if err != nil {
			return nil, err
		}
		in := &instance{procs: []*exec.Cmd{cmd}, stored: sluiceCount(addr(httpPort)), duplicates: sluiceDuplicates(addr(httpPort)),
			port: portOf(env.protocol), stopWait: 60 * time.Second}
		if err := waitFor(ctx, "sluice run", cmd, 60*time.Second, func() bool { return httpOK("http://" + addr(httpPort) + "/readyz") }); err != nil {
			in.stop()
			return nil, err
		}
		return in, nil
	}}
}

func sluiceSplitTarget() target {
	return target{name: "sluice-split", protocols: allProtocols, start: func(ctx context.Context, env *stepEnv) (*instance, error) {
		if env.b.kafka == "" {
			return nil, errors.New("no Kafka broker (--kafka)")
		}
		cfg, err := sluiceConfig(env)
		if err != nil {
			return nil, err
		}
		// A topic and a group of their own: nothing left from an earlier step is counted.
		topic := fmt.Sprintf("bench-%d-%d", env.b.runID, env.step)
		collect, err := startProcess(env, "sluice-collect.log", env.b.sluice, "collect", "--config", cfg,
			"--data", filepath.Join(env.dir, "collect"), "--http", addr(collectHTTPPort),
			"--netflow-listen", addr(netflowPort), "--sflow-listen", addr(sflowPort),
			"--kafka-brokers", env.b.kafka, "--kafka-topic", topic)
		if err != nil {
			return nil, err
		}
		in := &instance{procs: []*exec.Cmd{collect}, stored: sluiceCount(addr(httpPort)), duplicates: sluiceDuplicates(addr(httpPort)),
			port: portOf(env.protocol), stopWait: 60 * time.Second}
		if err := waitFor(ctx, "sluice collect", collect, 60*time.Second, func() bool { return httpOK("http://" + addr(collectHTTPPort) + "/readyz") }); err != nil {
			in.stop()
			return nil, err
		}
		pipeline, err := startProcess(env, "sluice-pipeline.log", env.b.sluice, "pipeline", "--config", cfg,
			"--data", filepath.Join(env.dir, "pipeline"), "--http", addr(httpPort),
			"--kafka-brokers", env.b.kafka, "--kafka-topic", topic, "--kafka-group", topic)
		if err != nil {
			in.stop()
			return nil, err
		}
		in.procs = append(in.procs, pipeline)
		if err := waitFor(ctx, "sluice pipeline", pipeline, 90*time.Second, func() bool { return httpOK("http://" + addr(httpPort) + "/readyz") }); err != nil {
			in.stop()
			return nil, err
		}
		return in, nil
	}}
}

func goflow2Target() target {
	return target{name: "goflow2", protocols: allProtocols, start: func(ctx context.Context, env *stepEnv) (*instance, error) {
		if env.b.goflow2 == "" {
			return nil, errors.New("goflow2 not installed (--goflow2)")
		}
		cmd, err := startProcess(env, "goflow2.log", env.b.goflow2,
			"-listen", fmt.Sprintf("netflow://%s,sflow://%s", addr(netflowPort), addr(sflowPort)),
			"-format", "bin", "-transport", "file", "-transport.file", "/dev/null",
			"-addr", addr(httpPort), "-loglevel", "warn")
		if err != nil {
			return nil, err
		}
		metrics := "http://" + addr(httpPort) + "/metrics"
		in := &instance{procs: []*exec.Cmd{cmd}, port: portOf(env.protocol), stopWait: 10 * time.Second,
			stored: func(ctx context.Context) (uint64, error) {
				body, err := httpGet(ctx, metrics)
				if err != nil {
					return 0, err
				}
				return goflow2Records(body), nil
			}}
		if err := waitFor(ctx, "goflow2", cmd, 30*time.Second, func() bool {
			return httpOK(metrics) && portBound(netflowPort) && portBound(sflowPort)
		}); err != nil {
			in.stop()
			return nil, err
		}
		return in, nil
	}}
}

// goflow2Records sums, from goflow2's Prometheus metrics, the flow records its producer turned
// into messages for the output: data records of NetFlow v9 and IPFIX data sets, NetFlow v5
// records (goflow2 counts them as its "flowset" sum), and sFlow flow samples. Datagrams dropped
// before decoding, and records of unknown templates, are not counted.
func goflow2Records(metrics string) uint64 {
	var total float64
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		counted := strings.HasPrefix(line, "goflow2_flow_process_nf_flowset_records_total{") &&
			strings.Contains(line, `type="DataFlowSet"`) && !strings.Contains(line, `version="5"`) ||
			strings.HasPrefix(line, "goflow2_flow_process_nf_flowset_total{") &&
				strings.Contains(line, `type="DataFlowSet"`) && strings.Contains(line, `version="5"`) ||
			strings.HasPrefix(line, "goflow2_flow_process_sf_samples_total{") &&
				strings.Contains(line, `type="FlowSample"`)
		if !counted {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			total += v
		}
	}
	return uint64(total)
}

func nfcapdTarget() target {
	return target{name: "nfcapd", protocols: []string{"netflow5", "netflow9", "ipfix"}, start: func(ctx context.Context, env *stepEnv) (*instance, error) {
		flows := filepath.Join(env.dir, "nfcapd")
		if err := os.MkdirAll(flows, 0o755); err != nil {
			return nil, err
		}
		// -t 3600: one file for the step; -B: the benchmark's socket buffer.
		cmd, err := startProcess(env, "nfcapd.log", "nfcapd", "-b", "127.0.0.1", "-p", strconv.Itoa(netflowPort),
			"-w", flows, "-B", strconv.Itoa(env.b.receiveBuffer), "-t", "3600", "-I", "bench")
		if err != nil {
			return nil, err
		}
		in := &instance{procs: []*exec.Cmd{cmd}, port: netflowPort, afterStop: true, stopWait: 30 * time.Second,
			stored: func(ctx context.Context) (uint64, error) { return nfdumpFlows(ctx, flows) }}
		if err := waitFor(ctx, "nfcapd", cmd, 10*time.Second, func() bool { return portBound(netflowPort) }); err != nil {
			in.stop()
			return nil, err
		}
		return in, nil
	}}
}

// nfdumpFlows reads the records nfcapd wrote to its files: `nfdump -I` prints the statistics
// record of each file, which counts the records stored in it.
func nfdumpFlows(ctx context.Context, dir string) (uint64, error) {
	out, err := exec.CommandContext(ctx, "nfdump", "-R", dir, "-I").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("nfdump -R %s -I: %w: %s", dir, err, out)
	}
	return parseNfdumpFlows(out)
}

// parseNfdumpFlows sums the "Flows:" lines of `nfdump -I`.
func parseNfdumpFlows(out []byte) (uint64, error) {
	var total uint64
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Flows: "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("nfdump -I: %q: %w", line, err)
			}
			total += n
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("nfdump -I printed no Flows line: %s", out)
	}
	return total, nil
}

func pmacctTarget() target {
	return target{name: "pmacct", protocols: allProtocols, start: func(ctx context.Context, env *stepEnv) (*instance, error) {
		daemon, key, port := "nfacctd", "nfacctd", netflowPort
		if env.protocol == "sflow5" {
			daemon, key, port = "sfacctd", "sfacctd", sflowPort
		}
		pipe := filepath.Join(env.dir, "pmacct.pipe")
		conf := filepath.Join(env.dir, daemon+".conf")
		// The memory plugin keeps one entry per exporter with its flow count; the plugin pipe is
		// pmacct's advice for high rates (CONFIG-KEYS, plugin_pipe_size), so that the core
		// process does not drop on its way to the plugin.
		text := fmt.Sprintf(`daemonize: false
%[1]s_ip: 127.0.0.1
%[1]s_port: %[2]d
%[1]s_pipe_size: %[3]d
plugins: memory
aggregate: peer_src_ip, flows
imt_path: %[4]s
plugin_pipe_size: 102400000
plugin_buffer_size: 102400
`, key, port, env.b.receiveBuffer, pipe)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, err
		}
		cmd, err := startProcess(env, daemon+".log", daemon, "-f", conf)
		if err != nil {
			return nil, err
		}
		// pmacct's core ignores SIGTERM while its plugin runs; it is counted before it stops.
		in := &instance{procs: []*exec.Cmd{cmd}, port: port, stopWait: time.Second,
			stored: func(ctx context.Context) (uint64, error) { return pmacctFlows(ctx, pipe, env.protocol == "sflow5") }}
		if err := waitFor(ctx, daemon, cmd, 10*time.Second, func() bool {
			_, err := pmacctFlows(ctx, pipe, false)
			return portBound(port) && err == nil
		}); err != nil {
			in.stop()
			return nil, err
		}
		return in, nil
	}}
}

// pmacctFlows sums what pmacct's memory plugin accounted: the FLOWS column (NetFlow/IPFIX
// records), or for sFlow, where each flow sample is one sampled packet, the PACKETS column.
func pmacctFlows(ctx context.Context, pipe string, packets bool) (uint64, error) {
	// Read under heavy load, pmacct 1.7.7's memory table has been seen to answer a counter
	// of 4e18 once: read again, up to three times, when a sum is beyond any possible count.
	var n uint64
	var err error
	for range 3 {
		if n, err = pmacctRead(ctx, pipe, packets); err != nil || n < 1<<40 {
			return n, err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("pmacct -p %s -s: implausible count %d three times", pipe, n)
}

func pmacctRead(ctx context.Context, pipe string, packets bool) (uint64, error) {
	out, err := exec.CommandContext(ctx, "pmacct", "-p", pipe, "-s", "-O", "csv").Output()
	if err != nil {
		return 0, fmt.Errorf("pmacct -p %s -s: %w", pipe, err)
	}
	return parsePmacctCSV(out, packets)
}

// parsePmacctCSV sums the FLOWS column (or PACKETS) of `pmacct -s -O csv`.
func parsePmacctCSV(out []byte, packets bool) (uint64, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "PEER_SRC_IP,") {
		return 0, fmt.Errorf("pmacct -s: unexpected output %q", out)
	}
	header := strings.Split(lines[0], ",")
	col := -1
	for i, h := range header {
		if packets && h == "PACKETS" || !packets && h == "FLOWS" {
			col = i
		}
	}
	if col < 0 {
		return 0, fmt.Errorf("pmacct -s: no column for the count in %q", lines[0])
	}
	var total uint64
	for _, line := range lines[1:] {
		f := strings.Split(line, ",")
		if col < len(f) {
			n, err := strconv.ParseUint(strings.TrimSpace(f[col]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("pmacct -s: %q: %w", line, err)
			}
			total += n
		}
	}
	return total, nil
}
