package demo

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Generator simulates a set of exporters and produces their datagrams, without sockets. It is
// not safe for concurrent use.
type Generator struct {
	cfg       Config
	model     *model
	exporters []*exporter
	next      int  // round-robin position in exporters
	scratch   Flow // the flow being drawn
	dgram     Datagram
	// Reused for counter samples and interface names.
	samples  []InterfaceCounters
	names    []InterfaceName
	stats    Stats
	poolTime time.Time // the export time the replay pools were drawn for
}

// exporter is one simulated exporter and the state its protocol keeps.
type exporter struct {
	protocol     string
	index        int
	addr         netip.Addr
	domain       uint32
	boot         time.Time
	samplingRate uint32
	ifaces       []iface
	uplinks      int // ifaces[:uplinks] are uplinks, the rest access ports

	// sequence is the header's sequence number: export packets sent (NetFlow v9), data records
	// sent (IPFIX), flows sent (NetFlow v5) or datagrams sent (sFlow).
	sequence uint32
	// Template state (NetFlow v9, IPFIX).
	templatesSent  bool
	lastTemplates  time.Time
	sinceTemplates int // datagrams sent since (and including) the last one with templates
	withTemplates  bool
	// Per-interface flow_sample state (sFlow): the source ID is the input interface.
	sampleSequence []uint32
	samplePool     []uint32
	// Per-interface counters (sFlow), and when they are next sent (Config.CounterInterval).
	counters     []ifaceCounters
	nextCounters time.Time
	// Interface names (NetFlow v9, IPFIX; Config.InterfaceNames): sent at least once, and when.
	namesSent bool
	lastNames time.Time

	// The datagram being filled: flows in encoding order (IPv4 then IPv6 for NetFlow v9 and
	// IPFIX, which send one data set per template), and its encoded length so far.
	pending  []Flow
	pending6 []Flow
	length   int
	opened   time.Time // when the datagram's first flow was drawn
	out      []Flow
	buf      []byte

	// Replay pool (Config.Pool): flows drawn once, as of poolTime, replayed in turn.
	pool     []Flow
	poolNext int
	// replayed numbers the exporter's replayed flows; it makes each one's source unique.
	replayed uint32
}

func (e *exporter) uplinkInterfaces() []iface { return e.ifaces[:e.uplinks] }
func (e *exporter) accessInterfaces() []iface { return e.ifaces[e.uplinks:] }

// ExporterInfo describes one simulated exporter.
type ExporterInfo struct {
	Protocol string
	// Address is the sFlow agent address, and the UDP source address when Config.BindSources.
	Address netip.Addr
	// ObservationDomain is the NetFlow v9 source ID, IPFIX observation domain ID, NetFlow v5
	// engine ID or sFlow sub-agent ID.
	ObservationDomain uint32
	SamplingRate      uint32
	Boot              time.Time // sysUptime origin
	Interfaces        []uint32  // ifIndexes
	// InterfaceNames are the interfaces' names and descriptions, in the order of Interfaces.
	// Only NetFlow v9 and IPFIX exporters announce them (Config.InterfaceNames).
	InterfaceNames []InterfaceName
}

// Sampling rates the exporters cycle through: flow exporters include unsampled ones (firewalls,
// IPFIX probes), sFlow agents always sample.
var (
	flowSamplingRates  = []uint32{1, 1000, 100, 10}
	sflowSamplingRates = []uint32{1000, 2048, 512, 4096}
	// observationDomainBase keeps the domains of different protocols apart.
	observationDomainBase = map[string]uint32{NetFlow9: 100, IPFIX: 200, SFlow5: 0, NetFlow5: 0}
)

