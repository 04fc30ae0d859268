package detect

import (
	"embed"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// Detection names, as alerts, metrics and the ground truth of `sluice demo
// --attacks` name them.
const (
	PortScan      = "port-scan"
	Sweep         = "sweep"
	SYNFlood      = "syn-flood"
	DDoS          = "ddos"
	Amplification = "amplification"
	BruteForce    = "brute-force"
	Beaconing     = "beaconing"
	Exfiltration  = "exfiltration"
	ThreatIntel   = "threat-intel"
	Tor           = "tor"
)

// detection is one rule: its SQL over the flows (one embedded file), how
// its thresholds fill the SQL, and how an alert reads.
type detection struct {
	name     string
	file     string
	severity record.Severity
	// latest detections look back further than the window (their own
	// Window) and are evaluated once per run, at the newest window end,
	// rather than at every step.
	latest  bool
	enabled func(*Config) bool
	window  func(*Config) time.Duration // nil: Config.Window
	params  func(*Config) map[string]string
	summary func(a *record.Alert, details map[string]string) string
}

// Names lists the detections in the order they run.
func Names() []string {
	names := make([]string, len(detections))
	for i, d := range detections {
		names[i] = d.name
	}
	return names
}

func num[T ~int | ~uint64 | ~uint16](v T) string { return strconv.FormatUint(uint64(v), 10) }

func portList(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = num(p)
	}
	return strings.Join(s, ", ")
}

var detections = []detection{
	{
		name: PortScan, file: "port_scan.sql", severity: record.SeverityMedium,
		enabled: func(c *Config) bool { return c.PortScan.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"min_ports": num(c.PortScan.MinPorts), "probe": probeLike}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("%s scanned %s ports of %s", a.SrcAddr, d["Ports"], a.DstAddr)
		},
	},
	{
		name: Sweep, file: "sweep.sql", severity: record.SeverityMedium,
		enabled: func(c *Config) bool { return c.Sweep.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"min_hosts": num(c.Sweep.MinHosts), "ports": portList(c.Sweep.Ports), "probe": probeLike}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("%s swept %s hosts on port %d/%s", a.SrcAddr, d["Hosts"], a.DstPort, protoName(a.Proto))
		},
	},
	{
		name: SYNFlood, file: "syn_flood.sql", severity: record.SeverityHigh,
		enabled: func(c *Config) bool { return c.SYNFlood.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"min_pps": num(c.SYNFlood.MinPPS), "min_sources": num(c.SYNFlood.MinSources)}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("SYN flood on %s: %s SYN packets/s from %s sources", a.DstAddr, d["PPS"], d["Sources"])
		},
	},
	{
		name: DDoS, file: "ddos.sql", severity: record.SeverityCritical,
		enabled: func(c *Config) bool { return c.DDoS.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"min_bps": num(c.DDoS.MinBPS), "min_pps": num(c.DDoS.MinPPS),
				"min_fps": num(c.DDoS.MinFlowsPerSecond), "min_sources": num(c.DDoS.MinSources)}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("volumetric attack on %s: %s bit/s, %s packets/s, %s flows/s from %s sources",
				a.DstAddr, d["BPS"], d["PPS"], d["FPS"], d["Sources"])
		},
	},
	{
		name: Amplification, file: "amplification.sql", severity: record.SeverityHigh,
		enabled: func(c *Config) bool { return c.Amplification.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"ports": portList(c.Amplification.Ports), "min_bps": num(c.Amplification.MinBPS),
				"min_reflectors": num(c.Amplification.MinReflectors)}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("UDP amplification on %s: %s bit/s from %s reflectors (source ports %s)",
				a.DstAddr, d["BPS"], d["Reflectors"], d["SourcePorts"])
		},
	},
	{
		name: BruteForce, file: "brute_force.sql", severity: record.SeverityHigh,
		enabled: func(c *Config) bool { return c.BruteForce.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"ports": portList(c.BruteForce.Ports), "min_attempts": num(c.BruteForce.MinAttempts),
				"max_packets": num(c.BruteForce.MaxPackets)}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("%s made %s short connections to %s port %d", a.SrcAddr, d["Attempts"], a.DstAddr, a.DstPort)
		},
	},
	{
		name: Beaconing, file: "beaconing.sql", severity: record.SeverityHigh, latest: true,
		enabled: func(c *Config) bool { return c.Beaconing.Enabled },
		window:  func(c *Config) time.Duration { return c.Beaconing.Window },
		params: func(c *Config) map[string]string {
			return map[string]string{"min_connections": num(c.Beaconing.MinConnections),
				"max_jitter":    strconv.FormatFloat(c.Beaconing.MaxJitter, 'f', -1, 64),
				"min_interval":  strconv.FormatFloat(c.Beaconing.MinInterval.Seconds(), 'f', -1, 64),
				"max_interval":  strconv.FormatFloat(c.Beaconing.MaxInterval.Seconds(), 'f', -1, 64),
				"exclude_ports": portList(append([]uint16{0}, c.Beaconing.ExcludePorts...)),
				"min_span":      num(uint64(beaconMinSpan(c.Beaconing)))}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("%s beacons to %s port %d/%s: %s connections every %s s (jitter %s)",
				a.SrcAddr, a.DstAddr, a.DstPort, protoName(a.Proto), d["Connections"], d["MeanInterval"], d["Jitter"])
		},
	},
	{
		name: Exfiltration, file: "exfiltration.sql", severity: record.SeverityHigh, latest: true,
		enabled: func(c *Config) bool { return c.Exfiltration.Enabled },
		window:  func(c *Config) time.Duration { return c.Exfiltration.Window },
		params:  func(c *Config) map[string]string { return map[string]string{"min_bytes": num(c.Exfiltration.MinBytes)} },
		summary: func(a *record.Alert, _ map[string]string) string {
			return fmt.Sprintf("%s sent %d bytes to %s, a destination not seen before", a.SrcAddr, a.Bytes, a.DstAddr)
		},
	},
	{
		name: ThreatIntel, file: "threat_intel.sql", severity: record.SeverityHigh,
		enabled: func(c *Config) bool { return c.ThreatIntel.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"min_flows": num(c.ThreatIntel.MinFlows), "tor_feed": clickhouse.QuoteString(c.Tor.Feed)}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("%s, listed by %s, talked with %s hosts (%s among them)", a.DstAddr, strings.Join(a.ThreatFeeds, ", "), d["Peers"], a.SrcAddr)
		},
	},
	{
		name: Tor, file: "tor.sql", severity: record.SeverityMedium,
		enabled: func(c *Config) bool { return c.Tor.Enabled },
		params: func(c *Config) map[string]string {
			return map[string]string{"min_flows": num(c.Tor.MinFlows), "tor_feed": clickhouse.QuoteString(c.Tor.Feed)}
		},
		summary: func(a *record.Alert, d map[string]string) string {
			return fmt.Sprintf("%s talked with %s Tor relays (%s among them)", a.SrcAddr, d["Relays"], a.DstAddr)
		},
	},
}

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	}
	return strconv.Itoa(int(p))
}

