package detect

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigValidates(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// Each bad setting is refused, naming its key.
func TestConfigValidateNamesKeys(t *testing.T) {
	cases := []struct {
		key    string
		modify func(*Config)
	}{
		{"interval", func(c *Config) { c.Interval = 0 }},
		{"window", func(c *Config) { c.Window = 90 * time.Second }}, // not a multiple of step
		{"window", func(c *Config) { c.Window = 2 * time.Hour }},    // more than 60 steps
		{"step", func(c *Config) { c.Step = 1500 * time.Millisecond; c.Window = 3 * time.Second }},
		{"lateness", func(c *Config) { c.Lateness = -time.Second }},
		{"retry-max", func(c *Config) { c.RetryMax = time.Millisecond }},
		{"port-scan.min-ports", func(c *Config) { c.PortScan.MinPorts = 0 }},
		{"ddos", func(c *Config) { c.DDoS.MinBPS, c.DDoS.MinPPS, c.DDoS.MinFlowsPerSecond = 0, 0, 0 }},
		{"amplification.ports", func(c *Config) { c.Amplification.Ports = nil }},
		{"beaconing.max-jitter", func(c *Config) { c.Beaconing.MaxJitter = 1.5 }},
		{"beaconing.max-interval", func(c *Config) { c.Beaconing.MaxInterval = time.Second }},
		{"beaconing.max-interval", func(c *Config) { c.Beaconing.MaxInterval = 30 * time.Minute }}, // 10 connections do not fit in 1h
		{"tor.feed", func(c *Config) { c.Tor.Feed = "" }},
		{"exfiltration.baseline", func(c *Config) { c.Exfiltration.Baseline = 0 }},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.modify(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key+":") {
			t.Errorf("%s: got %v, want an error naming it", tc.key, err)
		}
	}
}

// Every detection's SQL fills all its placeholders, both for the windows
// of a run and for a single latest window.
func TestQueriesFillPlaceholders(t *testing.T) {
	c := DefaultConfig()
	to := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, d := range enabledDetections(&c) {
		q, err := d.query(&c, to.Add(-time.Hour), to)
		if err != nil {
			t.Errorf("%s: %v", d.name, err)
			continue
		}
		if strings.ContainsAny(q, "{}") {
			t.Errorf("%s: a placeholder is left in\n%s", d.name, q)
		}
	}
	if len(enabledDetections(&c)) != len(Names()) {
		t.Errorf("%d detections enabled by default, want all %d", len(enabledDetections(&c)), len(Names()))
	}
}
