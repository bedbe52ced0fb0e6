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