// probeLike selects the flows that look like probes rather than
// conversations: TCP without ACK (a SYN unanswered or refused, a half-open
// or NULL/FIN scan), UDP of at most 2 packets; never a flow from a
// well-known service port to an ephemeral one (a server's answer, a
// resolver's reply).
const probeLike = "((Proto = 6 AND bitAnd(TCPFlags, 16) = 0) OR (Proto = 17 AND Packets <= 2)) AND NOT (SrcPort < 1024 AND DstPort >= 1024)"

// windowOf is how much flow time the detection looks at.
func (d *detection) windowOf(c *Config) time.Duration {
	if d.window != nil {
		return d.window(c)
	}
	return c.Window
}

// flowsSource is the FROM clause of a detection: the flows starting in
// [from, to), each repeated once for every window it falls in whose end is
// in (firstEnd-step, lastEnd], with WindowEnd (Unix seconds) and the
// sampling-scaled counters SBytes, SPackets and SFlows. A flow starting at
// t belongs to the windows ending in (t, t+window].
func flowsSource(from, to time.Time, window, step, slack time.Duration, lastEnd time.Time, latest bool, exclude string) string {
	var windowEnd string
	if latest {
		windowEnd = num(uint64(lastEnd.Unix()))
	} else {
		s := num(uint64(step / time.Second))
		windowEnd = fmt.Sprintf("arrayJoin(arrayFilter(e -> e > %d AND e <= %d, arrayMap(i -> toUnixTimestamp(toStartOfInterval(TimeFlowStart, toIntervalSecond(%s))) + %s * (i + 1), range(%d))))",
			from.Add(window-step).Unix(), lastEnd.Unix(), s, s, window/step)
	}
	return fmt.Sprintf("(SELECT *, if(SamplingRate = 0, 1, SamplingRate) AS Scale, Bytes * Scale AS SBytes, Packets * Scale AS SPackets, Scale AS SFlows, "+
		"%s AS WindowEnd FROM %s WHERE %s%s)", windowEnd, migrate.FlowsTable, flowTimeRange(from, to, slack), exclude)
}