// NewGenerator builds the exporters of cfg (only its traffic settings are used: protocols,
// exporters, interfaces, seed, template refresh, datagram size and IPv6 share). Exporters
// booted between 1 hour and 30 days before start.
func NewGenerator(cfg Config, start time.Time) (*Generator, error) {
	if err := cfg.validateTraffic(); err != nil {
		return nil, fmt.Errorf("demo: invalid configuration: %w", err)
	}
	g := &Generator{cfg: cfg, model: newModel(cfg.Seed, cfg.IPv6Share)}
	start = start.Truncate(time.Millisecond)
	for _, proto := range protocolNames { // a fixed order, whatever the order of cfg.Protocols
		if !slices.Contains(cfg.Protocols, proto) {
			continue
		}
		for i := range cfg.Exporters {
			k := len(g.exporters)
			uptime := time.Hour + time.Duration(g.model.rng.Int64N(int64(29*24*time.Hour/time.Millisecond)))*time.Millisecond
			e := &exporter{
				protocol:     proto,
				index:        k,
				addr:         exporterAddress(k),
				domain:       observationDomainBase[proto] + uint32(i),
				boot:         start.Add(-uptime),
				samplingRate: flowSamplingRates[i%len(flowSamplingRates)],
				ifaces:       newInterfaces(k, cfg.Interfaces),
				uplinks:      max(1, cfg.Interfaces/4),
				buf:          make([]byte, 0, cfg.MaxDatagramSize),
			}
			if proto == SFlow5 {
				e.samplingRate = sflowSamplingRates[i%len(sflowSamplingRates)]
				e.sampleSequence = make([]uint32, cfg.Interfaces)
				e.samplePool = make([]uint32, cfg.Interfaces)
				e.counters = make([]ifaceCounters, cfg.Interfaces)
				for j := range e.ifaces {
					e.counters[j] = bootCounters(&e.ifaces[j], uptime)
				}
			}
			g.exporters = append(g.exporters, e)
		}
	}
	if cfg.Pool > 0 {
		g.poolTime = start.Truncate(time.Second)
		for _, e := range g.exporters {
			e.pool = make([]Flow, cfg.Pool)
			for j := range e.pool {
				g.drawTransport(&e.pool[j], e, g.poolTime)
			}
		}
	}
	return g, nil
}

// drawTransport draws a TCP or UDP flow, never ICMP: a replayed flow's uniqueness lives in its
// source port, which every protocol encodes only for TCP and UDP.
func (g *Generator) drawTransport(f *Flow, e *exporter, now time.Time) {
	for {
		g.model.fill(f, e, now)
		if f.IPProto == ipProtoTCP || f.IPProto == ipProtoUDP {
			return
		}
	}
}

// replay copies e's next pool flow into f, moved in time to export, and gives it a source no
// other flow of e has: the replay number n of e's flow becomes the source port (its low 16
// bits) and the last two bytes of the source address (its high 16 bits). So an exporter's
// (source address, source port) pairs are distinct for its first 2^32 flows, which lets a
// benchmark count duplicates as well as losses. The address may leave the drawn prefix.
func (g *Generator) replay(f *Flow, e *exporter, export time.Time) {
	*f = e.pool[e.poolNext]
	e.poolNext++
	if e.poolNext == len(e.pool) {
		e.poolNext = 0
	}
	shift := export.Sub(g.poolTime)
	f.Start, f.End = f.Start.Add(shift), f.End.Add(shift)
	n := e.replayed
	e.replayed++
	f.SrcPort = uint16(n)
	a := f.SrcAddr.As16()
	a[14], a[15] = byte(n>>24), byte(n>>16)
	if f.SrcAddr.Is4() {
		f.SrcAddr = netip.AddrFrom4([4]byte(a[12:]))
	} else {
		f.SrcAddr = netip.AddrFrom16(a)
	}
}

// exporterAddress is the address of exporter number k: 127.0.1.1, 127.0.1.2, …, away from
// 127.0.0.1 so that a bound source is told apart from the default one.
func exporterAddress(k int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 0, byte(1 + k/250), byte(1 + k%250)})
}

