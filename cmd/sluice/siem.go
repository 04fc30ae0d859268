package main

import (
	"context"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"sluice/internal/component"
	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/queue"
	"sluice/pipeline/siem"
	"sluice/pipeline/siem/cef"
	"sluice/pipeline/siem/ecs"
	"sluice/pipeline/siem/hec"
	siemkafka "sluice/pipeline/siem/kafka"
	"sluice/pipeline/siem/ocsf"
	"sluice/pipeline/siem/syslog"
)

// SIEMConfig is the `siem:` section.
type SIEMConfig struct {
	// Sinks deliver flows and alerts, each with its filter, format,
	// transport and delivery; none by default.
	Sinks []SIEMSinkConfig `yaml:"sinks"`
}

// SIEMSinkConfig is one entry of siem.sinks: the sink's own keys (name,
// type, format, kinds, filter, delivery…) and its transport's section.
type SIEMSinkConfig struct {
	siem.Config `yaml:",inline"`
	// Kafka: the transport of type kafka.
	Kafka siemkafka.Config `yaml:"kafka"`
	// Syslog: the transport of type syslog (RFC 5424 over TCP/TLS).
	Syslog syslog.Config `yaml:"syslog"`
	// HEC: the transport of type hec (Splunk HTTP Event Collector).
	HEC hec.Config `yaml:"hec"`
	// CEF: the format cef's header settings.
	CEF cef.Config `yaml:"cef"`
}

// UnmarshalYAML decodes an entry over the defaults, which a list's items
// would not otherwise get.
func (c *SIEMSinkConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain SIEMSinkConfig
	p := plain{Config: siem.DefaultConfig(), Kafka: siemkafka.DefaultConfig(),
		Syslog: syslog.DefaultConfig(), HEC: hec.DefaultConfig(), CEF: cef.DefaultConfig()}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = SIEMSinkConfig(p)
	return nil
}

// Validate names bad keys by their path under siem.
func (c SIEMConfig) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range c.Sinks {
		at := func(err error) {
			for _, e := range splitJoined(err) {
				errs = append(errs, fmt.Errorf("sinks[%d].%w", i, e))
			}
		}
		if err := s.Config.Validate(); err != nil {
			at(err)
		}
		if seen[s.Name] {
			at(fmt.Errorf("name: %q is used by another sink", s.Name))
		}
		if s.Name == queue.SpoolSink {
			// Its spool's metrics would collide with the queue overflow's.
			at(fmt.Errorf("name: %q is the queue's overflow; choose another", s.Name))
		}
		seen[s.Name] = true
		section := func(key string, err error) {
			if err == nil {
				return
			}
			for _, e := range splitJoined(err) {
				at(fmt.Errorf("%s.%w", key, e))
			}
		}
		switch s.Type {
		case "kafka":
			section("kafka", s.Kafka.Validate())
		case "syslog":
			section("syslog", s.Syslog.Validate())
		case "hec":
			section("hec", s.HEC.Validate())
		}
		if s.Format == "cef" {
			section("cef", s.CEF.Validate())
		}
	}
	return errors.Join(errs...)
}

// newSIEMSinks builds the configured sinks; they start nothing.
func newSIEMSinks(r *reporter.Reporter, cfg Config) ([]*siem.Sink, error) {
	var sinks []*siem.Sink
	fail := func(err error) ([]*siem.Sink, error) {
		stopSIEMSinks(sinks)
		return nil, err
	}
	for _, sc := range cfg.SIEM.Sinks {
		var format siem.Format
		switch sc.Format {
		case "ecs":
			format = ecs.New()
		case "ocsf":
			format = ocsf.New()
		case "cef":
			format = cef.New(sc.CEF)
		default:
			return fail(fmt.Errorf("siem sink %s: format %s is not built into this sluice", sc.Name, sc.Format))
		}
		var transport siem.Transport
		switch sc.Type {
		case "kafka":
			t, err := siemkafka.New(sc.Kafka)
			if err != nil {
				return fail(fmt.Errorf("siem sink %s: %w", sc.Name, err))
			}
			transport = t
		case "syslog":
			t, err := syslog.New(r, sc.Syslog, sc.Name)
			if err != nil {
				return fail(fmt.Errorf("siem sink %s: %w", sc.Name, err))
			}
			transport = t
		case "hec":
			t, err := hec.New(r, sc.HEC, sc.Name)
			if err != nil {
				return fail(fmt.Errorf("siem sink %s: %w", sc.Name, err))
			}
			transport = t
		default:
			return fail(fmt.Errorf("siem sink %s: type %s is not built into this sluice", sc.Name, sc.Type))
		}
		s, err := siem.New(r, sc.Config, siem.Dependencies{Format: format, Transport: transport, DataDir: cfg.Data})
		if err != nil {
			transport.Close()
			return fail(err)
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}

// stopSIEMSinks closes sinks that were built but never handed to a
// component list (a later constructor failed): their transports and spools
// would leak otherwise.
func stopSIEMSinks(sinks []*siem.Sink) {
	for _, s := range sinks {
		s.Stop(context.Background()) // nothing started: Stop only closes
	}
}

// withSIEMSinks is the pipeline's sinks: storage first, then the SIEM
// sinks. A batch is acknowledged only once every one has it.
func withSIEMSinks(store pipeline.Sink, sinks []*siem.Sink) []pipeline.Sink {
	out := []pipeline.Sink{store}
	for _, s := range sinks {
		out = append(out, s)
	}
	return out
}

// addSIEMSinks adds the sinks to the components; call it before adding
// the pipeline, so that they stop after it has written its last batch.
func addSIEMSinks(d *component.List, sinks []*siem.Sink) {
	for _, s := range sinks {
		d.Add("siem."+s.Name(), s)
	}
}
