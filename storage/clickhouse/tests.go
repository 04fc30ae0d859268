//go:build !release

package clickhouse

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"time"

	"sluice/pipeline/record"
)

// GenerateFlows returns n flows with every column set to a pseudo-random
// value drawn from seed, for tests and benchmarks. Values cover each type's
// range (64-bit integers above 2^63, IPv4-mapped and IPv6 addresses, every
// flow type); flow start and end times fall in 2020-2035, receive times in
// one day of that range.
func GenerateFlows(n int, seed uint64) []record.Flow {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	flows := make([]record.Flow, n)
	const from, to = 1577836800, 2051222400 // 2020-01-01, 2035-01-01
	// A batch's receive times span one day, as a real batch's minutes do:
	// ClickHouse refuses an insert that touches more than 100 (daily)
	// partitions.
	day := from + rng.Int64N((to-from)/86400)*86400
	for i := range flows {
		f := &flows[i]
		for _, c := range record.Columns {
			switch c.Kind {
			case record.KindUInt8:
				c.SetUint(f, rng.Uint64N(1<<8))
			case record.KindUInt16:
				c.SetUint(f, rng.Uint64N(1<<16))
			case record.KindUInt32:
				c.SetUint(f, rng.Uint64N(1<<32))
			case record.KindUInt64:
				c.SetUint(f, rng.Uint64())
			case record.KindEnum8:
				c.SetUint(f, rng.Uint64N(uint64(strings.Count(c.Type, "' = "))))
			case record.KindDateTime:
				c.SetUint(f, uint64(day+rng.Int64N(86400))*1e9+rng.Uint64N(1e9))
			case record.KindDateTime64ms:
				c.SetUint(f, uint64(from*1000+rng.Int64N((to-from)*1000)))
			case record.KindIPv6:
				*c.Addr(f) = generateAddr(rng)
			case record.KindString:
				*c.Str(f) = generatedStrings[rng.IntN(len(generatedStrings))]
			case record.KindFeedSet:
				c.SetUint(f, uint64(generatedFeeds()[rng.IntN(len(generatedFeeds()))]))
			case record.KindCommunityID:
				if rng.IntN(4) != 0 {
					h := c.Hash(f)
					for i := range h {
						h[i] = byte(rng.Uint32())
					}
				}
			}
		}
	}
	return flows
}

func generateAddr(rng *rand.Rand) record.Addr {
	switch rng.IntN(8) {
	case 0:
		return record.Addr{} // unknown
	case 1:
		return record.Addr{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 15: byte(rng.IntN(256))} // 2001:db8::x
	case 2, 3, 4:
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return record.AddrFrom4(b)
	default:
		var a record.Addr
		for i := range a {
			a[i] = byte(rng.IntN(256))
		}
		a[0] = 0x20 | a[0]&0x1f // global unicast, never mistaken for mapped IPv4
		return a
	}
}

// generatedStrings are GenerateFlows' string values: empty (not enriched),
// ASCII and multi-byte UTF-8.
var generatedStrings = []string{"", "edge-1", "Zürich", "uplink: AS64500 'transit'"}

// generatedFeeds returns GenerateFlows' feed sets: none, one, two.
var generatedFeeds = sync.OnceValue(func() []record.FeedSet {
	var sets []record.FeedSet
	var all record.FeedSet
	for _, name := range []string{"test-feed-a", "test-feed-b"} {
		bit, ok := record.RegisterFeed(name)
		if !ok {
			panic("clickhouse: cannot register " + name)
		}
		sets = append(sets, bit)
		all |= bit
	}
	return append(sets, 0, all)
})

