package netflow

import (
	"errors"
	"io"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// Reasons a datagram, or part of it, could not be decoded. They are stable
// metric label values.
const (
	ReasonTruncated        = "truncated"          // shorter than its headers say
	ReasonUnknownVersion   = "unknown_version"    // not NetFlow v5, v9 or IPFIX
	ReasonTemplateNotFound = "template_not_found" // data sets whose template is unknown were skipped
	ReasonMalformed        = "malformed"          // inconsistent lengths or structure
	ReasonPanic            = "panic"              // a decoder panicked; recovered and counted
)

// DecodeError is the error Decode returns. Reason classifies it for metrics;
// Err is the underlying cause (often a goflow2 error).
type DecodeError struct {
	Reason string
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Err == nil {
		return "netflow: " + e.Reason
	}
	return "netflow: " + e.Reason + ": " + e.Err.Error()
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

// classifyGoflow2 turns an error from goflow2's v9/IPFIX decoder into a
// DecodeError. Missing templates are joined with nothing else (goflow2 stops
// at the first other error), so errors.Is is enough to tell them apart.
func classifyGoflow2(err error) *DecodeError {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &DecodeError{Reason: ReasonTruncated, Err: err}
	case errors.Is(err, netflow.ErrorTemplateNotFound):
		return &DecodeError{Reason: ReasonTemplateNotFound, Err: err}
	}
	return &DecodeError{Reason: ReasonMalformed, Err: err}
}
