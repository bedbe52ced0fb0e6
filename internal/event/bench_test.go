package event_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
)

// benchTime is fixed so that benchmark output, and the instructions counted
// under callgrind, do not depend on the clock.
var benchTime = time.Date(2026, 11, 24, 10, 0, 1, 3000000, time.UTC)

// stamped is an event with the identity and enrichment the collector gives
// every event.
func stamped(sourceType string) *event.Event {
	ev := &event.Event{Timestamp: benchTime}
	ev.Kuzet = event.Kuzet{EventID: "0197231e-005a-7928-a50b-5c1e2f3a4b6d", ReceivedAt: benchTime.Add(1234567 * time.Nanosecond),
		Collector: "almaty-1", OISC: "oisc-almaty", Input: sourceType + "-tcp", SourceType: sourceType,
		Org: "qazbank", Object: "qazbank-cbs", Sector: "banking", Criticality: 1, Asset: event.AssetKnown,
		ObjectTags: []string{"core_banking"}, TimeSource: event.TimeEvent, TimeZone: event.ZoneRecord}
	return ev
}

// sampleEvent is an RFC 5424 sshd record as the syslog pipeline makes it.
func sampleEvent() *event.Event {
	ev := stamped("syslog")
	ev.Message = "Failed password for invalid user oracle from 45.155.205.233 port 52114 ssh2"
	ev.Event.Original = "<38>1 2026-11-24T10:00:01.003Z cbs-db-01 sshd 4123 - - " + ev.Message
	ev.Source = &event.Endpoint{IP: "45.155.205.233", Port: 52114}
	ev.Host = &event.Host{Name: "cbs-db-01"}
	ev.Process = &event.Process{Name: "sshd", PID: 4123}
	pri := 38
	ev.Log = &event.Log{Syslog: &event.Syslog{Priority: &pri, Hostname: "cbs-db-01", Appname: "sshd", ProcID: "4123"},
		Source: &event.LogSource{Address: "10.10.4.21:51514"}}
	return ev
}

