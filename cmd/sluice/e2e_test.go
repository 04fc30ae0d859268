package main

// End-to-end tests of `sluice run`: the real binary, real UDP datagrams, the
// embedded ClickHouse engine, answers read back over the SQL endpoint. The
// datagrams come from the demo exporter (an encoder written from the RFCs,
// independent of the decoders under test, and itself checked against tshark
// in its own tests) and from real captures of ../shared/corpus.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/demo"
	"sluice/internal/pcap"
	"sluice/internal/testenv"
)

func requireChdb(t *testing.T) {
	t.Helper()
	testenv.SkipIfShort(t, "end-to-end test")
	lib := os.Getenv("CHDB_LIB_PATH")
	if lib == "" {
		testenv.Missing(t, "libchdb (CHDB_LIB_PATH)")
	}
	if _, err := os.Stat(lib); err != nil {
		testenv.Missing(t, "libchdb at "+lib)
	}
}

var (
	buildOnce sync.Once
	builtDir  string // removed by TestMain
	builtBin  string
	buildErr  error
)

// sluiceBinary builds cmd/sluice once per test run.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtDir, builtBin = dir, filepath.Join(dir, "sluice")
		// -buildvcs=auto as make build: a GOFLAGS=-buildvcs=false must not
		// hide the revision. Where git refuses the checkout (another
		// user's, "dubious ownership"), build without it, as make build does.
		build := func(vcs string) ([]byte, error) {
			args := []string{"build", "-buildvcs=" + vcs, "-o", builtBin}
			if raceEnabled {
				args = append(args, "-race")
			}
			return exec.Command("go", append(args, ".")...).CombinedOutput()
		}
		out, err := build("auto")
		if err != nil && strings.Contains(string(out), "error obtaining VCS status") {
			out, err = build("false")
		}
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freePort finds a free loopback port for network "udp" or "tcp".
func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// instance is one running `sluice run`.
type instance struct {
	*process
	data    string
	netflow string
	sflow   string
}

