package demo

import (
	"strings"
	"testing"
	"time"
)

// Every scenario's flows leave through the exporters, by their end, in
// flow time: the volumetric ones through the sampled exporter with their
// counters divided by its rate, the others unsampled; the ground truth
// counts them and bounds their times.
func TestAttackPlan(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Protocols = []string{NetFlow9, IPFIX}
	gen, err := NewGenerator(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := newAttackPlan(AttackNames(), cfg.Seed, testStart, gen)
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	var now time.Time
	var realPackets, sampledPackets uint64
	emit := func(d *Datagram) error {
		for _, f := range d.Flows {
			if f.End.After(now) {
				t.Errorf("flow ending %s sent at %s, before its end", f.End, now)
			}
			switch {
			case f.DstAddr.String() == "10.23.0.10": // the DDoS, sampled
				if f.SamplingRate != 100 {
					t.Errorf("DDoS flow through an exporter sampling 1 in %d, want 100", f.SamplingRate)
				}
				sampledPackets += f.Packets
				realPackets += f.Packets * uint64(f.SamplingRate)
			case f.DstAddr.String() == "10.20.0.5" && f.SamplingRate != 1:
				t.Errorf("port scan flow sampled 1 in %d", f.SamplingRate)
			}
			involves := func(a string) bool { return a == "" || f.SrcAddr.String() == a || f.DstAddr.String() == a }
			for _, tr := range plan.truth {
				if involves(tr.Attacker) && involves(tr.Victim) && !f.Start.Before(tr.Start) && !f.End.After(tr.End) {
					sent[tr.Detection]++
					break
				}
			}
		}
		return nil
	}
	for now = testStart; !now.After(testStart.Add(AttackSpan)); now = now.Add(time.Second) {
		if err := plan.inject(gen, now, now, emit); err != nil {
			t.Fatal(err)
		}
		if err := gen.Flush(now, emit); err != nil {
			t.Fatal(err)
		}
	}
	if plan.next != len(plan.flows) {
		t.Fatalf("%d of %d attack flows sent", plan.next, len(plan.flows))
	}
	for _, tr := range plan.truth {
		if sent[tr.Detection] != tr.Flows || tr.LastSent.IsZero() || tr.End.After(testStart.Add(45*time.Minute)) {
			t.Errorf("%s: %d flows sent, truth says %d (last sent %s, ends %s)", tr.Detection, sent[tr.Detection], tr.Flows, tr.LastSent, tr.End)
		}
	}
	if want := uint64(200000 * 60 * 5); realPackets != want || sampledPackets != want/100 {
		t.Errorf("DDoS: %d packets sampled, %d scaled; want %d scaled", sampledPackets, realPackets, want)
	}
}

func TestAttackValidation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Attacks = []string{AttackPortScan}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--attacks needs") {
		t.Errorf("10 s with attacks: %v", err)
	}
	cfg.Duration, cfg.TimeScale = time.Minute, 60
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "sflow5") {
		t.Errorf("time-scale with sFlow: %v", err)
	}
	cfg.Protocols = []string{NetFlow9}
	if err := cfg.Validate(); err != nil {
		t.Errorf("an hour at 60x: %v", err)
	}
	if _, err := ParseAttacks("port-scan,nope"); err == nil {
		t.Error("unknown scenario accepted")
	}
	if all, _ := ParseAttacks("all"); len(all) != 10 {
		t.Errorf("all: %v", all)
	}
}

// --attacks hubs selects the benign hub scenarios, which "all" leaves out
// and the ground truth does not list.
func TestBenignHubs(t *testing.T) {
	names, err := ParseAttacks("port-scan," + BenignHubs)
	if err != nil || len(names) != 1+len(hubNames()) || len(hubNames()) != 4 {
		t.Fatalf("ParseAttacks(port-scan,hubs) = %v, %v; want port-scan and the 4 hubs", names, err)
	}
	for _, n := range AttackNames() {
		if strings.HasPrefix(n, "hub-") {
			t.Errorf("AttackNames lists the benign hub %s", n)
		}
	}
	cfg := DefaultConfig()
	cfg.Protocols = []string{NetFlow9, IPFIX}
	gen, err := NewGenerator(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := newAttackPlan(names, cfg.Seed, testStart, gen)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.truth) != 1 || plan.truth[0].Detection != AttackPortScan || len(plan.flows) <= 1000 {
		t.Errorf("plan: %d truths, %d flows; want the port scan only in the truth, the hubs' flows planned", len(plan.truth), len(plan.flows))
	}
}
