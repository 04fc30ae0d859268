package ecs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"sluice/pipeline/siem/ecs"
	"sluice/pipeline/siem/schematest"
)

// TestDocumentsMatchECSDefinitions checks every field of varied flows and
// alerts against @elastic/ecs's definitions at ecs.Version.
func TestDocumentsMatchECSDefinitions(t *testing.T) {
	defs := schematest.LoadECS(t)
	if defs.Version != ecs.Version {
		t.Fatalf("ecs.Version is %s, the definitions fetched are %s", ecs.Version, defs.Version)
	}
	f := ecs.New()
	flows := schematest.Flows(60)
	var threat int
	for i := range flows {
		doc, err := f.AppendFlow(nil, &flows[i], "tok-"+string(rune('a'+i%26)))
		if err != nil {
			t.Fatal(err)
		}
		if p := defs.Check(doc); len(p) > 0 {
			t.Fatalf("flow %d: %s\n%s", i, strings.Join(p, "\n"), doc)
		}
		var m map[string]any
		json.Unmarshal(doc, &m)
		if th, ok := m["threat"].(map[string]any); ok {
			threat += len(th["enrichments"].([]any))
		}
		if i == 0 {
			t.Logf("flow: %s", doc)
		}
	}
	if threat == 0 {
		t.Fatal("no threat.enrichments written for flows with threat-feed hits")
	}
	alerts := schematest.Alerts()
	for i := range alerts {
		doc, err := f.AppendAlert(nil, &alerts[i])
		if err != nil {
			t.Fatal(err)
		}
		if p := defs.Check(doc); len(p) > 0 {
			t.Fatalf("alert %d: %s\n%s", i, strings.Join(p, "\n"), doc)
		}
		if !strings.Contains(string(doc), `"kind":"alert"`) {
			t.Fatalf("alert %d is not event.kind alert: %s", i, doc)
		}
	}
}

// TestCheckCatchesWrongFields proves the check can fail.
func TestCheckCatchesWrongFields(t *testing.T) {
	defs := schematest.LoadECS(t)
	for _, doc := range []string{
		`{"@timestamp":"2026-12-07T03:00:00Z","ecs":{"version":"` + ecs.Version + `"},"source":{"ipaddr":"10.0.0.1"}}`,
		`{"@timestamp":"2026-12-07T03:00:00Z","ecs":{"version":"` + ecs.Version + `"},"source":{"port":"80"}}`,
		`{"@timestamp":"2026-12-07T03:00:00Z","ecs":{"version":"` + ecs.Version + `"},"event":{"kind":"flow"}}`,
		`{"@timestamp":"2026-12-07T03:00:00Z","ecs":{"version":"1.0"}}`,
	} {
		if p := defs.Check([]byte(doc)); len(p) == 0 {
			t.Errorf("no problem found in %s", doc)
		}
	}
}

// BenchmarkAppendFlow measures ECS encoding; it must not allocate.
func BenchmarkAppendFlow(b *testing.B) { schematest.BenchmarkFlows(b, ecs.New()) }
