package demo

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// Config configures the demo exporter. Flag names in validation errors are those of
// `sluice demo`.
type Config struct {
	// Target is where NetFlow v5, NetFlow v9 and IPFIX datagrams go, as host:port (--target).
	Target string
	// SFlowTarget is where sFlow datagrams go (--sflow-target); empty means Target.
	SFlowTarget string
	// Rate is the number of flows sent per second, over all protocols (--rate).
	Rate int
	// Duration stops the run after this long (--duration); 0 means no time limit.
	Duration time.Duration
	// Count stops the run after this many flows (--count); 0 means no count limit. With neither
	// a Duration nor a Count, Run stops only when its context is cancelled.
	Count uint64
	// Protocols to send, among netflow9, ipfix, sflow5 and netflow5 (--protocols). Flows are
	// shared round-robin between all exporters of all protocols.
	Protocols []string
	// Exporters is the number of simulated exporters per protocol (--exporters), each with its
	// own address, observation domain (source ID, engine ID, sub-agent ID), sequence numbers,
	// uptime and sampling rate.
	Exporters int
	// Interfaces is the number of interfaces of each exporter (--interfaces).
	Interfaces int
	// Seed makes the traffic reproducible (--seed): the same seed and the same sequence of
	// Generate calls give the same datagrams.
	Seed uint64
	// TemplateRefresh resends NetFlow v9 and IPFIX templates this often (--template-refresh);
	// 0 disables time-based refresh. Templates always go in an exporter's first datagram.
	TemplateRefresh time.Duration
	// TemplateRefreshDatagrams resends templates every this many datagrams of an exporter
	// (--template-refresh-datagrams); 0 disables it.
	TemplateRefreshDatagrams int
	// FlushInterval is the longest a flow waits in a datagram that is not full
	// (--flush-interval), like an exporter's export timer; 0 sends every datagram at the end of
	// each pacing step, usually with a single flow at low rates.
	FlushInterval time.Duration
	// MaxDatagramSize bounds the UDP payload of a datagram (--max-datagram-size).
	MaxDatagramSize int
	// IPv6Share is the fraction of flows between IPv6 addresses (--ipv6-share); NetFlow v5 is
	// IPv4-only and ignores it.
	IPv6Share float64
	// BindSources sends each exporter's datagrams from its own address, 127.0.X.Y
	// (--bind-sources). It needs a loopback target; Linux answers the whole of 127.0.0.0/8 on
	// the loopback interface. By default every socket binds the wildcard address, so all
	// exporters share the address the kernel picks, and observation domains tell them apart.
	BindSources bool
	// ProgressInterval is how often Run reports progress (--progress-interval).
	ProgressInterval time.Duration
	// CounterInterval makes each sFlow exporter send a counter sample (generic interface and
	// Ethernet counters) of every interface at start and then this often (--counter-interval),
	// as agents poll their interfaces; 0 sends none. The counters add up the sampled traffic
	// (each sample counts for its sampling rate) to totals since the exporter booted.
	CounterInterval time.Duration
	// InterfaceNames makes each NetFlow v9 and IPFIX exporter announce its interfaces' names and
	// descriptions in options data (--interface-names): at start, before its first flows, and
	// again with each template refresh.
	InterfaceNames bool

	// Load-test settings: they trade the traffic model's variety for speed.

	// Pool makes each exporter draw this many flows once and replay them in turn (--pool),
	// with a unique source port and address per flow (see Generator); 0 draws every flow from
	// the model, which costs about ten times more per flow. Replayed flows are TCP and UDP only.
	Pool int
	// SendBatch sends up to this many datagrams per system call (--send-batch), with sendmmsg
	// on one socket that sets each datagram's source address (IP_PKTINFO); it needs
	// BindSources. All exporters then share one source port. 0 or 1 sends each datagram with
	// its own call, from each exporter's own socket.
	SendBatch int
	// PacingInterval is how often Run sends the flows that have come due (--pacing-interval).
	PacingInterval time.Duration

	// Security scenarios.

	// TimeScale compresses flow time (--time-scale): flows are dated as if this many seconds
	// passed for every second of the run, ending at the wall clock when the run ends (an hour
	// of traffic sent in a minute with 60 and --duration 1m). 1 (or 0) dates flows in real
	// time. Above 1 it needs a Duration, and no sFlow, which carries no flow times.
	TimeScale float64
	// Attacks are the attack scenarios injected among the benign traffic (--attacks; see
	// AttackNames). They need Duration × TimeScale ≥ AttackSpan of flow time.
	Attacks []string
	// Truth, when not nil, receives the ground truth of the injected scenarios.
	Truth *GroundTruth
}

// DefaultConfig returns the traffic `sluice demo` starts from: 1000 flows/s of all four
// protocols for 10 s, from 4 exporters each, to a collector on this machine. It sends flows
// only: `sluice demo` adds sFlow counter samples every DefaultCounterInterval and interface
// names (CounterInterval, InterfaceNames), which tests that count datagrams or templates
// leave out.
func DefaultConfig() Config {
	return Config{
		Target:           "127.0.0.1:2055",
		Rate:             1000,
		Duration:         10 * time.Second,
		Protocols:        []string{NetFlow9, IPFIX, SFlow5, NetFlow5},
		Exporters:        4,
		Interfaces:       8,
		Seed:             1,
		TemplateRefresh:  30 * time.Second,
		FlushInterval:    100 * time.Millisecond,
		MaxDatagramSize:  1400,
		IPv6Share:        0.2,
		ProgressInterval: time.Second,
		PacingInterval:   10 * time.Millisecond,
		TimeScale:        1,
	}
}