// excludeClause is the condition leaving out the flows from or to the
// networks (CIDR, validated), as an AND clause; empty for none.
func excludeClause(nets []string) string {
	var b strings.Builder
	for _, n := range nets {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			continue
		}
		lo, hi := prefixRange(p)
		for _, col := range []string{"SrcAddr", "DstAddr"} {
			fmt.Fprintf(&b, " AND NOT (%s BETWEEN toIPv6('%s') AND toIPv6('%s'))", col, lo, hi)
		}
	}
	return b.String()
}

// prefixRange is the first and last address of p, as IPv6 (IPv4 mapped,
// as the flows store them).
func prefixRange(p netip.Prefix) (lo, hi netip.Addr) {
	p = p.Masked()
	bits := p.Bits()
	a := p.Addr()
	if a.Is4() {
		a, bits = netip.AddrFrom16(a.As16()), bits+96
	}
	b := a.As16()
	for i := bits; i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return a, netip.AddrFrom16(b)
}

// flowTimeRange selects the flows starting in [from, to), received at most
// slack before from (the table's order is by arrival).
func flowTimeRange(from, to time.Time, slack time.Duration) string {
	return fmt.Sprintf("TimeFlowStart >= fromUnixTimestamp64Milli(%d) AND TimeFlowStart < fromUnixTimestamp64Milli(%d) AND TimeReceived >= toDateTime(%d)",
		from.UnixMilli(), to.UnixMilli(), from.Add(-slack).Unix())
}

// query returns the detection's SQL for the windows ending in (from, to]
// (every step), or for the one window ending at to (latest detections).
func (d *detection) query(c *Config, from, to time.Time) (string, error) {
	text, err := sqlFiles.ReadFile("sql/" + d.file)
	if err != nil {
		return "", fmt.Errorf("detection %s: %w", d.name, err)
	}
	return d.render(c, from, to, string(text))
}

// render fills the placeholders of text, a detection's SQL, for the
// windows ending in (from, to].
func (d *detection) render(c *Config, from, to time.Time, text string) (string, error) {
	window := d.windowOf(c)
	flowsFrom := from.Add(c.Step - window)
	if d.latest {
		flowsFrom = to.Add(-window)
	}
	params := d.params(c)
	params["flows"] = flowsSource(flowsFrom, to, window, c.Step, c.ReceivedSlack, to, d.latest, excludeClause(c.Exclude[d.name]))
	params["table"] = migrate.FlowsTable
	params["seconds"] = num(uint64(window / time.Second))
	if d.name == Exfiltration {
		params["baseline"] = flowTimeRange(flowsFrom.Add(-c.Exfiltration.Baseline), flowsFrom, c.ReceivedSlack)
	}
	var out strings.Builder
	s := text
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			out.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("detection %s: unclosed placeholder", d.name)
		}
		name := s[i+1 : i+j]
		v, ok := params[name]
		if !ok {
			return "", fmt.Errorf("detection %s: unknown placeholder {%s}", d.name, name)
		}
		out.WriteString(s[:i])
		out.WriteString(v)
		s = s[i+j+1:]
	}
	return out.String() + fmt.Sprintf("\nORDER BY WindowEnd, Key\nSETTINGS output_format_json_quote_64bit_integers = 0, max_execution_time = %d, timeout_overflow_mode = 'throw'",
		int(c.MaxQueryTime/time.Second)), nil
}

// beaconMinSpan is the fewest whole seconds between a beacon's first and
// last connection: min-connections at a mean interval that rounds (to a
// tenth, as beaconing.sql does) to min-interval at least, less a tenth
// for that rounding. The pre-filter drops the pairs whose flows span less.
func beaconMinSpan(c BeaconingConfig) int {
	return max(0, int(math.Floor((c.MinInterval.Seconds()-0.1)*float64(c.MinConnections-1))))
}

// enabledDetections lists the detections cfg runs.
func enabledDetections(c *Config) []*detection {
	var out []*detection
	for i := range detections {
		if detections[i].enabled(c) {
			out = append(out, &detections[i])
		}
	}
	return slices.Clip(out)
}