// GenerateDemoShapedFlows returns n flows, for benchmarks, shaped like
// `sluice demo`'s traffic at about 200k records/s: 64 exporters with 4
// uplinks and 12 access ports each; a private client (AS 0, no country)
// behind an access port and a public server behind an uplink, in one of
// 200 AS numbers drawn with a heavy head (a few carry most flows, as on
// real links); requests and answers (60/40) swap the sides; received over
// half a minute (a 50k-row batch at that rate). The rollups then hold far
// fewer rows than the batch, as they do on real traffic.
func GenerateDemoShapedFlows(n int, seed uint64) []record.Flow {
	rng := rand.New(rand.NewPCG(seed, 0xdeb0))
	flows := GenerateFlows(n, seed)
	start := time.Date(2026, 12, 7, 10, 0, 50, 0, time.UTC).Add(time.Duration(seed) * time.Minute)
	countries := []string{"US", "DE", "FR", "JP", "GB", "NL", "BR", "IN", "CN", "ZA"}
	sites := []string{"par", "ams", "fra", "lon", "nyc", "sjc", "sin", "syd"}
	for i := range flows {
		f := &flows[i]
		e := rng.IntN(64)
		f.TimeReceived = start.Add(time.Duration(i) * 30 * time.Second / time.Duration(n)).UnixNano()
		f.ExporterAddress = record.AddrFrom4([4]byte{10, 0, 1, byte(e)})
		f.ExporterName = demoExporterNames[e]
		// An exporter's and an interface's attributes are theirs, not the
		// flow's: random ones would give the exporters table a row a flow.
		f.ExporterGroup, f.ExporterRole, f.ExporterSite = "edge", []string{"border", "core", "access"}[e%3], sites[e%8]
		f.ExporterRegion, f.ExporterTenant = []string{"eu", "us", "ap"}[e%3], ""
		f.FlowType = record.FlowType(1 + e%3)
		access, uplink := uint32(4+rng.IntN(12)), uint32(rng.IntN(4))
		skew := rng.Float64()
		serverAS := uint32(64500 + int(skew*skew*skew*200))
		site, tenant := sites[e%8], sites[(e/8)%8]
		country := countries[serverAS%10]
		f.Proto = []uint8{6, 6, 6, 6, 17, 17, 1}[rng.IntN(7)]
		f.EType, f.ForwardingStatus = 0x800, 64
		f.InIfIndex, f.OutIfIndex = access, uplink
		f.SrcAS, f.DstAS, f.SrcCountry, f.DstCountry = 0, serverAS, "", country
		f.SrcNetSite, f.DstNetSite, f.SrcNetTenant, f.DstNetTenant = site, "", tenant, ""
		f.TrafficDirection = record.TrafficDirection(2) // outbound
		if rng.IntN(10) >= 6 {                          // the server's answer
			f.InIfIndex, f.OutIfIndex = uplink, access
			f.SrcAS, f.DstAS, f.SrcCountry, f.DstCountry = serverAS, 0, country, ""
			f.SrcNetSite, f.DstNetSite, f.SrcNetTenant, f.DstNetTenant = "", site, "", tenant
			f.TrafficDirection = record.TrafficDirection(1) // inbound
		}
		f.FlowDirection = uint8(rng.IntN(2))
		f.InIfName, f.OutIfName = demoIfNames[f.InIfIndex], demoIfNames[f.OutIfIndex]
		f.InIfSpeed, f.OutIfSpeed = 1e10, 1e10
		f.InIfBoundary, f.OutIfBoundary = demoBoundary(f.InIfIndex), demoBoundary(f.OutIfIndex)
		f.InIfDescription, f.OutIfDescription = demoIfDescription(f.InIfIndex), demoIfDescription(f.OutIfIndex)
		f.InIfProvider, f.OutIfProvider = demoIfProvider(f.InIfIndex), demoIfProvider(f.OutIfIndex)
		f.InIfConnectivity, f.OutIfConnectivity = demoIfConnectivity(f.InIfIndex), demoIfConnectivity(f.OutIfIndex)
		f.Bytes, f.Packets, f.SamplingRate = uint64(40+rng.IntN(1460)), uint64(1+rng.IntN(10)), 1000
	}
	return flows
}

var demoExporterNames = func() []string {
	names := make([]string, 64)
	for i := range names {
		names[i] = fmt.Sprint("edge-", i)
	}
	return names
}()

var demoIfNames = func() []string {
	names := make([]string, 16)
	for i := range names {
		names[i] = fmt.Sprint("et-0/0/", i)
	}
	return names
}()

// demoIfDescription, demoIfProvider and demoIfConnectivity are an
// interface's attributes in GenerateDemoShapedFlows: uplinks (0-3) go to
// transit providers, access ports to customers.
// The descriptions are shared strings, as the enrichment's are (records
// decoded from the wire intern theirs, record.Intern), not one a flow.
func demoIfDescription(index uint32) string {
	if index < 4 {
		return demoTransitDescriptions[index]
	}
	return "customer port"
}

var demoTransitDescriptions = [4]string{"transit cogent", "transit telia", "transit lumen", "transit ntt"}

func demoIfProvider(index uint32) string {
	if index < 4 {
		return []string{"cogent", "telia", "lumen", "ntt"}[index]
	}
	return ""
}

func demoIfConnectivity(index uint32) string {
	if index < 4 {
		return "transit"
	}
	return "customer"
}

// demoBoundary is an interface's boundary in GenerateDemoShapedFlows:
// uplinks (0-3) are external, access ports internal.
func demoBoundary(index uint32) record.Boundary {
	if index < 4 {
		return record.Boundary(1)
	}
	return record.Boundary(2)
}

// ProcessCPU is the user and system time of the whole process, for
// benchmarks: the embedded engine's threads (inserts, merges) included, so
// a benchmark reports what an insert costs the machine, which moves less
// than its wall time on a shared machine.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
