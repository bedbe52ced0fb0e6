package pipeline_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// samples are realistic records per pipeline, for benchmarks and fuzz seeds.
var samples = map[string]string{
	"syslog":    "<38>1 2026-11-24T10:00:01.003Z cbs-db-01 sshd 4123 - - Failed password for invalid user oracle from 45.155.205.233 port 52114 ssh2",
	"cef":       "<132>Nov 24 10:00:01 ids-01 CEF:0|OISF|Suricata|7.0.3|2024897|ET SCAN Nmap Scripting Engine User-Agent Detected|6|src=45.155.205.233 spt=52114 dst=10.10.4.21 dpt=443 proto=TCP act=alert",
	"leef":      "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=45.155.205.233^dst=10.10.4.21^sev=5^cat=anomaly^srcPort=52114^dstPort=443^usrName=joe.black^proto=TCP",
	"fortigate": `<189>date=2026-11-24 time=10:00:01 devname="FG-100F" devid="FG100FTK19000001" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=10.10.4.21 srcport=52114 dstip=8.8.8.8 dstport=53 proto=17 action="deny" policyid=12 service="DNS"`,
	"suricata":  `{"timestamp":"2026-11-24T10:00:01.534255+0500","flow_id":1391565316812346,"in_iface":"eth0","event_type":"alert","src_ip":"45.155.205.233","src_port":52114,"dest_ip":"10.10.4.21","dest_port":443,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2024897,"rev":3,"signature":"ET SCAN Nmap Scripting Engine User-Agent Detected","category":"Web Application Attack","severity":1},"http":{"hostname":"cbs.example","url":"/","http_user_agent":"Mozilla/5.0 (compatible; Nmap Scripting Engine)"}}`,
	"zeek":      `{"_path":"dns","_write_ts":"2018-03-24T17:15:20.866586Z","ts":"2018-03-24T17:15:20.865716Z","uid":"CqKst53mF3det3eDV9","id.orig_h":"10.47.1.100","id.orig_p":41772,"id.resp_h":"10.0.0.100","id.resp_p":53,"proto":"udp","trans_id":36329,"rtt":0.00087,"query":"ise.wrccdc.org","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["10.47.1.10"],"TTLs":[3600.0],"rejected":false}`,
	"winevent":  `{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},"EventID":1,"Version":5,"Level":4,"Task":1,"Opcode":0,"Keywords":"0x8000000000000000","TimeCreated":{"#attributes":{"SystemTime":"2026-11-24T10:00:01.123456Z"}},"EventRecordID":571146,"Correlation":null,"Execution":{"#attributes":{"ProcessID":3544,"ThreadID":4272}},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-7.corp.local","Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"RuleName":"-","UtcTime":"2026-11-24 10:00:01.120","ProcessGuid":"{0197231E-005A-6928-A50B-000000000D00}","ProcessId":4460,"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami /all","CurrentDirectory":"C:\\Users\\op\\","User":"CORP\\op","LogonId":"0x3e7","IntegrityLevel":"High","Hashes":"SHA256=ABC","ParentImage":"C:\\Windows\\explorer.exe","ParentCommandLine":"C:\\Windows\\Explorer.EXE"}}}`,
	"wazuh":     `{"timestamp":"2026-11-24T10:00:01.123+0500","rule":{"level":10,"description":"sshd: brute force","id":"5712","groups":["syslog","sshd"]},"agent":{"id":"003","name":"cbs-db-01","ip":"10.10.4.21"},"full_log":"Failed password for root","data":{"srcip":"45.155.205.233","dstuser":"root"}}`,
	"ndjson":    `{"@timestamp":"2026-11-24T10:00:01Z","host":"app-1","msg":"login failed","user":"bob","src_ip":"10.0.0.7","extra":{"a":1}}`,
	"auditd":    `type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7fffd19c5592 items=1 ppid=2686 pid=3538 auid=1000 uid=1000 tty=pts0 ses=1 comm="cat" exe="/bin/cat" key="sshd_config"`,
}

// BenchmarkPipelines measures records/s through each whole pipeline (parse
// and steps, one core): the figure the collector's normalisation costs.
func BenchmarkPipelines(b *testing.B) {
	set, err := pipeline.Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range set.Names() {
		data := []byte(samples[name])
		b.Run(name, func(b *testing.B) {
			st, err := set.NewStream(name, pipeline.StreamOptions{})
			if err != nil {
				b.Fatal(err)
			}
			rec := ingest.Record{Data: data, ReceivedAt: time.Now()}
			emit := func(*event.Event) error { return nil }
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				if name == "auditd" {
					// A new serial each time, so every record completes an event.
					rec.Data = []byte("type=SYSCALL msg=audit(1364481363.243:" + itoa(i) + samples[name][len("type=SYSCALL msg=audit(1364481363.243:24287"):])
				}
				if err := st.Push(rec, emit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// FuzzPipelines pushes arbitrary records through every pipeline: no panic,
// rejections carry a reason, accepted events are valid.
func FuzzPipelines(f *testing.F) {
	set, err := pipeline.Default()
	if err != nil {
		f.Fatal(err)
	}
	names := set.Names()
	for i, name := range names {
		f.Add(uint8(i), []byte(samples[name]))
	}
	// Device zones at the edges: the largest offsets, a zone with DST, none.
	deviceZones := []*time.Location{nil, time.FixedZone("+14", 14*3600), time.FixedZone("-12", -12*3600), time.UTC}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		deviceZones = append(deviceZones, ny)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		name := names[int(which)%len(names)]
		zone := deviceZones[int(which)/len(names)%len(deviceZones)]
		st, err := set.NewStream(name, pipeline.StreamOptions{MaxRecord: 1 << 16,
			DeviceZone: func(*event.Event) *time.Location { return zone }})
		if err != nil {
			t.Fatal(err)
		}
		check := func(ev *event.Event) error {
			if err := event.Stamp(ev, time.Now(), "c1", "oisc-a", "f"); err != nil {
				t.Fatal(err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("%s: invalid event from %q: %v", name, data, err)
			}
			if ev.Kuzet.TimeSource == event.TimeEvent && ev.Kuzet.TimeZone == "" {
				t.Fatalf("%s: @timestamp from %q without kuzet.time_zone", name, data)
			}
			if _, err := event.Marshal(ev); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return nil
		}
		if err := st.Push(ingest.Record{Data: data, ReceivedAt: time.Now()}, check); err != nil && ingest.ReasonOf(err) == "" {
			t.Fatalf("%s: error without reason: %v", name, err)
		}
		_ = st.Flush(check)
	})
}