// Exporters describes the simulated exporters; Datagram.Exporter indexes this slice.
func (g *Generator) Exporters() []ExporterInfo {
	infos := make([]ExporterInfo, len(g.exporters))
	for i, e := range g.exporters {
		infos[i] = ExporterInfo{
			Protocol:          e.protocol,
			Address:           e.addr,
			ObservationDomain: e.domain,
			SamplingRate:      e.samplingRate,
			Boot:              e.boot,
		}
		for _, ifc := range e.ifaces {
			infos[i].Interfaces = append(infos[i].Interfaces, ifc.index)
			infos[i].InterfaceNames = append(infos[i].InterfaceNames, InterfaceName{IfIndex: ifc.index, Name: ifc.name, Description: ifc.descr})
		}
	}
	return infos
}

// Stats counts every datagram the generator has encoded and handed to a callback.
func (g *Generator) Stats() Stats { return g.stats }

// Generate draws n flows, shared round-robin between the exporters, as of now, and hands each
// datagram to emit once it is full or, like an exporter's export timer, once it has been open
// for Config.FlushInterval (with 0, every open datagram is sent before Generate returns).
// Export times are the sending call's now truncated to the second; flows end at or before it.
// First come the datagrams that are due by time rather than by traffic: sFlow counter samples
// and NetFlow v9/IPFIX interface names (see Config). An error from emit stops Generate and is
// returned as is.
func (g *Generator) Generate(now time.Time, n int, emit func(*Datagram) error) error {
	export := now.Truncate(time.Second)
	if err := g.periodic(now, emit); err != nil {
		return err
	}
	for range n {
		e := g.exporters[g.next]
		g.next = (g.next + 1) % len(g.exporters)
		if err := g.add(e, now, export, emit); err != nil {
			return err
		}
	}
	return g.flushOpen(now, g.cfg.FlushInterval, emit)
}

// Flush sends every open datagram, so that every flow drawn so far has been emitted, and the
// counter samples and interface names that are due.
func (g *Generator) Flush(now time.Time, emit func(*Datagram) error) error {
	if err := g.periodic(now, emit); err != nil {
		return err
	}
	return g.flushOpen(now, 0, emit)
}

