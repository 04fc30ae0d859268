package main

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"reflect"
	"strconv"
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
	"sluice/storage/chhttp"
	"sluice/storage/detect"
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
	// ClickHouseHTTP: ClickHouse's HTTP interface over the embedded store,
	// served by `run` and `pipeline` (default 127.0.0.1:8123; listen ""
	// turns it off). Passwords come from the environment.
	ClickHouseHTTP chhttp.Config `yaml:"clickhouse-http"`
	// Spool: sluice collect's on-disk buffer, in the data directory, for
	// when Kafka is unreachable.
	Spool spool.Config `yaml:"spool"`
	// SIEM: sinks delivering flows and alerts to security tools (ECS or
	// OCSF over Kafka, CEF over syslog, Splunk HEC); none by default.
	SIEM SIEMConfig `yaml:"siem"`
	// Detect: the threat detections `run` and `pipeline` schedule over the
	// stored flows (one pipeline worker of several should run them).
	Detect detect.Config `yaml:"detect"`
	// Status logs a one-line summary (flows received, stored) at this
	// interval; 0 turns it off.
	Status time.Duration `yaml:"status-interval"`
	// GoMemoryLimit is the Go heap's budget in bytes (GOMEMLIMIT, with the
	// proportional collector off): 0 is `sluice run`'s computed budget
	// (goMemoryBudget) and no limit for the other commands, -1 no limit.
	GoMemoryLimit int64 `yaml:"go-memory-limit"`
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
		Detect:    detect.DefaultConfig(),

		ClickHouseHTTP: chhttp.DefaultConfig(),
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
	if c.GoMemoryLimit < -1 || (c.GoMemoryLimit > 0 && c.GoMemoryLimit < minGoMemoryLimit) {
		errs = append(errs, fmt.Errorf("go-memory-limit: must be 0 (computed), -1 (none) or at least %d bytes, got %d", minGoMemoryLimit, c.GoMemoryLimit))
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
		{"clickhouse-http", validateClickHouseHTTP(c.ClickHouseHTTP)},
		{"siem", c.SIEM.Validate()},
		{"detect", c.Detect.Validate()},
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

// LoadConfig reads a YAML file over the defaults. Every error names the
// file and the key's path: unknown keys (collector.netflow.lisen) and values
// of the wrong type (collector.workers: want an integer, got "two") are all
// listed, with their lines, before any value is checked.
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
	if problems := checkNode(root.Content[0], reflect.TypeFor[Config](), ""); len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = fmt.Errorf("%s: %s", path, p)
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

// checkNode walks a YAML node beside the Go type it decodes into and
// reports, in the file's order, every key the type does not have and every
// value that does not fit its type, each with its line and path
// (enrich.networks.entries[2].prefix).
func checkNode(node *yaml.Node, typ reflect.Type, path string) []string {
	line := node.Line // an alias's problem is reported where the alias is
	for node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil // an empty value leaves the default
	}
	if reflect.PointerTo(typ).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		// A value written as text (netip.Prefix, netip.Addr): its own parser decides.
		if node.Kind != yaml.ScalarNode || node.Decode(reflect.New(typ).Interface()) != nil {
			return []string{typeProblem(line, node, typ, path)}
		}
		return nil
	}
	switch typ.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return []string{typeProblem(line, node, typ, path)}
		}
		fields := map[string]reflect.Type{}
		var addFields func(t reflect.Type)
		addFields = func(t reflect.Type) {
			for i := range t.NumField() {
				f := t.Field(i)
				name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if opts == "inline" && f.Type.Kind() == reflect.Struct {
					addFields(f.Type) // an embedded section's keys sit beside the others
					continue
				}
				if name == "" || name == "-" {
					continue
				}
				fields[name] = f.Type
			}
		}
		addFields(typ)
		var problems []string
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, value := node.Content[i], node.Content[i+1]
			if key.Tag == "!!merge" { // <<: *anchor merges the anchor's keys here
				problems = append(problems, checkMerge(value, typ, path)...)
				continue
			}
			ft, ok := fields[key.Value]
			if !ok {
				problems = append(problems, fmt.Sprintf("line %d: unknown key %s", key.Line, joinPath(path, key.Value)))
				continue
			}
			problems = append(problems, checkNode(value, ft, joinPath(path, key.Value))...)
		}
		return problems
	case reflect.Slice, reflect.Array:
		if node.Kind != yaml.SequenceNode {
			return []string{typeProblem(line, node, typ, path)}
		}
		var problems []string
		for i, item := range node.Content {
			problems = append(problems, checkNode(item, typ.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return problems
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return []string{typeProblem(line, node, typ, path)}
		}
		var problems []string
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, value := node.Content[i], node.Content[i+1]
			if key.Tag == "!!merge" {
				problems = append(problems, checkMerge(value, typ, path)...)
				continue
			}
			if err := key.Decode(reflect.New(typ.Key()).Interface()); err != nil {
				problems = append(problems, fmt.Sprintf("line %d: %s: key %s is not %s", key.Line, path, gotValue(key), wantType(typ.Key())))
				continue
			}
			problems = append(problems, checkNode(value, typ.Elem(), joinPath(path, key.Value))...)
		}
		return problems
	case reflect.Interface:
		return nil // anything goes
	}
	if node.Kind != yaml.ScalarNode || node.Decode(reflect.New(typ).Interface()) != nil || fractional(node, typ) {
		return []string{typeProblem(line, node, typ, path)}
	}
	return nil
}

