package sflow

import (
	"errors"
	"io"
)

// Reasons a datagram, or part of it, could not be decoded. They are stable
// metric label values.
const (
	ReasonTruncated      = "truncated"       // shorter than its headers say
	ReasonUnknownVersion = "unknown_version" // not sFlow v5
	ReasonMalformed      = "malformed"       // inconsistent lengths or structure
	ReasonPanic          = "panic"           // a decoder panicked; recovered and counted
)

// DecodeError is the error Decode returns. Reason classifies it for metrics;
// Err is the underlying cause (often a goflow2 error).
type DecodeError struct {
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Err == nil {
		return "sflow: " + e.Reason
	}
	return "sflow: " + e.Reason + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Reason returns the reason of a *DecodeError in err's chain, "" for nil and
// "malformed" for any other error.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ReasonMalformed
}

// classifyGoflow2 turns an error from goflow2's sFlow decoder into a
// DecodeError.
func classifyGoflow2(err error) *DecodeError {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &DecodeError{Reason: ReasonTruncated, Err: err}
	}
	return &DecodeError{Reason: ReasonMalformed, Err: err}
}
