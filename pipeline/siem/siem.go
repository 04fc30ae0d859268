// Package siem delivers enriched flows and alerts to security tools: a
// Sink is a filter, a Format (ECS or OCSF JSON, CEF) and a Transport
// (Kafka, syslog, Splunk HEC), with at-least-once delivery tied to the
// pipeline's acknowledgements. A Sink is a pipeline.Sink for flows (the
// loop acknowledges a batch only when every sink has it) and an alert sink
// for the detections' scheduler.
//
// Formats live in subpackages (ecs, ocsf, cef) and transports too (kafka,
// syslog, hec); this package holds what they share.
package siem

import (
	"context"
	"strconv"
	"time"

	"sluice/pipeline/record"
)

// Kind says what an event carries.
type Kind uint8

// Event kinds.
const (
	KindFlow  Kind = 1
	KindAlert Kind = 2
)

// String returns the kind's name, as configs and metrics spell it.
func (k Kind) String() string {
	switch k {
	case KindFlow:
		return "flow"
	case KindAlert:
		return "alert"
	default:
		return "unknown"
	}
}

// Event is one encoded document, ready for a transport.
type Event struct {
	Kind Kind
	// ID is stable across redeliveries: for a flow, the insert's
	// deduplication token and the record's index in it; for an alert,
	// Alert.ID and its update time. Receivers deduplicate on it.
	ID string
	// Time is the event's own time (flow end, alert update).
	Time time.Time
	// Body is the formatted document (JSON, or a CEF line without framing).
	Body []byte
}

// Format encodes flows and alerts into one SIEM's documents. Append
// methods append to dst and return it, so that a sink reuses its buffers.
type Format interface {
	// Name is the format's config name ("ecs", "ocsf", "cef").
	Name() string
	AppendFlow(dst []byte, f *record.Flow, id string) ([]byte, error)
	AppendAlert(dst []byte, a *record.Alert) ([]byte, error)
}

// Transport delivers events to one receiver. Send returns nil only once
// the receiver has acknowledged every event (Kafka: acks from all
// in-sync replicas; syslog: written and flushed over TCP/TLS; HEC: the
// indexer acknowledged); on error the caller sends them all again, so a
// receiver may see an event twice, never lose one.
type Transport interface {
	// Name is the transport's config name ("kafka", "syslog", "hec").
	Name() string
	Send(ctx context.Context, events []Event) error
	// Ready reports whether the receiver is reachable now (HEC: its
	// health endpoint), for /readyz.
	Ready(ctx context.Context) error
	Close() error
}

// AlertEventID is the event ID of one state of an alert: the alert's ID
// and the time of this update, so a redelivered update carries the same
// ID and each update a new one.
func AlertEventID(a *record.Alert) string {
	return a.ID + "@" + strconv.FormatInt(a.Time.UnixNano(), 10)
}

// FlowEventID is the event ID of the record at index in the batches
// written under token: the same on every redelivery of the batches.
func FlowEventID(dst []byte, token string, index int) []byte {
	dst = append(dst, token...)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(index), 10)
}
