package detect

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Config is the `detect:` section. Times are flow time (the flows' own
// start and end), except Interval, which is how often the scheduler runs.
type Config struct {
	// Enabled runs the detections (default true) in `sluice run`; in
	// `sluice pipeline` only with InPipeline too.
	Enabled bool `yaml:"enabled"`
	// InPipeline runs the detections in a `sluice pipeline` worker (default
	// false): every worker would evaluate the same flows and raise the same
	// alerts, so enable it on one worker, with the server backend (with
	// the embedded one a worker sees only the flows it stored itself).
	InPipeline bool `yaml:"in-pipeline"`
	// Interval is how often the detections run (default 1m).
	Interval time.Duration `yaml:"interval"`
	// Window is how much flow time each evaluation looks at, ending at the
	// window's end (default 5m, as Zeek's scan detection and Elastic's
	// threshold rules look back).
	Window time.Duration `yaml:"window"`
	// Step is how far apart in flow time consecutive windows end (default
	// 1m): windows overlap, so an event straddling a boundary is whole in
	// some window. Window must be a multiple of Step.
	Step time.Duration `yaml:"step"`
	// Lateness is how far behind the newest stored flow the evaluation
	// stays, so that flows of the same moment from slower exporters (an
	// active timeout, a flush interval) are stored first (default 1m).
	// When no newer flow arrives for an interval, the evaluation catches up
	// to the newest flow.
	Lateness time.Duration `yaml:"lateness"`
	// LongInterval is how often, in flow time, the detections with a
	// long window (beaconing, exfiltration: an hour) are evaluated
	// (default 10m): each evaluation reads their whole window, and an hour
	// does not change much in a minute. An idle stream is evaluated up to
	// its newest flow at once.
	LongInterval time.Duration `yaml:"long-interval"`
	// ReceivedSlack is how long before a flow's start it may have been
	// received (default 5m): an exporter's clock ahead of sluice's, or a
	// replay whose flow time runs faster than real time (`sluice demo
	// --time-scale`: set it to the span replayed). The flows table is
	// sorted by arrival, so each evaluation reads the flows received from
	// that long before its windows: the larger, the more it reads. Flows
	// received later than their end (an active timeout, a late exporter)
	// need no slack; Lateness covers them.
	ReceivedSlack time.Duration `yaml:"received-slack"`
	// MaxCatchUp bounds how much flow time a start after downtime
	// evaluates; older windows are skipped (and logged). Default 6h.
	MaxCatchUp time.Duration `yaml:"max-catch-up"`
	// RetryMin and RetryMax bound the wait between attempts to store
	// alerts and to hand them to a sink (defaults 1s and 1m).
	RetryMin time.Duration `yaml:"retry-min"`
	RetryMax time.Duration `yaml:"retry-max"`
	// MaxPending bounds the alert records kept for a target that is down
	// (default 100000); past it the oldest are dropped and counted
	// (alerts_dropped_total). A target gets a few attempts per run, so one
	// that is down does not hold the detections back.
	MaxPending int `yaml:"max-pending"`
	// MaxNewAlerts bounds the alerts one detection opens in one evaluation
	// (default 100): past it events are counted (alerts_capped_total), not
	// raised, so a noisy rule cannot flood the sinks.
	MaxNewAlerts int `yaml:"max-new-alerts"`
	// MaxYield is how long a detection's query waits, at most, while
	// ingestion has a backlog (default 30s; 0 never waits). On the embedded
	// engine a query holds back every insert while it runs: the queries
	// wait for the writer to catch up, so that they delay the detections
	// rather than lose flows. Past it the query runs anyway, and the wait
	// is counted (yield_timeouts_total).
	MaxYield time.Duration `yaml:"max-yield"`
	// MaxQueryTime stops a detection's query that runs longer (default
	// 30s, whole seconds): on the embedded engine inserts wait while it
	// runs, so it bounds how long one detection stalls ingestion. A query
	// stopped so fails (errors_total) and backs off; a window too large
	// for the flow rate (beaconing's hour at tens of thousands of flows/s)
	// fails every time, and says so.
	MaxQueryTime time.Duration `yaml:"max-query-time"`

	PortScan      PortScanConfig      `yaml:"port-scan"`
	Sweep         SweepConfig         `yaml:"sweep"`
	SYNFlood      SYNFloodConfig      `yaml:"syn-flood"`
	DDoS          DDoSConfig          `yaml:"ddos"`
	Amplification AmplificationConfig `yaml:"amplification"`
	BruteForce    BruteForceConfig    `yaml:"brute-force"`
	Beaconing     BeaconingConfig     `yaml:"beaconing"`
	Exfiltration  ExfiltrationConfig  `yaml:"exfiltration"`
	ThreatIntel   ThreatIntelConfig   `yaml:"threat-intel"`
	Tor           TorConfig           `yaml:"tor"`

	// Exclude lists, by detection name, networks (CIDR) whose flows that
	// detection ignores, as source or destination: a scanner of your own,
	// a NAT gateway, a resolver (default none).
	Exclude map[string][]string `yaml:"exclude"`
}

// PortScanConfig: one source probing many ports of one host (vertical scan).
type PortScanConfig struct {
	Enabled bool `yaml:"enabled"`
	// MinPorts distinct destination ports of one host from one source in
	// a window (default 250, Elastic's "Potential Network Scan Detected").
	MinPorts int `yaml:"min-ports"`
}

// SweepConfig: one source probing one port on many hosts (horizontal).
type SweepConfig struct {
	Enabled bool `yaml:"enabled"`
	// MinHosts distinct destinations on one port from one source in a
	// window (default 100, Elastic's "Potential Network Sweep Detected").
	MinHosts int `yaml:"min-hosts"`
	// Ports are the destination ports a sweep is looked for on (default:
	// the Elastic rule's 21, 22, 23, 25, 139, 445, 3389, 5985, 5986):
	// services attackers sweep for, not those clients reach many hosts on
	// (DNS, HTTPS). Only probe-like flows count (TCP without ACK, UDP of
	// at most 2 packets).
	Ports []uint16 `yaml:"ports"`
}

// SYNFloodConfig: TCP SYNs without the handshake completing, to one host.
type SYNFloodConfig struct {
	Enabled bool `yaml:"enabled"`
	// MinPPS is the rate of SYN-only packets (flags SYN without ACK),
	// sampling-scaled, averaged over the window (default 10000, half of
	// FastNetMon's threshold_pps, since only SYNs count).
	MinPPS uint64 `yaml:"min-pps"`
	// MinSources distinct sources (default 1: spoofed floods are many
	// sources, a single-source flood is still one).
	MinSources int `yaml:"min-sources"`
}

// DDoSConfig: volumetric traffic towards one destination. Any of the
// three rates raises it.
type DDoSConfig struct {
	Enabled bool `yaml:"enabled"`
	// MinBPS, MinPPS and MinFlowsPerSecond are FastNetMon's default ban
	// thresholds (threshold_mbps 1000, threshold_pps 20000,
	// threshold_flows 3500), averaged over the window. Bits and packets
	// are sampling-scaled; flows per second count unsampled exporters'
	// records only (a sampled record is not Scale flows). Only traffic to
	// own networks (or of unknown direction) counts.
	MinBPS            uint64 `yaml:"min-bps"`
	MinPPS            uint64 `yaml:"min-pps"`
	MinFlowsPerSecond uint64 `yaml:"min-flows-per-second"`
	// MinSources distinct sources (default 5): one source's bulk transfer
	// is not a distributed attack (see exfiltration and top talkers).
	MinSources int `yaml:"min-sources"`
}

// AmplificationConfig: UDP answers from reflectors' service ports
// converging on one victim.
type AmplificationConfig struct {
	Enabled bool `yaml:"enabled"`
	// Ports are the reflected services' source ports (default: chargen 19,
	// DNS 53, portmap 111, NTP 123, NetBIOS 137, SNMP 161, CLDAP 389,
	// SSDP 1900, WS-Discovery 3702, mDNS 5353, memcached 11211).
	Ports []uint16 `yaml:"ports"`
	// MinBPS sampling-scaled bits per second from those ports to the
	// victim (default 100 Mbit/s) and MinReflectors distinct sources
	// (default 10).
	MinBPS        uint64 `yaml:"min-bps"`
	MinReflectors int    `yaml:"min-reflectors"`
}

// BruteForceConfig: many short connections from one source to one
// host's login service.
type BruteForceConfig struct {
	Enabled bool `yaml:"enabled"`
	// Ports are the services (default SSH 22, SMB 445, RDP 3389, VNC 5900).
	Ports []uint16 `yaml:"ports"`
	// MinAttempts distinct client ports, each a connection, seen in a
	// window (default 20; Elastic's SSH brute force rules alert from 10
	// failures a minute on auth logs, which flows do not see).
	MinAttempts int `yaml:"min-attempts"`
	// MaxPackets bounds a connection's average packets (default 30): a
	// failed login is short, an interactive session is not.
	MaxPackets int `yaml:"max-packets"`
}

// BeaconingConfig: a host calling one destination at regular intervals.
type BeaconingConfig struct {
	Enabled bool `yaml:"enabled"`
	// Window is the look-back (default 1h, RITA's minimum useful span).
	Window time.Duration `yaml:"window"`
	// MinConnections in the window (default 10).
	MinConnections int `yaml:"min-connections"`
	// MaxJitter is the intervals' standard deviation over their mean
	// (default 0.1).
	MaxJitter float64 `yaml:"max-jitter"`
	// MinInterval and MaxInterval bound the mean interval (defaults 10s
	// and 6m): faster is a stream, slower is out of the window's reach.
	// MaxInterval can be at most window / (min-connections - 1) (6m40s
	// with the defaults): min-connections at longer intervals do not fit
	// in the window.
	MinInterval time.Duration `yaml:"min-interval"`
	MaxInterval time.Duration `yaml:"max-interval"`
	// ExcludePorts are destination ports of protocols that are periodic by
	// design (default DNS 53, NTP 123).
	ExcludePorts []uint16 `yaml:"exclude-ports"`
}

// ExfiltrationConfig: a large outbound transfer to a destination not seen
// before.
type ExfiltrationConfig struct {
	Enabled bool `yaml:"enabled"`
	// Window is the look-back of the transfer (default 1h).
	Window time.Duration `yaml:"window"`
	// MinBytes sampling-scaled, from one inside host to one outside
	// destination in the window (default 1 GB).
	MinBytes uint64 `yaml:"min-bytes"`
	// Baseline is how long before the window the destination must not
	// have been seen (default 7 days).
	Baseline time.Duration `yaml:"baseline"`
}

// ThreatIntelConfig: any traffic touching an address a threat feed lists.
type ThreatIntelConfig struct {
	Enabled bool `yaml:"enabled"`
	// MinFlows in a window (default 1).
	MinFlows int `yaml:"min-flows"`
}

// TorConfig: traffic with Tor relays, from the threat feed of that name.
type TorConfig struct {
	Enabled bool `yaml:"enabled"`
	// Feed is the threat feed listing Tor relays and exits (default
	// "tor"; enrich.threat.feeds, format tor-exits).
	Feed string `yaml:"feed"`
	// MinFlows in a window (default 1).
	MinFlows int `yaml:"min-flows"`
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Enabled:       true,
		Interval:      time.Minute,
		Window:        5 * time.Minute,
		Step:          time.Minute,
		Lateness:      time.Minute,
		MaxCatchUp:    6 * time.Hour,
		LongInterval:  10 * time.Minute,
		ReceivedSlack: 5 * time.Minute,
		RetryMin:      time.Second,
		RetryMax:      time.Minute,
		MaxPending:    100000,
		MaxNewAlerts:  100,
		MaxYield:      30 * time.Second,
		MaxQueryTime:  30 * time.Second,

		PortScan: PortScanConfig{Enabled: true, MinPorts: 250},
		Sweep:    SweepConfig{Enabled: true, MinHosts: 100, Ports: []uint16{21, 22, 23, 25, 139, 445, 3389, 5985, 5986}},
		SYNFlood: SYNFloodConfig{Enabled: true, MinPPS: 10000, MinSources: 1},
		DDoS: DDoSConfig{Enabled: true, MinBPS: 1_000_000_000, MinPPS: 20000, MinFlowsPerSecond: 3500,
			MinSources: 5},
		Amplification: AmplificationConfig{Enabled: true,
			Ports:  []uint16{19, 53, 111, 123, 137, 161, 389, 1900, 3702, 5353, 11211},
			MinBPS: 100_000_000, MinReflectors: 10},
		BruteForce: BruteForceConfig{Enabled: true, Ports: []uint16{22, 445, 3389, 5900},
			MinAttempts: 20, MaxPackets: 30},
		Beaconing: BeaconingConfig{Enabled: true, Window: time.Hour, MinConnections: 10, MaxJitter: 0.1,
			MinInterval: 10 * time.Second, MaxInterval: 6 * time.Minute, ExcludePorts: []uint16{53, 123}},
		Exfiltration: ExfiltrationConfig{Enabled: true, Window: time.Hour, MinBytes: 1_000_000_000,
			Baseline: 7 * 24 * time.Hour},
		ThreatIntel: ThreatIntelConfig{Enabled: true, MinFlows: 1},
		Tor:         TorConfig{Enabled: true, Feed: "tor", MinFlows: 1},
	}
}

