package record

import "time"

// Severity ranks an alert, as the alerts table's Enum8 stores it: never
// renumber.
type Severity uint8

// Severities, from the alerts table.
const (
	SeverityInfo     Severity = 1
	SeverityLow      Severity = 2
	SeverityMedium   Severity = 3
	SeverityHigh     Severity = 4
	SeverityCritical Severity = 5
)

// String returns the name the alerts table and the SIEM formats use.
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityLow:
		return "low"
	case SeverityMedium:
		return "medium"
	case SeverityHigh:
		return "high"
	case SeverityCritical:
		return "critical"
	default:
		return "unknown"
	}
}

// AlertState says where an alert is in its life: a detection raises it
// once (open), updates it while the event lasts, and closes it when the
// event stops.
type AlertState uint8

// Alert states.
const (
	AlertOpen    AlertState = 1
	AlertUpdated AlertState = 2
	AlertClosed  AlertState = 3
)

// String returns the state's name.
func (s AlertState) String() string {
	switch s {
	case AlertOpen:
		return "open"
	case AlertUpdated:
		return "updated"
	case AlertClosed:
		return "closed"
	default:
		return "unknown"
	}
}

// Alert is what a detection raises: one ongoing event, about one source,
// destination or both, with its evidence. The detections (storage/detect)
// produce it; the alerts table stores it; the SIEM sinks (pipeline/siem)
// deliver it. Addresses and ports are zero when the alert is not about one.
type Alert struct {
	// ID identifies the event for its whole life, the same in every
	// update and on every redelivery: SIEMs deduplicate and correlate on it.
	ID        string
	Detection string
	Severity  Severity
	State     AlertState
	// Summary is one human sentence ("10.0.0.5 scanned 1,024 ports of
	// 192.0.2.7").
	Summary string
	// FirstSeen and LastSeen bound the evidence flows by their own
	// timestamps (flow start/end, not arrival).
	FirstSeen, LastSeen time.Time
	// Time is when the detection raised or last updated the alert.
	Time time.Time

	ExporterAddress Addr
	SrcAddr         Addr
	DstAddr         Addr
	SrcPort         uint16
	DstPort         uint16
	Proto           uint8
	// Evidence, sampling-scaled.
	Bytes, Packets, Flows uint64
	// ThreatFeeds names the threat-intel feeds involved, if any.
	ThreatFeeds []string
	// DedupKey is the detection's key for the event (the alerts table's).
	DedupKey string
	// Details is detection-specific evidence as a JSON object.
	Details string
}