// windowsEvent is a Sysmon process creation (event 1) as the winevent
// pipeline makes it: the whole record flat under winlog, a few ECS fields.
func windowsEvent() *event.Event {
	ev := stamped("winevent")
	ev.Event.Kind, ev.Event.Category, ev.Event.Type = "event", []string{"process"}, []string{"start"}
	ev.Event.Code, ev.Event.Provider, ev.Event.Module = "1", "Microsoft-Windows-Sysmon", "sysmon"
	ev.Host = &event.Host{Name: "WS-ACC-0142.corp.qazbank.kz", OS: "windows"}
	ev.User = &event.User{Name: "a.nurlanov", Domain: "QAZBANK"}
	ev.Process = &event.Process{Name: "powershell.exe", PID: 7312, Executable: `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
		CommandLine:      `powershell.exe -NoP -NonI -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA`,
		WorkingDirectory: `C:\Users\a.nurlanov\`, EntityID: "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
		Parent: &event.Process{Name: "WINWORD.EXE", PID: 5020, Executable: `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`,
			CommandLine: `"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\a.nurlanov\Downloads\invoice_1124.docm" /o ""`}}
	ev.Winlog = map[string]any{
		"EventID": int64(1), "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS-ACC-0142.corp.qazbank.kz",
		"Provider_Name": "Microsoft-Windows-Sysmon", "Provider_Guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",
		"EventRecordID": int64(1844674), "Version": int64(5), "Level": int64(4), "Task": int64(1), "Opcode": int64(0),
		"Keywords": "0x8000000000000000", "Execution_ProcessID": int64(3044), "Execution_ThreadID": int64(4180),
		"Security_UserID": "S-1-5-18", "TimeCreated_SystemTime": "2026-11-24T10:00:01.0031234Z",
		"RuleName": "technique_id=T1059.001,technique_name=PowerShell", "UtcTime": "2026-11-24 10:00:01.002",
		"ProcessGuid": "{9b1f3c2a-7e4d-6743-1a02-000000001f00}", "ProcessId": int64(7312),
		"Image": `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "FileVersion": "10.0.19041.3996 (WinBuild.160101.0800)",
		"Description": "Windows PowerShell", "Product": "Microsoft® Windows® Operating System", "Company": "Microsoft Corporation",
		"OriginalFileName": "PowerShell.EXE",
		"CommandLine":      `powershell.exe -NoP -NonI -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA`,
		"CurrentDirectory": `C:\Users\a.nurlanov\`, "User": `QAZBANK\a.nurlanov`, "LogonGuid": "{9b1f3c2a-6a11-6743-4c8e-0b0000000000}",
		"LogonId": "0xb8e4c", "TerminalSessionId": int64(1), "IntegrityLevel": "Medium",
		"Hashes":            "SHA1=6CBCE4A295C163791B60FC23D285E6D84F28EE4C,MD5=7353F60B1739074EB17C5F4DDDEFE239,SHA256=DE96A6E69944335375DC1AC238336066889D9FFC7D73628EF4FE1B1B160AB32C,IMPHASH=741776AACCFC5B71FF59832DCDCACE0F",
		"ParentProcessGuid": "{9b1f3c2a-7e31-6743-0f02-000000001f00}", "ParentProcessId": int64(5020),
		"ParentImage":       `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`,
		"ParentCommandLine": `"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\a.nurlanov\Downloads\invoice_1124.docm" /o ""`,
		"ParentUser":        `QAZBANK\a.nurlanov`,
	}
	ev.Event.Original = `{"@timestamp":"2026-11-24T10:00:01.003Z","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"computer_name":"WS-ACC-0142.corp.qazbank.kz","record_id":1844674,"event_data":{"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","CommandLine":"powershell.exe -NoP -NonI -W Hidden -Enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA","ParentImage":"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE","User":"QAZBANK\\a.nurlanov","IntegrityLevel":"Medium"}}}`
	return ev
}

// suricataEvent is a Suricata EVE alert as the suricata pipeline makes it:
// every EVE key kept, nested, under suricata.
func suricataEvent() *event.Event {
	ev := stamped("suricata")
	ev.Event.Kind, ev.Event.Category, ev.Event.Severity, ev.Event.Action = "alert", []string{"network", "intrusion_detection"}, 1, "allowed"
	ev.Event.Dataset = "suricata.alert"
	ev.Source = &event.Endpoint{IP: "10.10.4.21", Port: 49822, Address: "10.10.4.21", Bytes: 1842, Packets: 9}
	ev.Destination = &event.Endpoint{IP: "203.0.113.7", Port: 443, Address: "203.0.113.7", Domain: "cdn.example", Bytes: 73211, Packets: 58}
	ev.Network = &event.Network{Transport: "TCP", Protocol: "tls", Bytes: 75053, Packets: 67}
	ev.Rule = &event.Rule{Name: "ET MALWARE Observed Cobalt Strike Beacon Domain (cdn .example in TLS SNI)", ID: "2035465", Category: "A Network Trojan was detected"}
	ev.Observer = &event.Observer{Hostname: "ids-north-1"}
	ev.Message = "A Network Trojan was detected"
	ev.TLS = &event.TLS{Version: "TLS 1.2", Client: &event.TLSClient{ServerName: "cdn.example", JA3: "72a589da586844d7f0818ce684948eea"}}
	ev.Labels = map[string]string{"interface": "eth1"}
	ev.Suricata = map[string]any{
		"timestamp": "2026-11-24T15:00:01.003412+0500", "flow_id": int64(1407416120341742), "in_iface": "eth1",
		"event_type": "alert", "src_ip": "10.10.4.21", "src_port": int64(49822), "dest_ip": "203.0.113.7", "dest_port": int64(443),
		"proto": "TCP", "pkt_src": "wire/pcap", "community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "app_proto": "tls", "direction": "to_server",
		"alert": map[string]any{
			"action": "allowed", "gid": int64(1), "signature_id": int64(2035465), "rev": int64(3),
			"signature": "ET MALWARE Observed Cobalt Strike Beacon Domain (cdn .example in TLS SNI)",
			"category":  "A Network Trojan was detected", "severity": int64(1),
			"metadata": map[string]any{
				"attack_target": []any{"Client_Endpoint"}, "created_at": []any{"2022_03_01"}, "deployment": []any{"Perimeter"},
				"malware_family": []any{"Cobalt_Strike"}, "signature_severity": []any{"Major"}, "updated_at": []any{"2026_01_12"},
				"confidence": []any{"High"},
			},
		},
		"tls": map[string]any{"sni": "cdn.example", "version": "TLS 1.2", "ja3": map[string]any{"hash": "72a589da586844d7f0818ce684948eea",
			"string": "771,49196-49195-49200-49199-159-158-49188-49187-49192-49191-49162-49161-49172-49171-157-156-61-60-53-47-10,0-10-11-13-35-23-65281,29-23-24,0"}},
		"flow": map[string]any{"pkts_toserver": int64(9), "pkts_toclient": int64(58), "bytes_toserver": int64(1842), "bytes_toclient": int64(73211),
			"start": "2026-11-24T15:00:00.870122+0500", "src_ip": "10.10.4.21", "dest_ip": "203.0.113.7", "src_port": int64(49822), "dest_port": int64(443)},
		"host": "ids-north-1",
	}
	ev.Event.Original = `{"timestamp":"2026-11-24T15:00:01.003412+0500","flow_id":1407416120341742,"in_iface":"eth1","event_type":"alert","src_ip":"10.10.4.21","src_port":49822,"dest_ip":"203.0.113.7","dest_port":443,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2035465,"rev":3,"signature":"ET MALWARE Observed Cobalt Strike Beacon Domain (cdn .example in TLS SNI)","category":"A Network Trojan was detected","severity":1},"app_proto":"tls","tls":{"sni":"cdn.example","version":"TLS 1.2"}}`
	return ev
}

var benchEvents = []struct {
	name string
	ev   func() *event.Event
}{
	{"syslog", sampleEvent},
	{"windows", windowsEvent},
	{"suricata", suricataEvent},
}

func BenchmarkMarshal(b *testing.B) {
	for _, c := range benchEvents {
		b.Run(c.name, func(b *testing.B) {
			ev := c.ev()
			data, err := event.Marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := event.Marshal(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendJSON encodes into one reused buffer, as a caller that
// owns its buffers does.
func BenchmarkAppendJSON(b *testing.B) {
	for _, c := range benchEvents {
		b.Run(c.name, func(b *testing.B) {
			ev := c.ev()
			buf, err := event.AppendJSON(nil, ev)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = event.AppendJSON(buf[:0], ev); err != nil {
					b.Fatal(err)
				}
			}
		})
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
