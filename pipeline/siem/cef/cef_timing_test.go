package cef

import (
	"testing"

	"sluice/pipeline/siem/cef/ceftest"
)

func BenchmarkAppendAlert(b *testing.B) {
	f := New(Config{DeviceVersion: "1", DeviceExternalID: "s"})
	a := ceftest.Alert(0)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = f.AppendAlert(buf[:0], a)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendFlow(b *testing.B) {
	f := New(Config{DeviceVersion: "1", DeviceExternalID: "s"})
	fl := testFlow()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = f.AppendFlow(buf[:0], fl, "0123456789abcdef:42")
	}
	b.SetBytes(int64(len(buf)))
}
