package incident_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

func ref(id, org, sector, ip string) incident.LocalRef {
	return incident.LocalRef{Incident: id, Org: org, Sectors: []string{sector}, Entities: map[string][]string{"source.ip": {ip}},
		RSITClass: "intrusion-attempts", RSITType: "brute-force", Criticality: 60}
}

// TestNationalWindowEndsAndReopensWithNewID: sightings older than the
// window do not count; once a value's window is empty its national
// incident ends, and the next one has a new id. Snapshot and restore
// keep the state exactly.
func TestNationalWindowEndsAndReopensWithNewID(t *testing.T) {
	newN := func() *incident.National {
		n, err := incident.NewNational(incident.NationalOptions{Window: time.Hour, MinOrgs: 3, MinSectors: 3})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := newN()
	ip := "203.0.113.7"
	if u := n.Observe(ref("l1", "o1", "banking", ip), t0); u != nil {
		t.Fatalf("one org opened %+v", u)
	}
	n.Observe(ref("l2", "o2", "banking", ip), t0.Add(30*time.Minute))
	// l1's sighting has left the window: o2 and o3 are two organisations.
	if u := n.Observe(ref("l3", "o3", "banking", ip), t0.Add(61*time.Minute)); u != nil {
		t.Fatalf("expired sighting counted: %+v", u)
	}
	u := n.Observe(ref("l4", "o4", "banking", ip), t0.Add(62*time.Minute))
	if len(u) != 1 || u[0].Kind != incident.UpdateOpened {
		t.Fatalf("third org in window: %+v", u)
	}
	first := u[0].Incident
	if !first.National || first.Origin != incident.OriginNCCDetected || first.RSITType != "brute-force" ||
		len(first.Linked) != 3 || first.Severity != incident.SeverityHigh || first.TLP != incident.TLPAmber {
		t.Errorf("national incident %+v", first)
	}
	// The same local incident again links nothing new.
	if u := n.Observe(ref("l4", "o4", "banking", ip), t0.Add(63*time.Minute)); u != nil {
		t.Errorf("relinked: %+v", u)
	}
	snap, err := n.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	m := newN()
	if err := m.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if again, _ := m.Snapshot(); !bytes.Equal(again, snap) {
		t.Fatal("restored snapshot differs")
	}
	m.Tick(t0.Add(4 * time.Hour)) // window empty: the national incident ends
	for i, org := range []string{"o5", "o6", "o7"} {
		u = m.Observe(ref("m"+org, org, "banking", ip), t0.Add(5*time.Hour+time.Duration(i)*time.Minute))
	}
	if len(u) != 1 || u[0].Kind != incident.UpdateOpened || u[0].Incident.ID == first.ID {
		t.Fatalf("after the window: %+v (first %s)", u, first.ID)
	}
	if u[0].Incident.ID != incident.NationalID("source.ip", ip, 1) || first.ID != incident.NationalID("source.ip", ip, 0) {
		t.Errorf("ids %s %s not of epochs 0 and 1", first.ID, u[0].Incident.ID)
	}
}

// TestNationalCardinalityCap: a value at more organisations than the cap
// (a public resolver everyone talks to) stops linking.
func TestNationalCardinalityCap(t *testing.T) {
	n, err := incident.NewNational(incident.NationalOptions{Window: time.Hour, MinOrgs: 2, MinSectors: 5,
		Link: incident.LinkOptions{MaxCardinality: 3}})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []incident.UpdateKind
	for i, org := range []string{"o1", "o2", "o3", "o4", "o5"} {
		for _, u := range n.Observe(ref("l"+org, org, "banking", "8.8.8.8"), t0.Add(time.Duration(i)*time.Second)) {
			kinds = append(kinds, u.Kind)
		}
	}
	if len(kinds) != 2 || kinds[0] != incident.UpdateOpened || kinds[1] != incident.UpdateUpdated {
		t.Errorf("updates %v, want opened at o2, linked at o3, nothing after the cap", kinds)
	}
}

// TestNationalStateIsBounded: distinct values past MaxValues evict the
// least recently seen (counted); one value's sightings are bounded too.
func TestNationalStateIsBounded(t *testing.T) {
	evicted := 0
	n, err := incident.NewNational(incident.NationalOptions{Window: 24 * time.Hour, MaxValues: 1000,
		Count: func(m incident.Metric, v string) {
			if m == incident.MetricEvictions {
				evicted++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		n.Observe(ref(fmt.Sprintf("l%d", i), "o1", "banking", fmt.Sprintf("10.9.%d.%d", i/250, i%250)), t0.Add(time.Duration(i)*time.Second))
	}
	if n.Len() > 1000 || evicted == 0 {
		t.Errorf("%d values watched, %d evictions", n.Len(), evicted)
	}
	// One organisation's many incidents on one value: sightings bounded.
	for i := range 5000 {
		n.Observe(ref(fmt.Sprintf("m%d", i), "o1", "banking", "192.0.2.1"), t0.Add(time.Duration(i)*time.Second))
	}
	snap, _ := n.Snapshot()
	if len(snap) > 1<<20 {
		t.Errorf("snapshot %d bytes", len(snap))
	}
}

func TestNationalClosedNeedsNewSightings(t *testing.T) {
	n, _ := incident.NewNational(incident.NationalOptions{Window: time.Hour, MinOrgs: 2, MinSectors: 5})
	n.Observe(ref("l1", "o1", "banking", "203.0.113.9"), t0)
	u := n.Observe(ref("l2", "o2", "banking", "203.0.113.9"), t0.Add(time.Second))
	if len(u) != 1 {
		t.Fatalf("%+v", u)
	}
	n.Closed(u[0].Incident.ID)
	if u := n.Observe(ref("l3", "o1", "banking", "203.0.113.9"), t0.Add(2*time.Second)); u != nil {
		t.Fatalf("one new organisation after the close reopened: %+v", u)
	}
	u = n.Observe(ref("l4", "o3", "banking", "203.0.113.9"), t0.Add(3*time.Second))
	if len(u) != 1 || u[0].Incident.ID != incident.NationalID("source.ip", "203.0.113.9", 1) || len(u[0].Incident.Linked) != 2 {
		t.Fatalf("after two new organisations: %+v", u)
	}
}
