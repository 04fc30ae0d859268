package ocsf_test

import (
	"strings"
	"testing"

	"sluice/pipeline/siem/ocsf"
	"sluice/pipeline/siem/schematest"
)

// schemaFile is OCSF's schema at ocsf.Version, compiled and trimmed (see
// testdata/README.md).
const schemaFile = "testdata/ocsf-" + ocsf.Version + "-schema.json"

// TestEventsMatchOCSFSchema checks flows as Network Activity and alerts as
// Detection Finding against the schema: every attribute exists with its
// type, enums hold, required attributes are present.
func TestEventsMatchOCSFSchema(t *testing.T) {
	s := schematest.LoadOCSF(t, schemaFile)
	f := ocsf.New()
	flows := schematest.Flows(60)
	for i := range flows {
		doc, err := f.AppendFlow(nil, &flows[i], "tok-1")
		if err != nil {
			t.Fatal(err)
		}
		if p := s.Check("network_activity", doc); len(p) > 0 {
			t.Fatalf("flow %d: %s\n%s", i, strings.Join(p, "\n"), doc)
		}
		if i == 0 {
			t.Logf("flow: %s", doc)
		}
	}
	alerts := schematest.Alerts()
	for i := range alerts {
		doc, err := f.AppendAlert(nil, &alerts[i])
		if err != nil {
			t.Fatal(err)
		}
		if p := s.Check("detection_finding", doc); len(p) > 0 {
			t.Fatalf("alert %d: %s\n%s", i, strings.Join(p, "\n"), doc)
		}
	}
}

// TestCheckCatchesWrongAttributes proves the check can fail.
func TestCheckCatchesWrongAttributes(t *testing.T) {
	s := schematest.LoadOCSF(t, schemaFile)
	flows := schematest.Flows(1)
	good, _ := ocsf.New().AppendFlow(nil, &flows[0], "x")
	for _, bad := range []string{
		strings.Replace(string(good), `"class_uid":4001,`, ``, 1),
		strings.Replace(string(good), `"activity_id":6`, `"activity_id":42`, 1),
		strings.Replace(string(good), `"src_endpoint":{`, `"src_endpoint":{"ipaddr":"1.2.3.4",`, 1),
		strings.Replace(string(good), `"time":`, `"time":"x","x":`, 1),
	} {
		if p := s.Check("network_activity", []byte(bad)); len(p) == 0 {
			t.Errorf("no problem found in %s", bad)
		}
	}
}

// BenchmarkAppendFlow measures OCSF encoding; it must not allocate.
func BenchmarkAppendFlow(b *testing.B) { schematest.BenchmarkFlows(b, ocsf.New()) }
