package main

// The detections' alerts, end to end, to every kind of SIEM receiver:
// demo traffic with attacks over UDP into the real `sluice run`, the
// detections every 5 s, and four alert sinks: ECS and OCSF to the real
// Kafka broker, CEF over RFC 5424 syslog (TLS, octet counting) to a real
// rsyslogd, and ECS to a Splunk HTTP Event Collector (hectest). In the
// middle of the attacks rsyslogd is stopped for 20 s (its sink spools)
// and the HEC answers 503 for 20 s (its sink waits), overlapping by 10 s;
// every alert record still arrives.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/testenv"
	"sluice/pipeline/siem/cef/ceftest"
	"sluice/pipeline/siem/hec/hectest"
	"sluice/pipeline/siem/ocsf"
	"sluice/pipeline/siem/schematest"
	"sluice/pipeline/siem/syslog/rsyslogtest"
)

// alertKey names one alert record as every receiver can tell it: the
// alert's ID, its update time (the event ID, siem.AlertEventID) and state.
func alertKey(id string, nanos int64, state string) string {
	return id + "@" + strconv.FormatInt(nanos, 10) + " " + state
}

// received counts the alert records one receiver got, by alertKey.
type received map[string]int

func (r received) dups() int {
	n := 0
	for _, c := range r {
		n += c - 1
	}
	return n
}

// ocsfStates maps a Detection Finding's activity_id to the alert state.
var ocsfStates = map[int]string{1: "open", 2: "updated", 3: "closed"}