// startSluice starts `sluice run` on free loopback ports over data and waits
// until /readyz answers. A port found free can be taken by another test
// process before sluice binds it: then it tries again with other ports.
func startSluice(t *testing.T, data string, extra ...string) *instance {
	t.Helper()
	for attempt := 1; ; attempt++ {
		in := &instance{
			data:    data,
			netflow: fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp")),
			sflow:   fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp")),
		}
		args := append([]string{"run", "--data", data,
			"--netflow-listen", in.netflow, "--sflow-listen", in.sflow}, extra...)
		p, err := startProcess(t, "run", fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), args...)
		if err == nil {
			in.process = p
			return in
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() { in.t.Helper(); in.term() }

// sql runs a query through the HTTP SQL endpoint, as `sluice sql` does.
func (in *instance) sql(query, format string) string {
	in.t.Helper()
	var out bytes.Buffer
	err := cmdSQL(context.Background(), []string{"--addr", "http://" + in.http, "--format", format, query}, &out)
	if err != nil {
		in.t.Fatalf("sql %q: %v", query, err)
	}
	return out.String()
}

func (in *instance) count(where string) uint64 {
	in.t.Helper()
	q := "SELECT count() FROM flows"
	if where != "" {
		q += " WHERE " + where
	}
	n, err := strconv.ParseUint(strings.TrimSpace(in.sql(q, "TSV")), 10, 64)
	if err != nil {
		in.t.Fatal(err)
	}
	return n
}

// metrics returns the value of every series of /metrics whose name starts
// with prefix, keyed by the series as printed (name{labels}).
func (in *instance) metrics(prefix string) map[string]float64 {
	in.t.Helper()
	resp, err := http.Get("http://" + in.http + "/metrics")
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// sender sends datagrams to the instance from a given loopback source
// address, pacing itself so the test never depends on socket buffer sizes.
type sender struct {
	t     *testing.T
	conns map[string]*net.UDPConn
	sent  int
}

func newSender(t *testing.T) *sender {
	s := &sender{t: t, conns: map[string]*net.UDPConn{}}
	t.Cleanup(func() {
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *sender) send(from netip.Addr, to string, payload []byte) {
	s.t.Helper()
	key := from.String() + ">" + to
	c := s.conns[key]
	if c == nil {
		raddr, err := net.ResolveUDPAddr("udp", to)
		if err != nil {
			s.t.Fatal(err)
		}
		c, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), raddr)
		if err != nil {
			s.t.Fatalf("bind %s: %v", from, err)
		}
		s.conns[key] = c
	}
	if _, err := c.Write(payload); err != nil {
		s.t.Fatal(err)
	}
	s.sent++
	if s.sent%50 == 0 {
		time.Sleep(2 * time.Millisecond)
	}
}

// expectedRow is how a demo flow must read back from ClickHouse, as TSV.
func expectedRow(f *demo.Flow, exporter netip.Addr) string {
	mapped := func(a netip.Addr) string {
		if !a.IsValid() {
			return "::"
		}
		if a.Is4() {
			return "::ffff:" + a.String()
		}
		return a.String()
	}
	flowType := map[string]string{demo.NetFlow5: "NetFlowV5", demo.NetFlow9: "NetFlowV9", demo.IPFIX: "IPFIX", demo.SFlow5: "SFlowV5"}[f.Protocol]
	start, end := f.Start.UnixMilli(), f.End.UnixMilli()
	bytes, srcPort, dstPort := f.Bytes, f.SrcPort, f.DstPort
	srcAS, dstAS := f.SrcAS, f.DstAS
	if f.Protocol == demo.SFlow5 {
		// An empty AS in sFlow's extended gateway record means the router's
		// own AS (the demo's is 65001), which sluice stores, as Akvorado does.
		const demoRouterAS = 65001
		if srcAS == 0 {
			srcAS = demoRouterAS
		}
		if dstAS == 0 {
			dstAS = demoRouterAS
		}
		start, end = 0, 0 // sFlow carries no flow times: checked apart
		// sluice counts an sFlow sample's IP length, as NetFlow counts
		// bytes, not the frame: the demo frames carry an 802.1Q tag and
		// count the FCS.
		bytes -= 14 + 4 + 4
		if f.IPProto == 1 || f.IPProto == 58 {
			srcPort, dstPort = 0, 0 // read from the ICMP header, not ports
		}
	}
	return strings.Join([]string{
		flowType, mapped(exporter), strconv.FormatUint(uint64(f.SamplingRate), 10),
		mapped(f.SrcAddr), mapped(f.DstAddr),
		strconv.Itoa(int(srcPort)), strconv.Itoa(int(dstPort)), strconv.Itoa(int(f.IPProto)),
		strconv.Itoa(int(f.ICMPType)), strconv.Itoa(int(f.ICMPCode)),
		strconv.FormatUint(bytes, 10), strconv.FormatUint(f.Packets, 10),
		strconv.FormatUint(uint64(f.InIf), 10), strconv.FormatUint(uint64(f.OutIf), 10),
		strconv.FormatUint(uint64(srcAS), 10), strconv.FormatUint(uint64(dstAS), 10),
		strconv.Itoa(int(f.TCPFlags)), strconv.Itoa(int(f.TOS)),
		strconv.FormatInt(start, 10), strconv.FormatInt(end, 10),
	}, "\t")
}

const rowQuery = `SELECT FlowType, ExporterAddress, SamplingRate, SrcAddr, DstAddr, SrcPort, DstPort, Proto,
	ICMPType, ICMPCode, Bytes, Packets, InIfIndex, OutIfIndex, SrcAS, DstAS, TCPFlags, IPTos,
	if(FlowType = 'SFlowV5', 0, toUnixTimestamp64Milli(TimeFlowStart)),
	if(FlowType = 'SFlowV5', 0, toUnixTimestamp64Milli(TimeFlowEnd))
	FROM flows WHERE %s ORDER BY ALL`

// malformed are datagrams that must be counted by reason and never get in
// the way of good traffic.
var malformed = []struct {
	name, protocol, reason string
	payload                []byte
}{
	{"netflow v9 header cut short", "netflow", "truncated", []byte{0, 9, 0, 1, 0, 0, 0, 1, 0, 0}},
	{"unknown version", "unknown", "unknown_version", append([]byte{0, 7}, make([]byte, 40)...)},
	{"garbage", "unknown", "unknown_version", []byte("\xde\xad\xbe\xefnot a flow export at all")},
	{"empty", "unknown", "unknown_version", nil},
	// A NetFlow v9 data set (ID 300) from a source ID no template was ever sent for.
	{"data before template", "netflow", "template_not_found", []byte{
		0, 9, 0, 1, 0, 0, 0x10, 0, 0x65, 0x1f, 0x5c, 0, 0, 0, 0, 1, 0, 0, 0xbe, 0xef,
		0x01, 0x2c, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8}},
}

// TestRunEndToEnd sends NetFlow v5, v9, IPFIX and sFlow v5 from the demo
// exporter, mixed with malformed datagrams, stops sluice with SIGTERM right
// after the last datagram, restarts it and expects every flow stored with
// exact fields and exact totals.
func TestRunEndToEnd(t *testing.T) {
	requireChdb(t)
	data := t.TempDir()
	in := startSluice(t, data)

	cfg := demo.DefaultConfig()
	cfg.Protocols = []string{demo.NetFlow9, demo.IPFIX, demo.SFlow5, demo.NetFlow5}
	cfg.Exporters = 3
	cfg.Seed = 42
	cfg.BindSources = true // each exporter from its own 127.0.1.N
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	s := newSender(t)
	datagrams := 0
	emit := func(d *demo.Datagram) error {
		target := in.netflow
		if d.Protocol == demo.SFlow5 {
			target = in.sflow
		}
		s.send(d.Source, target, d.Payload)
		for i := range d.Flows {
			// NetFlow and IPFIX: the UDP source; sFlow: the agent address.
			// Both are the simulated exporter's own address.
			want = append(want, expectedRow(&d.Flows[i], d.Source))
		}
		// Every fifth datagram, a bad one from the same exporter, on either
		// port: good datagrams around it must not suffer.
		if datagrams++; datagrams%5 == 0 {
			bad := malformed[(datagrams/5)%len(malformed)]
			s.send(d.Source, []string{in.netflow, in.sflow}[datagrams%2], bad.payload)
		}
		return nil
	}
	const flows = 4000
	if err := gen.Generate(time.Now(), flows, emit); err != nil {
		t.Fatal(err)
	}
	if err := gen.Flush(time.Now(), emit); err != nil {
		t.Fatal(err)
	}
	for _, bad := range malformed { // each kind at least once
		s.send(netip.MustParseAddr("127.0.0.1"), in.netflow, bad.payload)
	}
	stats := gen.Stats()
	if stats.Flows != flows || len(want) != flows {
		t.Fatalf("generator sent %d flows, recorded %d, want %d", stats.Flows, len(want), flows)
	}

	// Every malformed kind is counted by its reason.
	testenv.EventuallyState(t, 30*time.Second, "every malformed kind counted", func() (bool, string) {
		m := in.metrics("sluice_collector_decode_errors_total")
		missing := ""
		for _, bad := range malformed {
			key := fmt.Sprintf(`sluice_collector_decode_errors_total{protocol=%q,reason=%q}`, bad.protocol, bad.reason)
			if m[key] < 1 {
				missing = key
			}
		}
		return missing == "", fmt.Sprintf("%s not counted; decode errors: %v", missing, m)
	})

	// SIGTERM right away: what the workers and the pipeline hold must be
	// stored before exit.
	in.stop()
	in = startSluice(t, data)

	if got := in.count(""); got != flows {
		t.Fatalf("stored %d flows, sent %d", got, flows)
	}
	totals := in.sql("SELECT FlowType, count(), sum(Bytes), sum(Packets) FROM flows GROUP BY FlowType ORDER BY FlowType", "TSV")
	wantTotals := ""
	for _, p := range []struct {
		name string
		c    demo.Counters
	}{{"NetFlowV5", stats.NetFlow5}, {"NetFlowV9", stats.NetFlow9}, {"IPFIX", stats.IPFIX}, {"SFlowV5", stats.SFlow5}} {
		if p.name == "SFlowV5" {
			p.c.Bytes -= 22 * p.c.Flows // IP length, not frame length (see expectedRow)
		}
		wantTotals += fmt.Sprintf("%s\t%d\t%d\t%d\n", p.name, p.c.Flows, p.c.Bytes, p.c.Packets)
	}
	if totals != wantTotals {
		t.Fatalf("totals by flow type:\n%s\nwant:\n%s", totals, wantTotals)
	}

	// sFlow has no flow times: sluice stamps both with the time received.
	if n := in.count("FlowType = 'SFlowV5' AND (TimeFlowStart != TimeFlowEnd OR abs(toUnixTimestamp(TimeFlowStart) - toUnixTimestamp(TimeReceived)) > 1)"); n != 0 {
		t.Fatalf("%d sFlow rows whose flow times are not the time received", n)
	}
	checkRows(t, in, want)
	in.stop()
}

// rows reads every stored flow as rowQuery writes it, sorted.
func rows(t *testing.T, in *instance) []string {
	t.Helper()
	out := strings.Split(strings.TrimSpace(in.sql(fmt.Sprintf(rowQuery, "1"), "TSV")), "\n")
	slices.Sort(out)
	return out
}

// checkRows compares the stored rows with want, one by one: none missing,
// none twice, every field.
func checkRows(t *testing.T, in *instance, want []string) {
	t.Helper()
	got := rows(t, in)
	want = slices.Clone(want)
	slices.Sort(want)
	if len(got) != len(want) {
		t.Fatalf("read back %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d differs:\n got: %s\nwant: %s", i, got[i], want[i])
		}
	}
}

// tsharkTotals asks tshark, the reference decoder, for the number of flow
// records and their byte and packet totals in a capture.
func tsharkTotals(t *testing.T, file string, sflow bool) (flows, bytes, packets uint64) {
	t.Helper()
	tshark := testenv.Tshark(t)
	ports := map[uint16]bool{}
	datagrams, _, err := pcap.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range datagrams {
		ports[d.DstPort] = true
	}
	args := []string{"-r", file, "-T", "json", "-e", "cflow.octets", "-e", "cflow.packets",
		"-e", "sflow_245.header.frame_length"}
	for p := range ports {
		proto := "cflow"
		if sflow {
			proto = "sflow"
		}
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,%s", p, proto))
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	var packetsJSON []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &packetsJSON); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	sum := func(values []string) (n, total uint64) {
		for _, v := range values {
			x, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("tshark value %q: %v", v, err)
			}
			n++
			total += x
		}
		return n, total
	}
	for _, p := range packetsJSON {
		l := p.Source.Layers
		if sflow {
			n, _ := sum(l["sflow_245.header.frame_length"])
			flows += n
			packets += n
			continue
		}
		n, total := sum(l["cflow.octets"])
		_, pk := sum(l["cflow.packets"])
		flows += n
		bytes += total
		packets += pk
	}
	return flows, bytes, packets
}

// TestRunCorpusTotals replays real captures, each from its own loopback
// address so their templates never mix, and compares what sluice stored
// with tshark's decoding of the same files.
func TestRunCorpusTotals(t *testing.T) {
	requireChdb(t)
	dir := testenv.CorpusDir(t)
	files := []struct {
		name  string
		sflow bool
	}{
		{"akvorado__nfv5.pcap", false},
		{"logstash__nf5-mikrotik.pcap", false},
		{"akvorado__nfv9-template-data.pcap", false},
		{"logstash__nf9-softflowd.pcap", false},
		{"logstash__ipfix-generic.pcap", false},
		{"logstash__ipfix-openbsd-pflow.pcap", false},
		{"akvorado__sflow-sflow-ipv4-data.pcap", true},
		{"akvorado__sflow-1140.pcap", true},
	}
	in := startSluice(t, t.TempDir())
	s := newSender(t)
	type want struct{ flows, bytes, packets uint64 }
	wants := map[string]want{}
	for i, f := range files {
		path := filepath.Join(dir, f.name)
		fl, b, p := tsharkTotals(t, path, f.sflow)
		if fl == 0 {
			t.Fatalf("%s: tshark found no flows", f.name)
		}
		datagrams, _, err := pcap.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		from := netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
		target := in.netflow
		if f.sflow {
			target = in.sflow
		}
		for _, d := range datagrams {
			s.send(from, target, d.Payload)
		}
		key := from.String()
		if f.sflow {
			key = f.name // sFlow rows carry the agent address, checked per file below
		}
		wants[key] = want{fl, b, p}
	}
	var wantTotal uint64
	for _, w := range wants {
		wantTotal += w.flows
	}
	testenv.Poll(60*time.Second, func() bool { return in.count("") >= wantTotal })
	for i, f := range files {
		if f.sflow {
			continue
		}
		from := netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
		w := wants[from.String()]
		got := in.sql(fmt.Sprintf("SELECT count(), sum(Bytes), sum(Packets) FROM flows WHERE ExporterAddress = toIPv6('::ffff:%s')", from), "TSV")
		if exp := fmt.Sprintf("%d\t%d\t%d\n", w.flows, w.bytes, w.packets); got != exp {
			t.Errorf("%s: stored count, bytes, packets = %q, tshark says %q", f.name, got, exp)
		}
	}
	var sflowWant want
	for _, f := range files {
		if f.sflow {
			w := wants[f.name]
			sflowWant.flows += w.flows
			sflowWant.bytes += w.bytes
			sflowWant.packets += w.packets
		}
	}
	// sFlow bytes are the sampled packets' IP lengths, which tshark does not
	// report per sample; collector/sflow's tests check them per capture.
	got := in.sql("SELECT count(), sum(Packets) FROM flows WHERE FlowType = 'SFlowV5'", "TSV")
	if exp := fmt.Sprintf("%d\t%d\n", sflowWant.flows, sflowWant.packets); got != exp {
		t.Errorf("sFlow: stored count, packets = %q, tshark says %q", got, exp)
	}
	in.stop()
}

// TestSQLEndpointIsReadOnly tries to change data through the SQL endpoint.
func TestSQLEndpointIsReadOnly(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())
	for _, q := range []string{
		"DROP TABLE flows",
		"INSERT INTO flows (Bytes) VALUES (1)",
		"ALTER TABLE flows DELETE WHERE 1",
		"TRUNCATE TABLE flows",
		"CREATE TABLE x (a UInt8) ENGINE = Memory",
		"SELECT 1; DROP TABLE flows",
	} {
		resp, err := http.Post("http://"+in.http+"/api/v1/sql?format=TSV", "text/plain", strings.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("%q was accepted: %s", q, body)
		}
	}
	if got := in.sql("SELECT count() FROM system.tables WHERE database = 'sluice' AND name = 'flows'", "TSV"); got != "1\n" {
		t.Fatalf("flows table gone: %q", got)
	}
	// GET works too, with a format name.
	resp, err := http.Get("http://" + in.http + "/api/v1/sql?format=json&query=" + url.QueryEscape("SELECT 1 AS one"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`"one":\s*1`).Match(body) {
		t.Fatalf("GET json answer: %s", body)
	}
	in.stop()
}

// TestDemoScript runs README's run command as `make run` does
// (deploy/dev/demo.sh: sluice run fed by sluice demo), for a few seconds on
// free ports, then checks that every flow the demo sent was stored.
func TestDemoScript(t *testing.T) {
	requireChdb(t)
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(testenv.RepoRoot(t), "deploy/dev/demo.sh"), sluiceBinary(t))
	cmd.Env = append(os.Environ(),
		"SLUICE_DATA="+data,
		fmt.Sprintf("SLUICE_HTTP=127.0.0.1:%d", freePort(t, "tcp")),
		fmt.Sprintf("SLUICE_CLICKHOUSE=127.0.0.1:%d", freePort(t, "tcp")),
		fmt.Sprintf("SLUICE_NETFLOW=127.0.0.1:%d", freePort(t, "udp")),
		fmt.Sprintf("SLUICE_SFLOW=127.0.0.1:%d", freePort(t, "udp")),
		"SLUICE_DEMO_RATE=1000",
		"SLUICE_DEMO_DURATION=4s",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(data, "sluice.log"))
		t.Fatalf("demo.sh: %v\n%s\nsluice log:\n%s", err, out, log)
	}
	m := regexp.MustCompile(`(?m)^sent (\d+) flows in \d+ datagrams`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no final count in the output:\n%s", out)
	}
	sent, _ := strconv.ParseUint(string(m[1]), 10, 64)
	if sent < 3000 {
		t.Fatalf("the demo sent only %d flows in 4 s at 1000/s:\n%s", sent, out)
	}
	if !strings.Contains(string(out), "stored ") {
		t.Fatalf("the live line never showed stored flows:\n%s", out)
	}
	in := startSluice(t, data)
	if got := in.count(""); got != sent {
		t.Fatalf("stored %d flows, the demo sent %d", got, sent)
	}
	if got := in.count("ExporterAddress = toIPv6('::ffff:127.0.0.1')"); got != 0 {
		t.Fatalf("%d flows from 127.0.0.1: the demo exporters should send from their own addresses", got)
	}
	in.stop()
}
