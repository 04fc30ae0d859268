package decodeerr

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestReason(t *testing.T) {
	wrapped := fmt.Errorf("context: %w", New("sflow", Truncated, io.EOF))
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("other"), Malformed},
		{wrapped, Truncated},
		{FromEOF("netflow", fmt.Errorf("x: %w", io.ErrUnexpectedEOF)), Truncated},
		{FromEOF("netflow", errors.New("bad")), Malformed},
		{Recovered("netflow", "boom"), Panic},
	}
	for _, tc := range cases {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if got := New("sflow", Malformed, nil).Error(); got != "sflow: malformed" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(wrapped, io.EOF) {
		t.Error("cause not reachable through Unwrap")
	}
}