// Validate names the bad keys.
func (c Config) Validate() error {
	var errs []error
	pos := func(key string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", key, d))
		}
	}
	pos("interval", c.Interval)
	pos("window", c.Window)
	pos("step", c.Step)
	pos("max-catch-up", c.MaxCatchUp)
	pos("long-interval", c.LongInterval)
	pos("retry-min", c.RetryMin)
	pos("beaconing.window", c.Beaconing.Window)
	pos("exfiltration.window", c.Exfiltration.Window)
	pos("exfiltration.baseline", c.Exfiltration.Baseline)
	if c.ReceivedSlack < 0 {
		errs = append(errs, fmt.Errorf("received-slack: must be >= 0, got %s", c.ReceivedSlack))
	}
	if c.MaxQueryTime < time.Second || c.MaxQueryTime%time.Second != 0 {
		errs = append(errs, fmt.Errorf("max-query-time: must be whole seconds, at least 1s, got %s", c.MaxQueryTime))
	}
	if c.MaxYield < 0 {
		errs = append(errs, fmt.Errorf("max-yield: must be >= 0, got %s", c.MaxYield))
	}
	if c.Lateness < 0 {
		errs = append(errs, fmt.Errorf("lateness: must be >= 0, got %s", c.Lateness))
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry-max: must be at least retry-min (%s), got %s", c.RetryMin, c.RetryMax))
	}
	if c.Step > 0 && c.Window > 0 {
		if c.Step%time.Second != 0 {
			errs = append(errs, fmt.Errorf("step: must be whole seconds, got %s", c.Step))
		}
		if c.Window%c.Step != 0 || c.Window/c.Step > 60 {
			errs = append(errs, fmt.Errorf("window: must be a multiple of step (%s), at most 60 of them, got %s", c.Step, c.Window))
		}
	}
	atLeast1 := func(key string, v int) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s: must be at least 1, got %d", key, v))
		}
	}
	atLeast1("max-pending", c.MaxPending)
	atLeast1("max-new-alerts", c.MaxNewAlerts)
	atLeast1("port-scan.min-ports", c.PortScan.MinPorts)
	atLeast1("sweep.min-hosts", c.Sweep.MinHosts)
	atLeast1("syn-flood.min-sources", c.SYNFlood.MinSources)
	atLeast1("ddos.min-sources", c.DDoS.MinSources)
	atLeast1("amplification.min-reflectors", c.Amplification.MinReflectors)
	atLeast1("brute-force.min-attempts", c.BruteForce.MinAttempts)
	atLeast1("brute-force.max-packets", c.BruteForce.MaxPackets)
	atLeast1("threat-intel.min-flows", c.ThreatIntel.MinFlows)
	atLeast1("tor.min-flows", c.Tor.MinFlows)
	if c.Beaconing.MinConnections < 3 {
		errs = append(errs, fmt.Errorf("beaconing.min-connections: must be at least 3, got %d", c.Beaconing.MinConnections))
	}
	if !(c.Beaconing.MaxJitter > 0 && c.Beaconing.MaxJitter < 1) {
		errs = append(errs, fmt.Errorf("beaconing.max-jitter: must be between 0 and 1, got %v", c.Beaconing.MaxJitter))
	}
	if c.Beaconing.MinInterval <= 0 || c.Beaconing.MaxInterval <= c.Beaconing.MinInterval {
		errs = append(errs, fmt.Errorf("beaconing.max-interval: must be above min-interval, which must be positive (got %s and %s)",
			c.Beaconing.MinInterval, c.Beaconing.MaxInterval))
	}
	if c.Beaconing.MinConnections >= 3 && c.Beaconing.Window > 0 &&
		c.Beaconing.MaxInterval > c.Beaconing.Window/time.Duration(c.Beaconing.MinConnections-1) {
		errs = append(errs, fmt.Errorf("beaconing.max-interval: %s is unreachable: %d connections at that interval span more than window %s (at most %s)",
			c.Beaconing.MaxInterval, c.Beaconing.MinConnections, c.Beaconing.Window, c.Beaconing.Window/time.Duration(c.Beaconing.MinConnections-1)))
	}
	if len(c.Amplification.Ports) == 0 {
		errs = append(errs, errors.New("amplification.ports: must list at least one port"))
	}
	if len(c.Sweep.Ports) == 0 {
		errs = append(errs, errors.New("sweep.ports: must list at least one port"))
	}
	for name, nets := range c.Exclude {
		if !slices.Contains(Names(), name) {
			errs = append(errs, fmt.Errorf("exclude: unknown detection %q; known: %s", name, strings.Join(Names(), ", ")))
		}
		for _, n := range nets {
			if _, err := netip.ParsePrefix(n); err != nil {
				errs = append(errs, fmt.Errorf("exclude.%s: %w", name, err))
			}
		}
	}
	if len(c.BruteForce.Ports) == 0 {
		errs = append(errs, errors.New("brute-force.ports: must list at least one port"))
	}
	if c.Tor.Enabled && c.Tor.Feed == "" {
		errs = append(errs, errors.New("tor.feed: must name the threat feed listing Tor relays"))
	}
	if c.DDoS.MinBPS == 0 && c.DDoS.MinPPS == 0 && c.DDoS.MinFlowsPerSecond == 0 {
		errs = append(errs, errors.New("ddos: at least one of min-bps, min-pps and min-flows-per-second must be set"))
	}
	if c.SYNFlood.MinPPS == 0 {
		errs = append(errs, errors.New("syn-flood.min-pps: must be positive"))
	}
	if c.Amplification.MinBPS == 0 {
		errs = append(errs, errors.New("amplification.min-bps: must be positive"))
	}
	if c.Exfiltration.MinBytes == 0 {
		errs = append(errs, errors.New("exfiltration.min-bytes: must be positive"))
	}
	return errors.Join(errs...)
}
