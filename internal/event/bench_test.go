package event_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
)

func sampleEvent() *event.Event {
	ev := &event.Event{Timestamp: time.Now().UTC(), Message: "Failed password for invalid user oracle from 45.155.205.233 port 52114 ssh2"}
	_ = event.Stamp(ev, time.Now(), "almaty-1", "oisc-almaty", "syslog-tcp")
	ev.Kuzet.Org, ev.Kuzet.Object, ev.Kuzet.Sector, ev.Kuzet.Asset, ev.Kuzet.Criticality = "qazbank", "qazbank-cbs", "banking", event.AssetKnown, 1
	ev.Kuzet.SourceType = "syslog"
	ev.Event.Original = "<38>1 2026-11-24T10:00:01.003Z cbs-db-01 sshd 4123 - - " + ev.Message
	ev.Source = &event.Endpoint{IP: "45.155.205.233", Port: 52114}
	ev.Host = &event.Host{Name: "cbs-db-01"}
	ev.Process = &event.Process{Name: "sshd", PID: 4123}
	pri := 38
	ev.Log = &event.Log{Syslog: &event.Syslog{Priority: &pri, Hostname: "cbs-db-01", Appname: "sshd", ProcID: "4123"},
		Source: &event.LogSource{Address: "10.10.4.21:51514"}}
	return ev
}

func BenchmarkMarshal(b *testing.B) {
	ev := sampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := event.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data, _ := event.Marshal(sampleEvent())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var ev event.Event
		if err := event.Unmarshal(data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	ev := sampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		if err := ev.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStamp(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		var ev event.Event
		if err := event.Stamp(&ev, now, "c1", "oisc-a", "in"); err != nil {
			b.Fatal(err)
		}
	}
}
