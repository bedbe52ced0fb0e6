package deploytest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitFile is a systemd unit as key=value lines per section; a key given
// more than once keeps every value, in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot read %q", path, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// last is the value that counts for a key given once or more.
func (u unitFile) last(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// hardening is what every kuzet unit sets (systemd.exec(5)); each unit
// adds CapabilityBoundingSet (empty, or only what it needs).
var hardening = map[string]string{
	"NoNewPrivileges":         "true",
	"ProtectSystem":           "strict",
	"ProtectHome":             "true",
	"PrivateTmp":              "true",
	"PrivateDevices":          "true",
	"ProtectKernelTunables":   "true",
	"ProtectKernelModules":    "true",
	"ProtectKernelLogs":       "true",
	"ProtectControlGroups":    "true",
	"ProtectClock":            "true",
	"ProtectHostname":         "true",
	"ProtectProc":             "invisible",
	"RestrictNamespaces":      "true",
	"RestrictRealtime":        "true",
	"RestrictSUIDSGID":        "true",
	"LockPersonality":         "true",
	"MemoryDenyWriteExecute":  "true",
	"RemoveIPC":               "true",
	"SystemCallArchitectures": "native",
	"SystemCallErrorNumber":   "EPERM",
}

// capabilities each unit may keep.
var capabilities = map[string]string{
	"kuzet-api.service":       "",
	"kuzet-ncc.service":       "",
	"kuzet-nats.service":      "",
	"kuzet-collector.service": "CAP_NET_BIND_SERVICE", // syslog on 514
}

// exposureThreshold is the highest `systemd-analyze security` exposure a
// unit may have, in its --threshold unit, tenths of the exposure it prints
// (0 safest, 100 unsandboxed; the units were at 85 before the hardening,
// 12 to 16 after it).
const exposureThreshold = "20"

// userName is systemd's strict rule for User= and Group= names.
var userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,30}$`)

func units(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir(t), "systemd", "*.service"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no units in deploy/systemd (%v)", err)
	}
	for name := range capabilities {
		if !slices.Contains(files, filepath.Join(deployDir(t), "systemd", name)) {
			t.Errorf("no unit %s", name)
		}
	}
	return files
}

// TestSystemdUnitsHardened checks the sandbox directives of every unit,
// that it runs as its own unprivileged user, and that it writes only its
// StateDirectory.
func TestSystemdUnitsHardened(t *testing.T) {
	for _, path := range units(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			u := parseUnit(t, path)
			for k, want := range hardening {
				if got, ok := u.last("Service", k); got != want {
					t.Errorf("%s=%q (set: %v), want %s", k, got, ok, want)
				}
			}
			caps, ok := u.last("Service", "CapabilityBoundingSet")
			if want, known := capabilities[name]; !ok || !known || caps != want {
				t.Errorf("CapabilityBoundingSet=%q (set: %v), want %q", caps, ok, want)
			}
			if amb, _ := u.last("Service", "AmbientCapabilities"); amb != caps && amb != "" {
				t.Errorf("AmbientCapabilities=%q beyond the bounding set %q", amb, caps)
			}
			if !slices.Contains(u["Service"]["SystemCallFilter"], "@system-service") {
				t.Errorf("SystemCallFilter=%v, want @system-service", u["Service"]["SystemCallFilter"])
			}
			fams, _ := u.last("Service", "RestrictAddressFamilies")
			for _, f := range strings.Fields(fams) {
				if !slices.Contains([]string{"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}, f) {
					t.Errorf("RestrictAddressFamilies allows %s", f)
				}
			}
			if !strings.Contains(fams, "AF_INET") {
				t.Errorf("RestrictAddressFamilies=%q", fams)
			}
			for _, k := range []string{"User", "Group"} {
				v, _ := u.last("Service", k)
				if !userName.MatchString(v) || v == "root" {
					t.Errorf("%s=%q: want the unprivileged kuzet user (a valid name; systemd-analyze verify does not look users up)", k, v)
				}
			}
			if _, ok := u.last("Service", "DynamicUser"); ok {
				t.Error("DynamicUser: the units share the kuzet user that deploy/README.md has created")
			}
			state, _ := u.last("Service", "StateDirectory")
			if !strings.HasPrefix(state, "kuzet/") {
				t.Fatalf("StateDirectory=%q, want kuzet/<role>", state)
			}
			stateDir := "/var/lib/" + state
			if wd, _ := u.last("Service", "WorkingDirectory"); wd != stateDir {
				t.Errorf("WorkingDirectory=%q, want the StateDirectory %s", wd, stateDir)
			}
			for _, p := range u["Service"]["ReadWritePaths"] {
				if p != stateDir {
					t.Errorf("ReadWritePaths=%s beyond the StateDirectory", p)
				}
			}
			start, _ := u.last("Service", "ExecStart")
			if f := flags(strings.Fields(start)); f["-store"] != "" && !strings.HasPrefix(f["-store"], stateDir) {
				t.Errorf("-store %s outside the StateDirectory %s (read-only under ProtectSystem=strict)", f["-store"], stateDir)
			}
		})
	}
}

// TestSystemdVerify runs systemd-analyze verify on a copy of each unit
// whose commands are the binaries `make build` made, and fails on any
// complaint about the unit: verify exits 0 on unknown keys and bad values
// (it only warns), so its output counts too. It does not look up User=
// (the kuzet user need not exist here); TestSystemdUnitsHardened checks
// that name. systemd-analyze security then scores the sandbox.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		skipOrFail(t, "systemd-analyze not found (make deps installs systemd): %v", err)
	}
	bin := filepath.Join(repoRoot(t), "bin")
	for _, path := range units(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			copyPath := filepath.Join(t.TempDir(), name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, line := range strings.Split(string(data), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "Exec") {
					cmd := strings.TrimLeft(v, "-@:+!")
					exe, _, _ := strings.Cut(cmd, " ")
					if !strings.HasPrefix(exe, "/usr/local/bin/") {
						t.Fatalf("%s runs %s, not a binary installed into /usr/local/bin", k, exe)
					}
					binary(t, filepath.Base(exe))
					line = k + "=" + strings.Replace(v, "/usr/local/bin", bin, 1)
				}
				lines = append(lines, line)
			}
			if err := os.WriteFile(copyPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			if complaints := verify(t, analyze, copyPath); len(complaints) > 0 {
				t.Errorf("systemd-analyze verify %s:\n%s", name, strings.Join(complaints, "\n"))
			}
			out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold="+exposureThreshold, copyPath).CombinedOutput()
			if err != nil {
				sum := strings.TrimSpace(string(out))
				if i := strings.LastIndex(sum, "\n"); i >= 0 {
					sum = sum[i+1:]
				}
				t.Errorf("systemd-analyze security: %v; %s (threshold %s)", err, sum, exposureThreshold)
			}
		})
	}
}

// verify runs systemd-analyze verify on the unit file at path and returns
// its complaints about that unit: its exit status (a missing binary) and
// every line naming the unit, since verify exits 0 on unknown keys and bad
// values and only warns. Lines about other units are logged.
func verify(t *testing.T, analyze, path string) []string {
	t.Helper()
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	var complaints []string
	if err != nil {
		complaints = append(complaints, err.Error())
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, path) || strings.Contains(l, filepath.Base(path)) {
			complaints = append(complaints, l)
		} else if l != "" {
			t.Logf("systemd-analyze verify (not about %s): %s", filepath.Base(path), l)
		}
	}
	return complaints
}

// TestSystemdVerifyCatchesErrors makes sure the verify check can fail: on
// a unknown key and a bad value, which systemd-analyze verify only warns
// about, and on a missing binary.
func TestSystemdVerifyCatchesErrors(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		skipOrFail(t, "systemd-analyze not found: %v", err)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"bad-key.service":   "[Service]\nExecStart=/bin/true\nNoSuchKey=1\n",
		"bad-value.service": "[Service]\nExecStart=/bin/true\nProtectSystem=strictest\n",
		"bad-exe.service":   "[Service]\nExecStart=/nonexistent/kuzet-ncc\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if c := verify(t, analyze, p); len(c) == 0 {
			t.Errorf("%s: no complaint", name)
		}
	}
	good := filepath.Join(dir, "good.service")
	if err := os.WriteFile(good, []byte("[Service]\nExecStart=/bin/true\nUser=kuzet-no-such-user\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := verify(t, analyze, good); len(c) > 0 {
		t.Errorf("good.service (an unknown User= is no error to verify): %v", c)
	}
}
