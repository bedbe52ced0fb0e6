package syslog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest/syslog"
)

// TestCiscoTag: a BSD record whose tag holds % and - (Cisco ASA, IOS) keeps
// it as the program name.
func TestCiscoTag(t *testing.T) {
	for in, want := range map[string]string{
		"<166>Nov 24 2026 10:00:01 asa-1 : %ASA-6-302013: Built inbound TCP connection 1 for outside:45.155.205.233/52114": "%ASA-6-302013",
		"<166>Nov 24 10:00:01 asa-1 %ASA-6-302013: Built inbound TCP connection 1":                                         "%ASA-6-302013",
		"<189>Nov 24 10:00:01 rtr-1 %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.0.0.1(1234) -> 10.0.0.2(23), 1 packet":     "%SEC-6-IPACCESSLOGP",
		"<13>Nov 24 10:00:01 h my-app: hello": "my-app",
	} {
		m, err := syslog.Parse([]byte(in), syslog.Options{Location: time.UTC, Now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if m.AppName != want {
			t.Errorf("%s: app %q, want %q (host %q, msg %q)", in, m.AppName, want, m.Hostname, m.Msg)
		}
	}
}

// TestLongStructuredData: RFC 5424 limits no PARAM-VALUE's length; a value
// of any length within the message is kept whole.
func TestLongStructuredData(t *testing.T) {
	long := strings.Repeat("x", 40000)
	in := `<13>1 2026-11-24T10:00:01Z h app - - [meta@32473 data="` + long + `" n="1"] msg`
	m, err := syslog.Parse([]byte(in), syslog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.SD) != 1 || len(m.SD[0].Params) != 2 || m.SD[0].Params[0].Value != long || m.Msg != "msg" {
		t.Fatalf("SD %d elements, msg %q", len(m.SD), m.Msg)
	}
}