func TestAlertsReachEverySIEM(t *testing.T) {
	requireChdb(t)
	defs := schematest.LoadECS(t)
	ocsfSchema := schematest.LoadOCSF(t, filepath.Join(testenv.RepoRoot(t), "pipeline/siem/ocsf/testdata/ocsf-"+ocsf.Version+"-schema.json"))
	brokers := sharedBrokers(t)
	broker := strings.Split(brokers, ",")[0]
	rs := rsyslogtest.Start(t)
	const token = "99999999-8888-7777-6666-555555555555"
	splunk := hectest.New(t, token)

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "hec-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	suffix := strconv.FormatInt(time.Now().UnixNano(), 10)
	ecsTopic, ocsfTopic := "alerts-ecs-"+suffix, "alerts-ocsf-"+suffix
	config := detectQualityConfig(t, dir)
	base, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	sinks := fmt.Sprintf(`siem:
  sinks:
    - {name: elastic, type: kafka, format: ecs, kinds: [alert], delivery: wait, retry-max: 1s,
       kafka: {brokers: [%[1]q], topic: %[2]s, topic-partitions: 2, write-timeout: 3s}}
    - {name: sentinel, type: kafka, format: ocsf, kinds: [alert], delivery: spool, retry-max: 1s,
       kafka: {brokers: [%[1]q], topic: %[3]s, topic-partitions: 2, write-timeout: 3s}}
    - {name: qradar, type: syslog, format: cef, kinds: [alert], delivery: spool, retry-max: 1s,
       syslog: {address: %[4]q, tls: {enabled: true, ca-file: %[5]q}, hostname: sluice-e2e, reconnect-backoff: 100ms, reconnect-backoff-max: 1s}}
    - {name: splunk, type: hec, format: ecs, kinds: [alert], delivery: wait, retry-max: 1s,
       hec: {url: %[6]q, token-file: %[7]q, ack-poll-interval: 100ms, ack-timeout: 5s, max-attempts: 2, retry-backoff: 100ms, retry-backoff-max: 1s}}
`, broker, ecsTopic, ocsfTopic, rs.Addr(), rs.CAFile(), splunk.Srv.URL, tokenFile)
	if err := os.WriteFile(config, append(base, sinks...), 0o644); err != nil {
		t.Fatal(err)
	}

	in := startSluice(t, filepath.Join(dir, "data"), "--config", config)
	d := startDemo(t, "--target", in.netflow, "--protocols", "netflow9,ipfix,netflow5", "--rate", "1000",
		"--duration", "60s", "--time-scale", "60", "--attacks", "all", "--sluice", "http://"+in.http, "--json", "--quiet")
	emitted := func() float64 { return in.metric("sluice_storage_detect_alerts_total") }

	// The faults, while the attacks go on, once the first alerts went out:
	// rsyslogd stops for 20 s (its sink spools, the detections go on);
	// 10 s into that the HEC answers 503 for 20 s (its sink waits and
	// retries; the detections go on, its records queued for it alone).
	demoStart := time.Now()
	testenv.EventuallyAtLeast(t, 60*time.Second, "the first alert records", emitted, 1)
	testenv.EventuallyAtLeast(t, 30*time.Second, "the first alerts delivered to every sink",
		func() float64 { return in.metric(`sluice_storage_detect_alerts_delivered_total{target="sink-3"}`) }, 1)
	firstAlerts := time.Since(demoStart)
	downSeen := map[string]bool{}
	var spooledMax, heldMax float64
	watch := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			for _, sink := range []string{"qradar", "splunk"} {
				if in.metric(`sluice_pipeline_siem_receiver_up{sink="`+sink+`"}`) == 0 {
					downSeen[sink] = true
				}
			}
			spooledMax = max(spooledMax, in.metric(`sluice_pipeline_spool_entries{sink="qradar"}`))
			heldMax = max(heldMax, in.metric("sluice_storage_detect_alerts_pending"))
		}
	}
	beforeFault := emitted()
	rs.Stop(t)
	watch(10 * time.Second)
	whileSpooling := emitted() - beforeFault
	splunk.Set(func(s *hectest.Server) { s.Busy = func(int) int { return 503 } })
	watch(10 * time.Second)
	rs.Restart(t)
	watch(10 * time.Second)
	splunk.Set(func(s *hectest.Server) { s.Busy = func(int) int { return 0 } })
	duringFault := emitted() - beforeFault

	d.wait(t)
	// Settled: the detections evaluated the newest flow's step, nothing
	// is waiting, and every target took every record.
	var newestUnix int64
	fmt.Sscan(strings.TrimSpace(in.sql("SELECT toUnixTimestamp(max(TimeFlowEnd)) FROM flows FORMAT TSV", "TSV")), &newestUnix)
	testenv.EventuallyAtLeast(t, 2*time.Minute, "the detections' watermark at the newest flow",
		func() float64 { return in.metric("sluice_storage_detect_watermark_seconds") }, float64(newestUnix/60*60))
	var total float64
	testenv.EventuallyState(t, time.Minute, "every alert record delivered to every target", func() (bool, string) {
		total = emitted()
		delivered := in.metrics("sluice_storage_detect_alerts_delivered_total")
		ok := in.metric("sluice_storage_detect_alerts_pending") == 0 && len(delivered) == 5
		for _, v := range delivered {
			ok = ok && v == total
		}
		return ok, fmt.Sprintf("%v records, delivered %v", total, delivered)
	})
	if errs := in.metric("sluice_storage_detect_errors_total"); errs != 0 {
		t.Errorf("%v detection errors", errs)
	}

	// The alerts table, each alert in its last state.
	want := map[string]string{} // alertKey → detection
	for _, line := range strings.Split(strings.TrimSpace(in.sql(
		"SELECT AlertID, toUnixTimestamp(Time), toString(State), Detection FROM sluice.alerts FINAL FORMAT TSV", "TSV")), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("alerts table row %q", line)
		}
		secs, _ := strconv.ParseInt(f[1], 10, 64)
		want[alertKey(f[0], secs*1e9, f[2])] = f[3]
	}
	if len(want) == 0 {
		t.Fatal("no alerts in the table")
	}

	// Each receiver: every document valid, keyed by alertKey.
	got := map[string]received{}
	ecsKey := func(doc []byte, where string) string {
		if p := defs.Check(doc); len(p) > 0 {
			t.Fatalf("%s: invalid ECS: %s\n%s", where, strings.Join(p, "; "), doc)
		}
		var m struct {
			Event struct{ ID, Action string }
		}
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		id, nanos, _ := strings.Cut(m.Event.ID, "@")
		n, _ := strconv.ParseInt(nanos, 10, 64)
		return alertKey(id, n, m.Event.Action)
	}
	ocsfKey := func(doc []byte, where string) string {
		if p := ocsfSchema.Check("detection_finding", doc); len(p) > 0 {
			t.Fatalf("%s: invalid OCSF: %s\n%s", where, strings.Join(p, "; "), doc)
		}
		var m struct {
			ActivityID int `json:"activity_id"`
			Metadata   struct{ UID string }
		}
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		id, nanos, _ := strings.Cut(m.Metadata.UID, "@")
		n, _ := strconv.ParseInt(nanos, 10, 64)
		return alertKey(id, n, ocsfStates[m.ActivityID])
	}
	readTopic := func(name, topic string, key func([]byte, string) string) {
		r := received{}
		got[name] = r
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		msgs := topicMessages(ctx, broker, topic, 2)
		for len(r) < int(total) {
			select {
			case m := <-msgs:
				k := key(m.Value, name)
				if id, _, _ := strings.Cut(k, " "); id != string(m.Key) {
					t.Errorf("%s: message key %s, document %s", name, m.Key, k)
				}
				r[k]++
			case <-ctx.Done():
				return
			}
		}
		for { // what else comes is a duplicate or an extra
			select {
			case m := <-msgs:
				r[key(m.Value, name)]++
			case <-time.After(2 * time.Second):
				return
			}
		}
	}
	readTopic("kafka/ecs", ecsTopic, ecsKey)
	readTopic("kafka/ocsf", ocsfTopic, ocsfKey)

	hec := received{}
	got["hec/ecs"] = hec
	for _, ev := range splunk.Events() {
		k := ecsKey(ev.Event, "hec")
		if id, _, _ := strings.Cut(k, " "); id != ev.Fields["sluice_id"] || ev.Sourcetype != "sluice:alert" {
			t.Errorf("hec: sluice_id %s sourcetype %s, document %s", ev.Fields["sluice_id"], ev.Sourcetype, k)
		}
		hec[k]++
	}

	sys := received{}
	got["syslog/cef"] = sys
	for _, line := range rs.Lines(t, rsyslogtest.Raw) {
		m := rsyslogtest.RFC5424.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("rsyslog: not RFC 5424: %q", line)
		}
		if m[4] != "sluice-e2e" || m[5] != "sluice" || m[7] != "alert" {
			t.Errorf("rsyslog: header %q", m[1:8])
		}
		ev, err := ceftest.Parse(m[9])
		if err != nil {
			t.Fatalf("rsyslog: CEF %q: %v", m[9], err)
		}
		rt, _ := strconv.ParseInt(ev.Extension["rt"], 10, 64)
		k := alertKey(ev.Extension["externalId"], rt*1e6, ev.Extension["act"])
		if det, ok := want[k]; ok && (ev.Header[4] != det || ev.Header[5] != det) {
			t.Errorf("rsyslog: CEF signature %q name %q, want the detection %s", ev.Header[4], ev.Header[5], det)
		}
		if ts := time.UnixMilli(rt).UTC().Format("2006-01-02T15:04:05.000Z"); m[3] != ts {
			t.Errorf("rsyslog: timestamp %s, want the alert's %s", m[3], ts)
		}
		sys[k]++
	}

	// Every alert's last state reached every receiver, and every record
	// emitted (open, updates, close) did, none unknown.
	names := []string{"kafka/ecs", "kafka/ocsf", "syslog/cef", "hec/ecs"}
	var report []string
	for _, name := range names {
		r := got[name]
		missing := 0
		for k := range want {
			if r[k] == 0 {
				missing++
				if missing <= 5 {
					t.Errorf("%s: the alert record %s (%s) never arrived", name, k, want[k])
				}
			}
		}
		if len(r) != int(total) {
			t.Errorf("%s: %d distinct alert records, the detections emitted %v", name, len(r), total)
		}
		report = append(report, fmt.Sprintf("%s %d distinct (%d duplicates, %d of the table's %d missing)", name, len(r), r.dups(), missing, len(want)))
	}
	byDetection := map[string]int{}
	for _, det := range want {
		byDetection[det]++
	}
	dets := make([]string, 0, len(byDetection))
	for det, n := range byDetection {
		dets = append(dets, fmt.Sprintf("%s %d", det, n))
	}
	sort.Strings(dets)
	var busy int
	splunk.Set(func(s *hectest.Server) { busy = s.Status[503] })
	t.Logf("%d alerts (%s); %v alert records emitted, the first %s after the demo started, %v during the faults (%v while only rsyslog was down); receivers: %s",
		len(want), strings.Join(dets, ", "), total, firstAlerts.Round(time.Second), duringFault, whileSpooling, strings.Join(report, "; "))
	t.Logf("faults: rsyslog's spool held up to %v entries; HEC answered 503 %d times, up to %v records held back; receiver_up read 0 for %v; events retried %v, send errors %v",
		spooledMax, busy, heldMax, downSeen, in.metrics("sluice_pipeline_siem_events_retried_total"), in.metrics("sluice_pipeline_siem_send_errors_total"))
	if whileSpooling == 0 || spooledMax == 0 {
		t.Errorf("no alert record was spooled while rsyslog was down (%v emitted, %v entries): the fault proved nothing", whileSpooling, spooledMax)
	}
	// Each delivery target has its own queue (storage/detect), so the HEC's
	// outage need not hold records back in the detections: the sink retrying
	// the 503s is the fault seen.
	splunkRetried := in.metrics("sluice_pipeline_siem_events_retried_total")[`sluice_pipeline_siem_events_retried_total{sink="splunk"}`]
	if busy == 0 || splunkRetried == 0 || !downSeen["qradar"] || !downSeen["splunk"] {
		t.Errorf("the faults were not seen: HEC 503s %d, HEC events retried %v, receiver_up 0 seen for %v", busy, splunkRetried, downSeen)
	}
	for k, v := range in.metrics("sluice_pipeline_siem_events_dropped_total") {
		if v != 0 {
			t.Errorf("%s = %v", k, v)
		}
	}
	in.stop()
}
