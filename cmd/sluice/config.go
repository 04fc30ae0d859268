package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"sluice/collector"
	"sluice/pipeline"
	"sluice/pipeline/enrich"
	"sluice/pipeline/kafka"
	"sluice/pipeline/queue"
	"sluice/pipeline/spool"
	"sluice/storage"
)

// Config is sluice's whole configuration: one YAML file, made of the
// components' own configurations. Every key is optional; DefaultConfig
// documents the defaults.
type Config struct {
	// Data is the state directory: embedded database, spool, templates.
	Data string `yaml:"data"`
	// HTTP serves /metrics, /healthz, /readyz and the read-only SQL endpoint.
	HTTP HTTPConfig `yaml:"http"`
	// Log sets the log level (debug, info, warn, error) and format (text, json).
	Log LogConfig `yaml:"log"`
	// Collector: UDP inputs, workers and batching.
	Collector collector.Config `yaml:"collector"`
	// Queue: the in-process queue between collector and storage (sluice run).
	Queue queue.Config `yaml:"queue"`
	// Pipeline: how records are gathered into inserts.
	Pipeline pipeline.Config `yaml:"pipeline"`
	// Enrich: names, networks, GeoIP, threat feeds, services, rules,
	// applied by `run` and `pipeline` before storage.
	Enrich enrich.Config `yaml:"enrich"`
	// Storage: the ClickHouse schema and writer.
	Storage storage.Config `yaml:"storage"`
	// Kafka: brokers, topic, security, producer (sluice collect) and
	// consumer group (sluice pipeline).
	Kafka kafka.Config `yaml:"kafka"`
	// Spool: sluice collect's on-disk buffer, in the data directory, for
	// when Kafka is unreachable.
	Spool spool.Config `yaml:"spool"`
	// Status logs a one-line summary (flows received, stored) at this
	// interval; 0 turns it off.
	Status time.Duration `yaml:"status-interval"`
}

// HTTPConfig is the `http:` section.
type HTTPConfig struct {
	// Listen is the HTTP address; loopback by default because the SQL
	// endpoint reads all flow data.
	Listen string `yaml:"listen"`
}

// LogConfig is the `log:` section.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// DefaultConfig is what sluice runs with when nothing is configured.
func DefaultConfig() Config {
	return Config{
		Data:      "./data",
		HTTP:      HTTPConfig{Listen: "127.0.0.1:8080"},
		Log:       LogConfig{Level: "info", Format: "text"},
		Collector: collector.DefaultConfig(),
		Queue:     queue.DefaultConfig(),
		Pipeline:  pipeline.DefaultConfig(),
		Enrich:    enrich.DefaultConfig(),
		Storage:   storage.DefaultConfig(),
		Kafka:     kafka.DefaultConfig(),
		Spool:     spool.DefaultConfig(),
		Status:    10 * time.Second,
	}
}

// Validate checks every section and names each bad key by its full path.
func (c Config) Validate() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("data: must not be empty"))
	}
	if c.HTTP.Listen == "" {
		errs = append(errs, errors.New("http.listen: must not be empty"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not one of text, json", c.Log.Format))
	}
	if c.Status < 0 {
		errs = append(errs, fmt.Errorf("status-interval: must not be negative"))
	}
	for _, section := range []struct {
		name string
		err  error
	}{
		{"collector", c.Collector.Validate()},
		{"queue", c.Queue.Validate()},
		{"pipeline", c.Pipeline.Validate()},
		{"enrich", c.Enrich.Validate()},
		{"storage", c.Storage.Validate()},
		{"kafka", c.Kafka.Validate()},
		{"spool", c.Spool.Validate()},
	} {
		if section.err != nil {
			for _, e := range splitJoined(section.err) {
				errs = append(errs, fmt.Errorf("%s.%w", section.name, e))
			}
		}
	}
	return errors.Join(errs...)
}

func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// LoadConfig reads a YAML file over the defaults. Unknown keys are errors
// listed by path (collector.netflow.lisen), and every error names the file.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read configuration: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if len(root.Content) == 0 {
		return cfg, nil // empty file: defaults
	}
	if unknown := unknownKeys(root.Content[0], reflect.TypeFor[Config](), ""); len(unknown) > 0 {
		errs := make([]error, len(unknown))
		for i, u := range unknown {
			errs[i] = fmt.Errorf("%s: %s", path, u)
		}
		return cfg, errors.Join(errs...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		errs := splitJoined(err)
		for i, e := range errs {
			errs[i] = fmt.Errorf("%s: %w", path, e)
		}
		return cfg, errors.Join(errs...)
	}
	return cfg, nil
}

// unknownKeys walks a mapping node beside the struct it decodes into and
// reports every key the struct does not have, with its path and line.
func unknownKeys(node *yaml.Node, typ reflect.Type, prefix string) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if node.Kind != yaml.MappingNode || typ.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
	}
	var unknown []string
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		path := key.Value
		if prefix != "" {
			path = prefix + "." + key.Value
		}
		ft, ok := fields[key.Value]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("line %d: unknown key %s", key.Line, path))
			continue
		}
		unknown = append(unknown, unknownKeys(value, ft, path)...)
	}
	return unknown
}