// DefaultCounterInterval is how often `sluice demo`'s sFlow exporters send each interface's
// counters, the default polling interval of sFlow agents (hsflowd, most switches).
const DefaultCounterInterval = 20 * time.Second

// Limits of the configuration.
const (
	maxExporters  = 1000
	maxPool       = 1 << 20
	maxSendBatch  = 1024
	maxInterfaces = 64
	// minDatagramSize fits a datagram of any protocol holding templates and one flow.
	minDatagramSize = 512
	// maxDatagramSize is the largest UDP payload over IPv4.
	maxDatagramSize = 65507
)

// Validate reports every invalid setting, each naming its flag.
func (c *Config) Validate() error {
	errs := []error{c.validateTraffic()}
	if err := validateTarget("--target", c.Target); err != nil {
		errs = append(errs, err)
	}
	if c.SFlowTarget != "" {
		if err := validateTarget("--sflow-target", c.SFlowTarget); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Rate <= 0 {
		errs = append(errs, fmt.Errorf("--rate must be > 0 flows per second, got %d", c.Rate))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("--duration must be >= 0, got %s", c.Duration))
	}
	if c.ProgressInterval <= 0 {
		errs = append(errs, fmt.Errorf("--progress-interval must be > 0, got %s", c.ProgressInterval))
	}
	if c.PacingInterval <= 0 {
		errs = append(errs, fmt.Errorf("--pacing-interval must be > 0, got %s", c.PacingInterval))
	}
	if c.SendBatch < 0 || c.SendBatch > maxSendBatch {
		errs = append(errs, fmt.Errorf("--send-batch must be between 0 and %d, got %d", maxSendBatch, c.SendBatch))
	}
	if !(c.TimeScale == 0 || c.TimeScale >= 1) {
		errs = append(errs, fmt.Errorf("--time-scale must be at least 1, got %v", c.TimeScale))
	} else if c.TimeScale > 1 {
		if c.Duration <= 0 {
			errs = append(errs, errors.New("--time-scale needs a --duration: flow time ends at the wall clock when the run ends"))
		}
		if slices.Contains(c.Protocols, SFlow5) {
			errs = append(errs, errors.New("--time-scale cannot date sFlow samples, which carry no flow times: leave sflow5 out of --protocols"))
		}
	}
	if len(c.Attacks) > 0 {
		if span := time.Duration(float64(c.Duration) * c.scale()); span < AttackSpan {
			errs = append(errs, fmt.Errorf("--attacks needs %s of flow time (--duration × --time-scale), got %s", AttackSpan, span))
		}
		for _, a := range c.Attacks {
			if !knownScenario(a) {
				errs = append(errs, fmt.Errorf("--attacks: unknown scenario %q", a))
			}
		}
		if c.Pool > 0 {
			errs = append(errs, errors.New("--attacks cannot be injected with --pool"))
		}
	}
	if c.SendBatch > 1 && !c.BindSources {
		errs = append(errs, errors.New("--send-batch needs --bind-sources: batched datagrams carry each exporter's address"))
	}
	return errors.Join(errs...)
}

// scale is TimeScale, 0 meaning 1.
func (c *Config) scale() float64 { return max(1, c.TimeScale) }

// validateTraffic checks the settings the Generator uses.
func (c *Config) validateTraffic() error {
	var errs []error
	if len(c.Protocols) == 0 {
		errs = append(errs, fmt.Errorf("--protocols must name at least one of %v", protocolNames))
	}
	for i, p := range c.Protocols {
		if !slices.Contains(protocolNames[:], p) {
			errs = append(errs, fmt.Errorf("--protocols: unknown protocol %q, want some of %v", p, protocolNames))
		} else if slices.Contains(c.Protocols[:i], p) {
			errs = append(errs, fmt.Errorf("--protocols: %q is listed twice", p))
		}
	}
	if c.Exporters < 1 || c.Exporters > maxExporters {
		errs = append(errs, fmt.Errorf("--exporters must be between 1 and %d, got %d", maxExporters, c.Exporters))
	}
	if c.Interfaces < 2 || c.Interfaces > maxInterfaces {
		errs = append(errs, fmt.Errorf("--interfaces must be between 2 and %d, got %d", maxInterfaces, c.Interfaces))
	}
	if c.Pool < 0 || c.Pool > maxPool {
		errs = append(errs, fmt.Errorf("--pool must be between 0 and %d flows, got %d", maxPool, c.Pool))
	}
	if c.TemplateRefresh < 0 {
		errs = append(errs, fmt.Errorf("--template-refresh must be >= 0, got %s", c.TemplateRefresh))
	}
	if c.TemplateRefreshDatagrams < 0 {
		errs = append(errs, fmt.Errorf("--template-refresh-datagrams must be >= 0, got %d", c.TemplateRefreshDatagrams))
	}
	if c.CounterInterval < 0 {
		errs = append(errs, fmt.Errorf("--counter-interval must be >= 0, got %s", c.CounterInterval))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("--flush-interval must be >= 0, got %s", c.FlushInterval))
	}
	if c.MaxDatagramSize < minDatagramSize || c.MaxDatagramSize > maxDatagramSize {
		errs = append(errs, fmt.Errorf("--max-datagram-size must be between %d and %d bytes, got %d", minDatagramSize, maxDatagramSize, c.MaxDatagramSize))
	}
	if !(c.IPv6Share >= 0 && c.IPv6Share <= 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("--ipv6-share must be between 0 and 1, got %v", c.IPv6Share))
	}
	return errors.Join(errs...)
}

func validateTarget(flag, target string) error {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("%s must be host:port, got %q: %w", flag, target, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("%s must be host:port with both parts, got %q", flag, target)
	}
	return nil
}
