package store_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
)

func BenchmarkSearchText(b *testing.B) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ev := &event.Event{Timestamp: at, Message: `Failed password for invalid user oracle from 45.155.205.233 port 52114 ssh2`,
		Process: &event.Process{Name: "sshd", PID: 4123, CommandLine: `C:\Windows\System32\cmd.exe /c "whoami"`},
		Source:  &event.Endpoint{IP: "45.155.205.233", Port: 52114}}
	if err := event.Stamp(ev, at, "c1", "oisc-a", "test"); err != nil {
		b.Fatal(err)
	}
	doc, _ := event.Marshal(ev)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		_ = store.SearchText(doc)
	}
}

// BenchmarkSearchTextOriginal is SearchText over a Windows event as the
// winevent pipeline stores it: its evtx_dump JSON kept as event.original, a
// long string full of escaped quotes, and winlog's fields.
func BenchmarkSearchTextOriginal(b *testing.B) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ev := &event.Event{Timestamp: at,
		Source: &event.Endpoint{IP: "10.20.184.168", Port: 48964, Domain: "-"},
		User:   &event.User{Name: "oracle", Domain: "CORP"},
		Host:   &event.Host{Name: "node-03.telemetry.steppe-gas.example"}}
	ev.Event.Kind, ev.Event.Category, ev.Event.Action, ev.Event.Outcome = "event", []string{"authentication"}, "logon-failed", "failure"
	ev.Event.Original = `{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":4625,"Channel":"Security","Computer":"node-03.telemetry.steppe-gas.example","TimeCreated":{"#attributes":{"SystemTime":"2026-11-24T10:00:00.000000Z"}}},"EventData":{"TargetUserName":"oracle","TargetDomainName":"CORP","LogonType":3,"Status":"0xc000006d","SubStatus":"0xc000006a","IpAddress":"10.20.184.168","IpPort":"48964","WorkstationName":"-","LogonProcessName":"NtLmSsp","ProcessName":"C:\\Windows\\System32\\lsass.exe"}}}`
	if err := event.Stamp(ev, at, "c1", "oisc-a", "winevent-http"); err != nil {
		b.Fatal(err)
	}
	ev.SetNamespace("winlog", map[string]any{"Channel": "Security", "EventID": int64(4625), "TargetUserName": "oracle",
		"IpAddress": "10.20.184.168", "LogonType": int64(3), "ProcessName": `C:\Windows\System32\lsass.exe`})
	doc, err := event.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		_ = store.SearchText(doc)
	}
}
