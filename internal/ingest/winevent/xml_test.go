package winevent_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/winevent"
)

// A Security 4625 event as Windows Event Forwarding renders it (RenderedXml).
const wef4625 = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-A5BA-3E3B0328C30D}'/><EventID>4625</EventID><Version>0</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords><TimeCreated SystemTime='2026-11-24T10:00:01.1234567Z'/><EventRecordID>2143</EventRecordID><Correlation ActivityID='{D1E5F2A1-0000-0000-0000-000000000000}'/><Execution ProcessID='636' ThreadID='4092'/><Channel>Security</Channel><Computer>dc1.corp.local</Computer><Security/></System><EventData><Data Name='SubjectUserSid'>S-1-0-0</Data><Data Name='TargetUserName'>admin</Data><Data Name='TargetDomainName'>CORP</Data><Data Name='Status'>0xC000006D</Data><Data Name='SubStatus'>0xc0000064</Data><Data Name='LogonType'>3</Data><Data Name='IpAddress'>45.155.205.233</Data><Data Name='IpPort'>52114</Data><Data Name='TargetLogonId'>0x00000000000003E7</Data><Data Name='Empty'/></EventData><RenderingInfo Culture='en-US'><Message>An account failed to log on.</Message><Level>Information</Level><Task>Logon</Task><Opcode>Info</Opcode><Channel>Security</Channel><Provider>Microsoft Windows security auditing.</Provider><Keywords><Keyword>Audit Failure</Keyword></Keywords></RenderingInfo></Event>`

func TestFlattenXML(t *testing.T) {
	f, ts, err := winevent.FlattenXML(wef4625)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"EventID": int64(4625), "Channel": "Security", "Computer": "dc1.corp.local", "Provider_Name": "Microsoft-Windows-Security-Auditing",
		"Provider_Guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}", "Keywords": "0x8010000000000000", "EventRecordID": "2143",
		"Execution_ProcessID": "636", "TimeCreated_SystemTime": "2026-11-24T10:00:01.1234567Z", "TargetUserName": "admin",
		"Status": "0xc000006d", "SubStatus": "0xc0000064", "TargetLogonId": "0x3e7", "LogonType": "3", "IpAddress": "45.155.205.233",
		"Empty": "", "RenderingInfo_Message": "An account failed to log on.",
	}
	for k, v := range want {
		if fmt.Sprint(f[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, f[k], v)
		}
	}
	if ts.UTC().Format("2006-01-02T15:04:05.0000000Z") != "2026-11-24T10:00:01.1234567Z" {
		t.Errorf("time %v", ts)
	}
}

func TestFlattenXMLBad(t *testing.T) {
	for in, reason := range map[string]string{
		`<Event><System><EventID>1</EventID>`:                         ingest.ReasonTruncated,
		`<Event><System><EventID>1</EventID></System></Event><Event>`: ingest.ReasonSyntax,
		`<Foo/>`:                      ingest.ReasonBadField,
		`<Event><EventData/></Event>`: ingest.ReasonBadField,
		`<!DOCTYPE x [<!ENTITY a "aaaa">]><Event/>`:         ingest.ReasonSyntax,
		`<Event>` + strings.Repeat("<a>", 100) + `</Event>`: ingest.ReasonSyntax,
		`not xml`: ingest.ReasonSyntax,
	} {
		if _, _, err := winevent.FlattenXML(in); ingest.ReasonOf(err) != reason {
			t.Errorf("%.40q: %v, want reason %s", in, err, reason)
		}
	}
}

// TestFlattenXMLElastic reads the raw XML of Elastic's Sysmon fixture and
// checks every EventData value against what Winlogbeat made of it.
func TestFlattenXMLElastic(t *testing.T) {
	path := filepath.Join(conformance.Path(t, "elastic-integrations"), "windows/sysmon_operational/test-image-loaded-failed-signature.json-expected.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Expected []struct {
			Event  struct{ Original string } `json:"event"`
			Winlog struct {
				Channel   string            `json:"channel"`
				Computer  string            `json:"computer_name"`
				EventID   string            `json:"event_id"`
				EventData map[string]string `json:"event_data"`
			} `json:"winlog"`
		} `json:"expected"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, e := range doc.Expected {
		f, _, err := winevent.FlattenXML(e.Event.Original)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(f["EventID"]) != e.Winlog.EventID || f["Channel"] != e.Winlog.Channel || f["Computer"] != e.Winlog.Computer {
			t.Errorf("System: %v %v %v", f["EventID"], f["Channel"], f["Computer"])
		}
		for k, v := range e.Winlog.EventData {
			if fmt.Sprint(f[k]) != v {
				t.Errorf("%s = %q, Winlogbeat %q", k, f[k], v)
			}
		}
		if len(e.Winlog.EventData) == 0 {
			t.Fatal("no EventData to compare")
		}
	}
}

func FuzzFlattenXML(f *testing.F) {
	f.Add(wef4625)
	f.Add(`<Event><System><EventID Qualifiers='0'>7</EventID></System><UserData><X xmlns='a'><A>1</A><B><C>2</C></B></X></UserData></Event>`)
	f.Add(`<Event><System><EventID>1</EventID></System><EventData><Data>a</Data><Data>b</Data><Binary>00</Binary></EventData></Event>`)
	f.Fuzz(func(t *testing.T, s string) {
		fields, _, err := winevent.FlattenXML(s)
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatalf("%q: error without a reason: %v", s, err)
			}
			return
		}
		if _, ok := fields["EventID"]; !ok {
			t.Fatalf("%q: accepted without EventID", s)
		}
	})
}