// checkMerge checks the mapping (or list of mappings) a merge key brings in.
func checkMerge(value *yaml.Node, typ reflect.Type, path string) []string {
	for value.Kind == yaml.AliasNode && value.Alias != nil {
		value = value.Alias
	}
	if value.Kind != yaml.SequenceNode {
		return checkNode(value, typ, path)
	}
	var problems []string
	for _, item := range value.Content {
		problems = append(problems, checkNode(item, typ, path)...)
	}
	return problems
}

// fractional reports a number with a fractional part given for an integer,
// which yaml.v3 would silently truncate (workers: 2.5 → 2).
func fractional(node *yaml.Node, typ reflect.Type) bool {
	if node.ShortTag() != "!!float" {
		return false
	}
	switch typ.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return false
	}
	f, err := strconv.ParseFloat(node.Value, 64)
	return err != nil || f != math.Trunc(f)
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// typeProblem says what the key wants and what it got.
func typeProblem(line int, node *yaml.Node, typ reflect.Type, path string) string {
	where := fmt.Sprintf("line %d: ", line)
	if path != "" {
		where += path + ": "
	}
	return where + "want " + wantType(typ) + ", got " + gotValue(node)
}

// wantType names a Go type as a configuration value.
func wantType(typ reflect.Type) string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ {
	case reflect.TypeFor[time.Duration]():
		return "a duration like 10s or 1m30s"
	case reflect.TypeFor[netip.Prefix]():
		return "a prefix like 192.0.2.0/24 or 2001:db8::/32"
	case reflect.TypeFor[netip.Addr]():
		return "an address like 192.0.2.1 or 2001:db8::1"
	}
	if reflect.PointerTo(typ).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a " + typ.String() + " written as text"
	}
	switch typ.Kind() {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf("an integer from %d to %d", -(int64(1) << (typ.Bits() - 1)), int64(1)<<(typ.Bits()-1)-1)
	case reflect.Uint, reflect.Uint64:
		return "an integer, 0 or more"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("an integer from 0 to %d", uint64(1)<<typ.Bits()-1)
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping (key: value lines)"
	}
	return typ.String()
}

// gotValue shows a YAML value as the file has it: strings quoted, numbers
// and booleans bare, collections by kind.
func gotValue(node *yaml.Node) string {
	switch node.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if node.ShortTag() == "!!str" {
			return strconv.Quote(node.Value)
		}
		return node.Value
	}
	return "a " + node.ShortTag() + " value"
}
