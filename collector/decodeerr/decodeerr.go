// Package decodeerr is the error the flow decoders (collector/netflow,
// collector/sflow) return: a stable reason, usable as a metric label, and
// the underlying cause.
package decodeerr

import (
	"errors"
	"fmt"
	"io"
)

// Reasons a datagram, or part of it, could not be decoded. They are stable
// metric label values.
const (
	Truncated        = "truncated"          // shorter than its headers say
	UnknownVersion   = "unknown_version"    // not a version the decoder handles
	TemplateNotFound = "template_not_found" // data sets whose template is unknown were skipped
	Malformed        = "malformed"          // inconsistent lengths or structure
	Panic            = "panic"              // a decoder panicked; recovered and counted
)

// Error is the error the decoders return.
type Error struct {
	Decoder string // "netflow" or "sflow": prefixes the message
	Reason  string // one of the constants above
	Err     error  // the cause (often a goflow2 error); may be nil
}

// New returns an *Error.
func New(decoder, reason string, err error) *Error {
	return &Error{Decoder: decoder, Reason: reason, Err: err}
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Decoder + ": " + e.Reason
	}
	return e.Decoder + ": " + e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorReason returns Reason, so that a caller can classify the error
// through an interface without importing this package.
func (e *Error) ErrorReason() string { return e.Reason }

// Reason returns the reason of an *Error in err's chain, "" for nil and
// Malformed for any other error.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var de *Error
	if errors.As(err, &de) {
		return de.Reason
	}
	return Malformed
}

// FromEOF classifies an error from a goflow2 decoder: running out of bytes
// is Truncated, anything else Malformed.
func FromEOF(decoder string, err error) *Error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return New(decoder, Truncated, err)
	}
	return New(decoder, Malformed, err)
}

// Recovered turns a recovered panic value into an error with reason Panic.
func Recovered(decoder string, r any) *Error {
	return New(decoder, Panic, fmt.Errorf("recovered: %v", r))
}
