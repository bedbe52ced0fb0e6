package auditd_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/auditd"
)

// The example of the Red Hat Security Guide, "Understanding Audit Log Files".
const rhel = `type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7fffd19c5592 a1=0 a2=7fffd19c4b50 a3=a items=1 ppid=2686 pid=3538 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm="cat" exe="/bin/cat" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key="sshd_config"
type=CWD msg=audit(1364481363.243:24287):  cwd="/home/shadowman"
type=PATH msg=audit(1364481363.243:24287): item=0 name="/etc/ssh/sshd_config" inode=409248 dev=fd:00 mode=0100600 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:etc_t:s0  objtype=NORMAL cap_fp=none cap_fi=none cap_fe=0 cap_fver=0
type=PROCTITLE msg=audit(1364481363.243:24287) : proctitle=636174002F6574632F7373682F737368645F636F6E666967`

func join(t *testing.T, text string) []auditd.Event {
	t.Helper()
	var j auditd.Joiner
	var out []auditd.Event
	now := time.Now()
	for _, line := range strings.Split(text, "\n") {
		r, err := auditd.ParseRecord(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, j.Add(r, line, now)...)
	}
	return append(out, j.Flush()...)
}

func TestRHELExample(t *testing.T) {
	evs := join(t, rhel)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if e.Serial != 24287 || !e.Time.Equal(time.Unix(1364481363, 243e6)) || len(e.Raw) != 4 ||
		!reflect.DeepEqual(e.Types, []string{"SYSCALL", "CWD", "PATH", "PROCTITLE"}) {
		t.Errorf("event %+v", e)
	}
	for k, v := range map[string]any{"syscall": "2", "success": "no", "comm": "cat", "exe": "/bin/cat", "key": "sshd_config",
		"cwd": "/home/shadowman", "name": "/etc/ssh/sshd_config", "proctitle": "cat /etc/ssh/sshd_config", "a0": "7fffd19c5592"} {
		if !reflect.DeepEqual(e.Fields[k], v) {
			t.Errorf("%s = %#v, want %#v", k, e.Fields[k], v)
		}
	}
}

func TestExecveAndPathItems(t *testing.T) {
	text := `node=web-01 type=SYSCALL msg=audit(1700000000.5:77): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=10 pid=11 auid=1000 uid=0 comm="sh" exe="/usr/bin/dash" key="exec"
node=web-01 type=EXECVE msg=audit(1700000000.5:77): argc=3 a0="sh" a1="-c" a2=6563686F2068656C6C6F20776F726C64
node=web-01 type=PATH msg=audit(1700000000.5:77): item=0 name="/usr/bin/sh" nametype=NORMAL
node=web-01 type=PATH msg=audit(1700000000.5:77): item=1 name="/lib64/ld-linux-x86-64.so.2" nametype=NORMAL
node=web-01 type=EOE msg=audit(1700000000.5:77):
type=USER_LOGIN msg=audit(1700000001.000:78): pid=5 uid=0 auid=1000 ses=2 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=45.155.205.233 terminal=ssh res=failed'`
	evs := join(t, text)
	if len(evs) != 2 {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	e := evs[0]
	if e.Node != "web-01" || e.Fields["a0"] != "sh" || e.Fields["a2"] != "echo hello world" || e.Fields["argc"] != "3" ||
		!reflect.DeepEqual(e.Fields["name"], []string{"/usr/bin/sh", "/lib64/ld-linux-x86-64.so.2"}) ||
		!reflect.DeepEqual(e.Fields["item"], []string{"0", "1"}) {
		t.Errorf("execve: %+v", e.Fields)
	}
	l := evs[1]
	if l.Fields["acct"] != "root" || l.Fields["addr"] != "45.155.205.233" || l.Fields["res"] != "failed" || l.Types[0] != "USER_LOGIN" {
		t.Errorf("user_login: %+v", l.Fields)
	}
}

func TestExpire(t *testing.T) {
	var j auditd.Joiner
	r, _ := auditd.ParseRecord(`type=SYSCALL msg=audit(1.0:1): syscall=59`)
	t0 := time.Now()
	if out := j.Add(r, "", t0); len(out) != 0 {
		t.Fatal(out)
	}
	if out := j.Expire(t0.Add(time.Second)); len(out) != 0 {
		t.Fatal("expired early")
	}
	if out := j.Expire(t0.Add(3 * time.Second)); len(out) != 1 {
		t.Fatal("not expired")
	}
}

func TestMalformed(t *testing.T) {
	for in, reason := range map[string]string{
		"garbage":                            ingest.ReasonSyntax,
		"type=SYSCALL arch=x":                ingest.ReasonSyntax,
		"type=SYSCALL msg=audit(123.4:":      ingest.ReasonTruncated,
		"type=SYSCALL msg=audit(abc:1): x=1": ingest.ReasonSyntax,
		"type= msg=audit(1.0:1): x=1":        ingest.ReasonSyntax,
	} {
		if _, err := auditd.ParseRecord(in); err == nil || ingest.ReasonOf(err) != reason {
			t.Errorf("%q: %v, want %s", in, err, reason)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, l := range strings.Split(rhel, "\n") {
		f.Add(l)
	}
	f.Add(`type=USER_LOGIN msg=audit(1700000001.000:78): msg='op=login acct="root" res=failed'`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := auditd.ParseRecord(s)
		if err != nil {
			return
		}
		var j auditd.Joiner
		j.Add(r, s, time.Now())
		j.Flush()
	})
}

func BenchmarkParseRecord(b *testing.B) {
	line := strings.Split(rhel, "\n")[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auditd.ParseRecord(line); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