// periodic sends what exporters send on a timer rather than with their flows: every sFlow
// exporter's counter samples, at start and every Config.CounterInterval, and every NetFlow v9
// and IPFIX exporter's interface names, at start and every Config.TemplateRefresh.
func (g *Generator) periodic(now time.Time, emit func(*Datagram) error) error {
	export := now.Truncate(time.Second)
	for _, e := range g.exporters {
		var err error
		switch e.protocol {
		case SFlow5:
			if g.cfg.CounterInterval > 0 && !now.Before(e.nextCounters) {
				e.nextCounters = now.Add(g.cfg.CounterInterval)
				err = g.sendCounters(e, export, emit)
			}
		case NetFlow9, IPFIX:
			if g.cfg.InterfaceNames && (!e.namesSent || g.cfg.TemplateRefresh > 0 && export.Sub(e.lastNames) >= g.cfg.TemplateRefresh) {
				e.namesSent, e.lastNames = true, export
				err = g.sendNames(e, export, emit)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sendCounters sends a counter sample of each of e's interfaces, as many per datagram as fit.
func (g *Generator) sendCounters(e *exporter, export time.Time, emit func(*Datagram) error) error {
	per := max(1, (g.cfg.MaxDatagramSize-sflowDatagramHeaderV4)/sflowCounterSampleLength)
	for from := 0; from < len(e.ifaces); from += per {
		g.samples = g.samples[:0]
		for j := from; j < min(from+per, len(e.ifaces)); j++ {
			g.samples = append(g.samples, e.sample(j))
		}
		e.buf = AppendSFlow5Counters(e.buf[:0], SFlow5Header{
			Agent: e.addr, SubAgentID: e.domain, Sequence: e.sequence, Boot: e.boot, ExportTime: export,
		}, g.samples)
		e.sequence++
		g.dgram = Datagram{Protocol: e.protocol, Exporter: e.index, Source: e.addr, Payload: e.buf, Counters: g.samples}
		g.stats.record(&g.dgram)
		if err := emit(&g.dgram); err != nil {
			return err
		}
	}
	return nil
}

// sendNames sends the names of all of e's interfaces in options data, with the options
// template in the first datagram, as many records per datagram as fit.
func (g *Generator) sendNames(e *exporter, export time.Time, emit func(*Datagram) error) error {
	system := e.addr.As4()
	for from, template := 0, true; from < len(e.ifaces); template = false {
		g.names = g.names[:0]
		for j := from; j < len(e.ifaces) && optionsLength(e.protocol, template, len(g.names)+1) <= g.cfg.MaxDatagramSize; j++ {
			ifc := &e.ifaces[j]
			g.names = append(g.names, InterfaceName{IfIndex: ifc.index, Name: ifc.name, Description: ifc.descr})
		}
		from += len(g.names)
		templates := 0
		if template {
			templates = 1
		}
		if e.protocol == NetFlow9 {
			e.buf = AppendNetFlow9Options(e.buf[:0], NetFlow9Header{
				Boot: e.boot, ExportTime: export, Sequence: e.sequence, SourceID: e.domain,
			}, template, g.names, system)
			e.sequence++
		} else {
			e.buf = AppendIPFIXOptions(e.buf[:0], IPFIXHeader{
				ExportTime: export, Sequence: e.sequence, ObservationDomain: e.domain,
			}, template, g.names)
			e.sequence += uint32(len(g.names)) // options data records are data records
		}
		g.dgram = Datagram{Protocol: e.protocol, Exporter: e.index, Source: e.addr, Payload: e.buf,
			Templates: templates, Interfaces: g.names}
		g.stats.record(&g.dgram)
		if err := emit(&g.dgram); err != nil {
			return err
		}
	}
	return nil
}

// flushOpen sends the datagrams open for at least age.
func (g *Generator) flushOpen(now time.Time, age time.Duration, emit func(*Datagram) error) error {
	for _, e := range g.exporters {
		if e.length > 0 && now.Sub(e.opened) >= age {
			if err := g.flush(e, now.Truncate(time.Second), emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// add draws one flow for e and adds it to e's datagram, sending the datagram first if the flow
// would not fit.
func (g *Generator) add(e *exporter, now, export time.Time, emit func(*Datagram) error) error {
	f := &g.scratch
	if e.pool != nil {
		g.replay(f, e, export)
	} else {
		g.model.fill(f, e, export)
	}
	return g.push(e, f, now, export, emit)
}

// push adds the flow f (drawn or injected) to e's datagram, sending the
// datagram first if the flow would not fit.
func (g *Generator) push(e *exporter, f *Flow, now, export time.Time, emit func(*Datagram) error) error {
	f.Protocol = e.protocol
	f.Exporter = e.addr
	f.ObservationDomain = e.domain
	f.SamplingRate = e.samplingRate
	f.SampleSequence, f.SamplePool, f.SampleDrops = 0, 0, 0

	if e.length > 0 && g.lengthWith(e, f) > g.cfg.MaxDatagramSize {
		if err := g.flush(e, export, emit); err != nil {
			return err
		}
	}
	if e.length == 0 {
		e.withTemplates = g.templatesDue(e, export)
		e.opened = now
	}
	if e.protocol == SFlow5 {
		// Sample numbering is per source ID (the input interface); the pool counts the packets
		// that could have been sampled, about samplingRate per sample.
		j := int(f.InIf) - int(e.ifaces[0].index)
		e.sampleSequence[j]++
		e.samplePool[j] += 1 + uint32(g.model.rng.Int64N(2*int64(e.samplingRate)))
		f.SampleSequence, f.SamplePool = e.sampleSequence[j], e.samplePool[j]
		e.countSampled(f)
	}
	e.length = g.lengthWith(e, f)
	if f.SrcAddr.Is6() && (e.protocol == NetFlow9 || e.protocol == IPFIX) {
		e.pending6 = append(e.pending6, *f)
	} else {
		e.pending = append(e.pending, *f)
	}
	return nil
}

// lengthWith is the length of e's datagram once f is added to it.
func (g *Generator) lengthWith(e *exporter, f *Flow) int {
	n4, n6 := len(e.pending), len(e.pending6)
	if f.SrcAddr.Is6() {
		n6++
	} else {
		n4++
	}
	withTemplates := e.withTemplates // decided when the datagram's first flow was added
	switch e.protocol {
	case NetFlow9:
		return netflow9Length(withTemplates, n4, n6)
	case IPFIX:
		return ipfixLength(withTemplates, n4, n6)
	case NetFlow5:
		if n4 > NetFlow5MaxFlows {
			return g.cfg.MaxDatagramSize + 1
		}
		return netflow5HeaderLength + n4*netflow5RecordLength
	default: // SFlow5
		if e.length == 0 {
			return sflowDatagramHeaderV4 + sflowSampleLength(f)
		}
		return e.length + sflowSampleLength(f)
	}
}

// templatesDue tells whether e's next datagram should carry its templates.
func (g *Generator) templatesDue(e *exporter, now time.Time) bool {
	if e.protocol != NetFlow9 && e.protocol != IPFIX {
		return false
	}
	switch {
	case !e.templatesSent:
		return true
	case g.cfg.TemplateRefreshDatagrams > 0 && e.sinceTemplates >= g.cfg.TemplateRefreshDatagrams:
		return true
	case g.cfg.TemplateRefresh > 0 && now.Sub(e.lastTemplates) >= g.cfg.TemplateRefresh:
		return true
	}
	return false
}

// flush encodes e's pending flows into one datagram, hands it to emit and advances e's
// sequence numbers.
func (g *Generator) flush(e *exporter, export time.Time, emit func(*Datagram) error) error {
	if e.protocol == SFlow5 {
		// sFlow samples carry no time: a collector stamps them on receipt, at about export.
		for i := range e.pending {
			e.pending[i].Start, e.pending[i].End = export, export
		}
	}
	flows := e.pending
	if len(e.pending6) > 0 {
		e.out = append(append(e.out[:0], e.pending...), e.pending6...)
		flows = e.out
	}
	templates := 0
	switch e.protocol {
	case NetFlow9:
		e.buf = AppendNetFlow9(e.buf[:0], NetFlow9Header{
			Boot: e.boot, ExportTime: export, Sequence: e.sequence, SourceID: e.domain,
		}, e.withTemplates, flows)
		e.sequence++
	case IPFIX:
		e.buf = AppendIPFIX(e.buf[:0], IPFIXHeader{
			ExportTime: export, Sequence: e.sequence, ObservationDomain: e.domain,
		}, e.withTemplates, flows)
		e.sequence += uint32(len(flows))
	case NetFlow5:
		e.buf = AppendNetFlow5(e.buf[:0], NetFlow5Header{
			Boot: e.boot, ExportTime: export, FlowSequence: e.sequence,
			EngineID: uint8(e.domain), SamplingInterval: uint16(e.samplingRate),
		}, flows)
		e.sequence += uint32(len(flows))
	case SFlow5:
		e.buf = AppendSFlow5(e.buf[:0], SFlow5Header{
			Agent: e.addr, SubAgentID: e.domain, Sequence: e.sequence,
			Boot: e.boot, ExportTime: export, RouterAS: routerAS,
		}, flows)
		e.sequence++
	}
	if e.withTemplates {
		templates = 2
		e.templatesSent, e.lastTemplates, e.sinceTemplates = true, export, 0
	}
	e.sinceTemplates++

	g.dgram = Datagram{
		Protocol:  e.protocol,
		Exporter:  e.index,
		Source:    e.addr,
		Payload:   e.buf,
		Flows:     flows,
		Templates: templates,
	}
	g.stats.record(&g.dgram)
	e.pending, e.pending6, e.length, e.withTemplates = e.pending[:0], e.pending6[:0], 0, false
	return emit(&g.dgram)
}
