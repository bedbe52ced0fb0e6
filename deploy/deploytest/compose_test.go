package deploytest

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// testImage is what KUZET_IMAGE is set to when the project is loaded: the
// kuzet services must take it (interpolation from the environment works).
const testImage = "registry.example/kuzet:test"

// loadCompose loads deploy/compose/compose.yaml as docker compose does:
// schema validation, interpolation from env, paths resolved against the
// file's directory, the consistency check (depends_on, networks, volumes
// and secrets that exist).
func loadCompose(t *testing.T, env []string) *types.Project {
	t.Helper()
	dir := filepath.Join(deployDir(t), "compose")
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir), cli.WithEnv(env), cli.WithInterpolation(true),
		cli.WithResolvedPaths(true), cli.WithConsistency(true), cli.WithNormalization(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p
}

// stack is the loaded project with what the checks ask of it.
type stack struct {
	t   *testing.T
	dir string // deploy/compose
	p   *types.Project
}

func newStack(t *testing.T) *stack {
	return &stack{t: t, dir: filepath.Join(deployDir(t), "compose"), p: loadCompose(t, []string{"KUZET_IMAGE=" + testImage})}
}

// role is the kuzet binary a service runs ("kuzet nats" for the hub),
// or "".
func role(s types.ServiceConfig) string {
	switch {
	case len(s.Command) >= 2 && s.Command[0] == "kuzet" && s.Command[1] == "nats":
		return "kuzet nats"
	case len(s.Command) >= 1 && slices.Contains([]string{"kuzet-ncc", "kuzet-api", "kuzet-collector"}, s.Command[0]):
		return s.Command[0]
	}
	return ""
}

// byRole lists the names of the services running r, sorted.
func (st *stack) byRole(r string) []string {
	var out []string
	for name, s := range st.p.Services {
		if role(s) == r {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// byImage lists the services whose image starts with prefix, sorted.
func (st *stack) byImage(prefix string) []string {
	var out []string
	for name, s := range st.p.Services {
		if strings.HasPrefix(s.Image, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// flags reads "-name value" pairs from a command.
func flags(cmd []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(cmd); i++ {
		if strings.HasPrefix(cmd[i], "-") && i+1 < len(cmd) {
			out[cmd[i]] = cmd[i+1]
			i++
		}
	}
	return out
}

// source is the file in the tree that service name mounts at target.
func (st *stack) source(name, target string) string {
	st.t.Helper()
	for _, v := range st.p.Services[name].Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			return v.Source
		}
	}
	st.t.Fatalf("service %s mounts nothing at %s", name, target)
	return ""
}

// mountsUnder lists the files service name mounts into directory dir.
func (st *stack) mountsUnder(name, dir string) []string {
	var out []string
	for _, v := range st.p.Services[name].Volumes {
		if v.Type == types.VolumeTypeBind && filepath.Dir(v.Target) == dir {
			out = append(out, v.Source)
		}
	}
	slices.Sort(out)
	return out
}

// roleConfig decodes the -config file of a kuzet role service.
func (st *stack) roleConfig(name string) (path string, cfg map[string]any) {
	st.t.Helper()
	target := flags(st.p.Services[name].Command)["-config"]
	if target == "" {
		st.t.Fatalf("service %s runs %s without -config", name, role(st.p.Services[name]))
	}
	path = st.source(name, target)
	readYAML(st.t, path, &cfg)
	return path, cfg
}

// env is the service's environment (unset entries as "").
func env(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}

// secretTarget is the file name under /run/secrets where the service
// finds the secret source ("" when it does not get it).
func secretTarget(s types.ServiceConfig, source string) string {
	for _, sec := range s.Secrets {
		if sec.Source == source {
			if sec.Target == "" {
				return source
			}
			return strings.TrimPrefix(sec.Target, "/run/secrets/")
		}
	}
	return ""
}

// secretVars are the variables secrets-env makes for a service: its
// secrets whose target is a variable's name, by name, with their source.
func secretVars(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for _, sec := range s.Secrets {
		if name := secretTarget(s, sec.Source); envName.MatchString(name) {
			out[name] = sec.Source
		}
	}
	return out
}

var envName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

func TestComposeServices(t *testing.T) {
	st := newStack(t)
	want := []string{"nats-1", "nats-2", "nats-3", "keeper", "ch-1", "ch-2", "ncc-1", "ncc-2", "api",
		"collector-ncc", "collector-almaty", "prometheus", "blackbox", "grafana"}
	for _, name := range want {
		if _, ok := st.p.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	if got := st.byRole("kuzet nats"); len(got) != 3 {
		t.Errorf("services running kuzet nats: %v, want three (the hub's cluster)", got)
	}
	if got := st.byRole("kuzet-ncc"); len(got) != 2 {
		t.Errorf("services running kuzet-ncc: %v, want two", got)
	}
	if got := st.byRole("kuzet-api"); len(got) < 1 {
		t.Error("no service runs kuzet-api")
	}
	if got := st.byImage("clickhouse/clickhouse-server:"); len(got) != 2 {
		t.Errorf("ClickHouse servers: %v, want two replicas", got)
	}
	if got := append(st.byImage("clickhouse/clickhouse-keeper:"), st.byImage("zookeeper:")...); len(got) < 1 {
		t.Error("no ClickHouse Keeper or ZooKeeper service")
	}
	for name, s := range st.p.Services {
		if role(s) != "" && s.Image != testImage {
			t.Errorf("service %s: image %q, want KUZET_IMAGE from the environment (%q)", name, s.Image, testImage)
		}
		if role(s) != "" && (!s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true")) {
			t.Errorf("service %s: want read_only, cap_drop ALL and no-new-privileges", name)
		}
	}
}

func TestComposeDependsOnAndHealthchecks(t *testing.T) {
	st := newStack(t)
	for name, s := range st.p.Services {
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
			t.Errorf("service %s has no healthcheck", name)
		}
		for dep, d := range s.DependsOn {
			ds, ok := st.p.Services[dep]
			if !ok {
				t.Errorf("service %s depends on %s, which is no service", name, dep)
				continue
			}
			if d.Condition == types.ServiceConditionHealthy && (ds.HealthCheck == nil || ds.HealthCheck.Disable) {
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
	// The roles' healthchecks ask the ops listener (http.listen) for
	// /healthz and /readyz; it listens on every interface, for Prometheus.
	for name, s := range st.p.Services {
		if r := role(s); r == "" || r == "kuzet nats" {
			continue
		}
		_, cfg := st.roleConfig(name)
		host, port, err := net.SplitHostPort(str(cfg, "http", "listen"))
		if err != nil || host != "0.0.0.0" {
			t.Errorf("service %s: http.listen %q, want 0.0.0.0:<port>", name, str(cfg, "http", "listen"))
			continue
		}
		test := strings.Join(s.HealthCheck.Test, " ")
		for _, path := range []string{"/healthz", "/readyz"} {
			if u := "http://127.0.0.1:" + port + path; !strings.Contains(test, u) {
				t.Errorf("service %s: healthcheck %q does not ask %s", name, test, u)
			}
		}
	}
	for _, name := range st.byRole("kuzet nats") {
		port := flags(st.p.Services[name].Command)["-http-port"]
		if u := "http://127.0.0.1:" + port + "/healthz"; !strings.Contains(strings.Join(st.p.Services[name].HealthCheck.Test, " "), u) {
			t.Errorf("service %s: healthcheck does not ask %s (its -http-port)", name, u)
		}
	}
}

func TestComposeMountsExist(t *testing.T) {
	st := newStack(t)
	root := repoRoot(t)
	for name, s := range st.p.Services {
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeBind:
				if rel, err := filepath.Rel(root, v.Source); err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("service %s mounts %s, outside the repository", name, v.Source)
					continue
				}
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s mounts %s at %s: %v", name, v.Source, v.Target, err)
				}
				if !v.ReadOnly {
					t.Errorf("service %s mounts %s read-write; files of the tree are mounted :ro", name, v.Source)
				}
			case types.VolumeTypeVolume:
				if _, ok := st.p.Volumes[v.Source]; !ok {
					t.Errorf("service %s uses volume %s, which is not declared", name, v.Source)
				}
			}
		}
	}
}

func TestComposeNATSHub(t *testing.T) {
	st := newStack(t)
	members := st.byRole("kuzet nats")
	cluster := ""
	clientURLs := map[string]bool{}
	for _, name := range members {
		f := flags(st.p.Services[name].Command)
		if f["-name"] != name {
			t.Errorf("service %s: -name %q, want the service's name (distinct per member)", name, f["-name"])
		}
		if f["-cluster"] == "" || cluster != "" && f["-cluster"] != cluster {
			t.Errorf("service %s: -cluster %q, want one name on every member", name, f["-cluster"])
		}
		cluster = f["-cluster"]
		var want []string
		for _, m := range members {
			if m != name {
				want = append(want, "nats-route://"+m+":"+flags(st.p.Services[m].Command)["-cluster-port"])
			}
		}
		if got := strings.Split(f["-routes"], ","); !slices.Equal(got, want) {
			t.Errorf("service %s: -routes %v, want the other members' routes %v", name, got, want)
		}
		for _, k := range []string{"-host", "-port", "-http-port", "-store", "-max-store", "-leaf-port", "-leaf-users"} {
			if f[k] == "" {
				t.Errorf("service %s: no %s", name, k)
			}
		}
		if f["-domain"] != "ncc" {
			t.Errorf("service %s: -domain %q, want ncc", name, f["-domain"])
		}
		if f["-max-store"] == "0" {
			t.Errorf("service %s: -max-store 0 (the server's default); bound the store", name)
		}
		if !strings.HasPrefix(f["-store"], "/var/lib/kuzet/") || !st.hasVolumeAt(name, "/var/lib/kuzet") {
			t.Errorf("service %s: -store %s is not on its volume at /var/lib/kuzet", name, f["-store"])
		}
		clientURLs["nats://"+name+":"+f["-port"]] = true
	}
	// Every role that reaches the hub lists every member, and the streams
	// it makes have three replicas.
	for _, r := range []string{"kuzet-ncc", "kuzet-api", "kuzet-collector"} {
		for _, name := range st.byRole(r) {
			_, cfg := st.roleConfig(name)
			if get(cfg, "site", "embedded") == true {
				continue
			}
			urls := strings.Split(str(cfg, "nats", "url"), ",")
			got := map[string]bool{}
			for _, u := range urls {
				got[strings.TrimSpace(u)] = true
			}
			if fmt.Sprint(got) != fmt.Sprint(clientURLs) {
				t.Errorf("service %s: nats.url %v, want every member %v", name, urls, clientURLs)
			}
			if n, _ := get(cfg, "nats", "replicas").(float64); n != 3 {
				t.Errorf("service %s: nats.replicas %v, want 3", name, get(cfg, "nats", "replicas"))
			}
		}
	}
}

func (st *stack) hasVolumeAt(name, target string) bool {
	for _, v := range st.p.Services[name].Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == target {
			return true
		}
	}
	return false
}

// TestComposeSite checks the OISC site: its collector's embedded buffer
// is a leaf node of a hub member's leaf port, as a leaf user of the hub for
// its site, whose password file is the very secret the collector gets as
// KUZET_SITE_HUB_PASSWORD; and the ncc sources that site.
func TestComposeSite(t *testing.T) {
	st := newStack(t)
	members := st.byRole("kuzet nats")
	var sites []string
	for _, name := range st.byRole("kuzet-collector") {
		_, cfg := st.roleConfig(name)
		if str(cfg, "site", "domain") == "" {
			continue
		}
		domain := str(cfg, "site", "domain")
		sites = append(sites, domain+"/"+str(cfg, "oisc"))
		if get(cfg, "site", "embedded") != true {
			t.Errorf("service %s: site %s not embedded; a site's own leaf node would be a service of its own", name, domain)
		}
		hub := str(cfg, "site", "hub")
		var hubMember string
		for _, m := range members {
			if hub == "nats-leaf://"+m+":"+flags(st.p.Services[m].Command)["-leaf-port"] {
				hubMember = m
			}
		}
		if hubMember == "" {
			t.Errorf("service %s: site.hub %q is no hub member's leaf port", name, hub)
			continue
		}
		if _, ok := st.p.Services[name].DependsOn[hubMember]; !ok {
			t.Errorf("service %s does not wait for %s, its hub", name, hubMember)
		}
		var users []map[string]any
		readYAML(t, st.source(hubMember, flags(st.p.Services[hubMember].Command)["-leaf-users"]), &users)
		var passwordFile string
		for _, u := range users {
			if str(u, "site") == domain && str(u, "user") == str(cfg, "site", "hub_user") {
				passwordFile = str(u, "password_file")
			}
		}
		if passwordFile == "" {
			t.Errorf("service %s: the hub has no leaf user %q for site %s", name, str(cfg, "site", "hub_user"), domain)
			continue
		}
		src := secretVars(st.p.Services[name])["KUZET_SITE_HUB_PASSWORD"]
		if src == "" {
			t.Errorf("service %s gets no KUZET_SITE_HUB_PASSWORD secret", name)
			continue
		}
		for _, m := range members {
			if got := "/run/secrets/" + secretTarget(st.p.Services[m], src); got != passwordFile {
				t.Errorf("hub member %s: the leaf user's password_file is %s, but it has the site's secret %s at %s",
					m, passwordFile, src, got)
			}
		}
	}
	if len(sites) == 0 {
		t.Fatal("no collector with a site buffer (an OISC site)")
	}
	for _, name := range st.byRole("kuzet-ncc") {
		_, cfg := st.roleConfig(name)
		l, _ := get(cfg, "sites").([]any)
		var got []string
		for _, s := range l {
			got = append(got, str(s, "domain")+"/"+str(s, "oisc"))
		}
		for _, s := range sites {
			if !slices.Contains(got, s) {
				t.Errorf("service %s: sites %v does not source %s", name, got, s)
			}
		}
	}
}

func TestComposeNCCInstances(t *testing.T) {
	st := newStack(t)
	ids := map[string]string{}
	for _, name := range st.byRole("kuzet-ncc") {
		_, cfg := st.roleConfig(name)
		id := str(cfg, "id")
		if v, ok := env(st.p.Services[name])["KUZET_ID"]; ok {
			id = v
		}
		if other, dup := ids[id]; dup {
			t.Errorf("services %s and %s are both ncc %q; each instance needs its own id", other, name, id)
		}
		ids[id] = name
	}
}

// chConfig is what the checks read of a ClickHouse server's config.d
// files, merged in name order as the server merges them.
type chConfig struct {
	Clusters    map[string]chCluster
	ZooKeeper   []string // host:port
	Shard       string
	Replica     string
	DDLPath     string
	Interserver string
	FromEnv     []string
}

type chCluster struct {
	InternalReplication string
	Replicas            []string // host:port
	Secret              bool
}

type xmlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []xmlNode  `xml:",any"`
}

func (n xmlNode) child(name string) *xmlNode {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == name {
			return &n.Nodes[i]
		}
	}
	return nil
}

func (n xmlNode) text(path ...string) string {
	c := &n
	for _, p := range path {
		if c = c.child(p); c == nil {
			return ""
		}
	}
	return strings.TrimSpace(c.Text)
}

func (n xmlNode) fromEnv(out *[]string) {
	for _, a := range n.Attrs {
		if a.Name.Local == "from_env" {
			*out = append(*out, a.Value)
		}
	}
	for _, c := range n.Nodes {
		c.fromEnv(out)
	}
}

func readXML(t *testing.T, path string) xmlNode {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var n xmlNode
	if err := xml.Unmarshal(data, &n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if n.XMLName.Local != "clickhouse" && n.XMLName.Local != "yandex" {
		t.Fatalf("%s: root element <%s>, want <clickhouse>", path, n.XMLName.Local)
	}
	return n
}

func readCHConfig(t *testing.T, files []string) chConfig {
	c := chConfig{Clusters: map[string]chCluster{}}
	for _, f := range files {
		n := readXML(t, f)
		n.fromEnv(&c.FromEnv)
		if rs := n.child("remote_servers"); rs != nil {
			for _, cl := range rs.Nodes {
				var cc chCluster
				cc.Secret = cl.child("secret") != nil
				for _, sh := range cl.Nodes {
					if sh.XMLName.Local != "shard" {
						continue
					}
					cc.InternalReplication = sh.text("internal_replication")
					for _, r := range sh.Nodes {
						if r.XMLName.Local == "replica" {
							cc.Replicas = append(cc.Replicas, net.JoinHostPort(r.text("host"), r.text("port")))
						}
					}
				}
				c.Clusters[cl.XMLName.Local] = cc
			}
		}
		if zk := n.child("zookeeper"); zk != nil {
			for _, nd := range zk.Nodes {
				if nd.XMLName.Local == "node" {
					c.ZooKeeper = append(c.ZooKeeper, net.JoinHostPort(nd.text("host"), nd.text("port")))
				}
			}
		}
		if s := n.text("macros", "shard"); s != "" {
			c.Shard = s
		}
		if s := n.text("macros", "replica"); s != "" {
			c.Replica = s
		}
		if s := n.text("distributed_ddl", "path"); s != "" {
			c.DDLPath = s
		}
		if s := n.text("interserver_http_host"); s != "" {
			c.Interserver = s
		}
	}
	return c
}

// TestComposeClickHouseCluster checks each server's configuration against
// the cluster-mode contract of the roles' clickhouse section: one shard of
// every server as replicas with internal_replication, Keeper, the {shard}
// and {replica} macros (replica distinct per server), and the ON CLUSTER
// queue; and that the roles name that cluster and those servers.
func TestComposeClickHouseCluster(t *testing.T) {
	st := newStack(t)
	servers := st.byImage("clickhouse/clickhouse-server:")
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s+":9000")
	}
	keepers := map[string]bool{}
	for _, k := range st.byImage("clickhouse/clickhouse-keeper:") {
		kc := readXML(t, st.source(k, "/etc/clickhouse-keeper/keeper_config.xml"))
		keepers[net.JoinHostPort(k, kc.text("keeper_server", "tcp_port"))] = true
	}
	replicas := map[string]string{}
	for _, name := range servers {
		s := st.p.Services[name]
		files := st.mountsUnder(name, "/etc/clickhouse-server/config.d")
		c := readCHConfig(t, files)
		cl, ok := c.Clusters["kuzet"]
		if !ok {
			t.Errorf("%s: no cluster kuzet in remote_servers (%v)", name, files)
			continue
		}
		if cl.InternalReplication != "true" {
			t.Errorf("%s: internal_replication %q, want true", name, cl.InternalReplication)
		}
		if !slices.Equal(cl.Replicas, addrs) {
			t.Errorf("%s: replicas %v, want every server %v", name, cl.Replicas, addrs)
		}
		if len(c.ZooKeeper) == 0 {
			t.Errorf("%s: no zookeeper nodes", name)
		}
		for _, z := range c.ZooKeeper {
			if !keepers[z] {
				t.Errorf("%s: zookeeper node %s is no Keeper service's port (%v)", name, z, keepers)
			}
		}
		if c.Shard != "01" || c.Replica != name {
			t.Errorf("%s: macros shard %q replica %q, want 01 and the server's name", name, c.Shard, c.Replica)
		}
		if other, dup := replicas[c.Replica]; dup {
			t.Errorf("%s and %s are both replica %q", other, name, c.Replica)
		}
		replicas[c.Replica] = name
		if c.Interserver != name || s.Hostname != name {
			t.Errorf("%s: interserver_http_host %q, hostname %q; want both the service's name", name, c.Interserver, s.Hostname)
		}
		if c.DDLPath != "/clickhouse/task_queue/ddl" {
			t.Errorf("%s: distributed_ddl path %q", name, c.DDLPath)
		}
		// Every variable the XML reads (config.d and users.d) is one the
		// container gets.
		users := readCHConfig(t, st.mountsUnder(name, "/etc/clickhouse-server/users.d"))
		vars := secretVars(s)
		for _, v := range append(c.FromEnv, users.FromEnv...) {
			if _, ok := vars[v]; !ok {
				t.Errorf("%s: the XML reads %s from the environment, which no secret of the service sets", name, v)
			}
		}
		if !slices.Contains(s.Entrypoint, "/usr/local/bin/secrets-env") {
			t.Errorf("%s: entrypoint %v does not run secrets-env", name, s.Entrypoint)
		}
	}
	for _, r := range []string{"kuzet-ncc", "kuzet-api"} {
		for _, name := range st.byRole(r) {
			_, cfg := st.roleConfig(name)
			if got := strs(cfg, "clickhouse", "addr"); !slices.Equal(got, addrs) {
				t.Errorf("%s: clickhouse.addr %v, want %v", name, got, addrs)
			}
			if got := str(cfg, "clickhouse", "cluster"); got != "kuzet" {
				t.Errorf("%s: clickhouse.cluster %q, want kuzet (the remote_servers name)", name, got)
			}
			if got := str(cfg, "clickhouse", "insert"); got != "local" && got != "distributed" {
				t.Errorf("%s: clickhouse.insert %q", name, got)
			}
			if _, ok := secretVars(st.p.Services[name])["KUZET_CLICKHOUSE_PASSWORD"]; !ok {
				t.Errorf("%s gets no KUZET_CLICKHOUSE_PASSWORD secret", name)
			}
			for _, dep := range servers {
				if _, ok := st.p.Services[name].DependsOn[dep]; !ok {
					t.Errorf("%s does not wait for %s", name, dep)
				}
			}
		}
	}
}

// TestComposeSecrets: every secret is a file that init-secrets.sh makes
// (random, kept on a second run) under the git-ignored secrets/; no
// variable with a secret's name is given a literal value.
func TestComposeSecrets(t *testing.T) {
	st := newStack(t)
	dir := t.TempDir()
	for range 2 {
		cmd := exec.Command("sh", filepath.Join(st.dir, "init-secrets.sh"), dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("init-secrets.sh: %v\n%s", err, out)
		}
	}
	made, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]string{}
	for _, e := range made {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).Match(data) {
			t.Errorf("init-secrets.sh made %s = %q, want 64 random hex digits", e.Name(), data)
		}
		first[e.Name()] = string(data)
	}
	var names []string
	for name, sec := range st.p.Secrets {
		names = append(names, name)
		if sec.File != filepath.Join(st.dir, "secrets", name) {
			t.Errorf("secret %s: file %q, want secrets/%s (made by init-secrets.sh)", name, sec.File, name)
		}
		if sec.Environment != "" || sec.Content != "" {
			t.Errorf("secret %s is given inline", name)
		}
	}
	slices.Sort(names)
	var madeNames []string
	for n := range first {
		madeNames = append(madeNames, n)
	}
	slices.Sort(madeNames)
	if !slices.Equal(names, madeNames) {
		t.Errorf("compose.yaml's secrets %v, init-secrets.sh makes %v", names, madeNames)
	}
	// A second directory gets other values.
	other := t.TempDir()
	if out, err := exec.Command("sh", filepath.Join(st.dir, "init-secrets.sh"), other).CombinedOutput(); err != nil {
		t.Fatalf("init-secrets.sh: %v\n%s", err, out)
	}
	for n, v := range first {
		if data, _ := os.ReadFile(filepath.Join(other, n)); string(data) == v {
			t.Errorf("init-secrets.sh made the same %s twice", n)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(st.dir, ".gitignore"))
	if err != nil || !slices.Contains(strings.Split(string(ignore), "\n"), "/secrets/") {
		t.Errorf("deploy/compose/.gitignore does not ignore /secrets/ (%v)", err)
	}
	secretish := regexp.MustCompile(`(?i)(password|secret|token|_key)$`)
	for name, s := range st.p.Services {
		for k, v := range env(s) {
			if secretish.MatchString(k) && v != "" {
				t.Errorf("service %s: %s has a literal value; give it as a secret", name, k)
			}
		}
		if len(secretVars(s)) > 0 && role(s) == "" && !slices.Contains(s.Entrypoint, "/usr/local/bin/secrets-env") {
			t.Errorf("service %s gets secrets as variables but does not run secrets-env", name)
		}
	}
}

// TestComposePrometheus: the compose Prometheus scrapes every role service
// at its ops port with the labels the rules need, probes each /readyz
// through the blackbox service, and promtool accepts the configuration with
// the rules it mounts beside it.
func TestComposePrometheus(t *testing.T) {
	st := newStack(t)
	const cfgTarget = "/etc/prometheus/prometheus.yml"
	cfgPath := st.source("prometheus", cfgTarget)
	rulesPath := st.source("prometheus", "/etc/prometheus/kuzet.rules.yml")
	if want := filepath.Join(deployDir(t), "prometheus", "kuzet.rules.yml"); rulesPath != want {
		t.Errorf("Prometheus mounts rules %s, want %s", rulesPath, want)
	}
	var cfg map[string]any
	readYAML(t, cfgPath, &cfg)
	jobs := map[string][]string{}
	labels := map[string]map[string]any{}
	sc, _ := cfg["scrape_configs"].([]any)
	for _, j := range sc {
		for _, s := range get(j, "static_configs").([]any) {
			for _, tg := range strs(s, "targets") {
				jobs[str(j, "job_name")] = append(jobs[str(j, "job_name")], tg)
				if l, ok := get(s, "labels").(map[string]any); ok {
					labels[tg] = l
				}
			}
		}
	}
	want := map[string]string{"kuzet-collector": "kuzet-collector", "kuzet-ncc": "kuzet-ncc", "kuzet-api": "kuzet-api"}
	for job, r := range want {
		for _, name := range st.byRole(r) {
			_, rc := st.roleConfig(name)
			_, port, _ := net.SplitHostPort(str(rc, "http", "listen"))
			target := name + ":" + port
			if !slices.Contains(jobs[job], target) {
				t.Errorf("job %s does not scrape %s (targets %v)", job, target, jobs[job])
			}
			if !slices.Contains(jobs["kuzet-readyz"], "http://"+target+"/readyz") {
				t.Errorf("job kuzet-readyz does not probe %s", "http://"+target+"/readyz")
			}
			if r == "kuzet-collector" && (labels[target]["oisc"] != str(rc, "oisc") || labels[target]["collector"] != str(rc, "id")) {
				t.Errorf("target %s: labels %v, want oisc %s and collector %s", target, labels[target], str(rc, "oisc"), str(rc, "id"))
			}
		}
	}
	for job, targets := range jobs {
		for _, tg := range targets {
			host := strings.TrimPrefix(tg, "http://")
			host, _, _ = strings.Cut(host, ":")
			if _, ok := st.p.Services[host]; !ok {
				t.Errorf("job %s: target %s is no service", job, tg)
			}
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		skipOrFail(t, "promtool not found (make deps installs it): %v", err)
	}
	// As in the container: the rules beside the configuration.
	dir := t.TempDir()
	for src, dst := range map[string]string{cfgPath: "prometheus.yml", rulesPath: "kuzet.rules.yml"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(promtool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

// TestComposeGrafana: Grafana gets the provisioning of dashboards/, the
// dashboards where the provider looks for them, the ClickHouse plugin, and
// the variables the data sources expand.
func TestComposeGrafana(t *testing.T) {
	st := newStack(t)
	g := st.p.Services["grafana"]
	root := repoRoot(t)
	prov := filepath.Join(root, "dashboards", "provisioning")
	if got := st.source("grafana", "/etc/grafana/provisioning/datasources"); got != filepath.Join(prov, "datasources") {
		t.Errorf("datasources provisioning from %s", got)
	}
	if got := st.source("grafana", "/etc/grafana/provisioning/dashboards"); got != filepath.Join(prov, "dashboards") {
		t.Errorf("dashboards provisioning from %s", got)
	}
	var provider map[string]any
	readYAML(t, filepath.Join(prov, "dashboards", "kuzet.yaml"), &provider)
	providers, _ := provider["providers"].([]any)
	if len(providers) == 0 {
		t.Fatal("no dashboard provider")
	}
	dashDir := st.source("grafana", str(providers[0], "options", "path"))
	if js, _ := filepath.Glob(filepath.Join(dashDir, "*.json")); len(js) < 4 {
		t.Errorf("the provider's path %s holds %d dashboards, want those of dashboards/", str(providers[0], "options", "path"), len(js))
	}
	e := env(g)
	if !strings.Contains(e["GF_PLUGINS_PREINSTALL_SYNC"]+e["GF_INSTALL_PLUGINS"], "grafana-clickhouse-datasource") {
		t.Error("Grafana does not install grafana-clickhouse-datasource")
	}
	if _, ok := st.p.Services[e["KUZET_CLICKHOUSE_HOST"]]; !ok {
		t.Errorf("KUZET_CLICKHOUSE_HOST %q is no service", e["KUZET_CLICKHOUSE_HOST"])
	}
	if !strings.HasPrefix(e["KUZET_PROMETHEUS_URL"], "http://prometheus:") {
		t.Errorf("KUZET_PROMETHEUS_URL %q", e["KUZET_PROMETHEUS_URL"])
	}
	src := secretVars(g)["KUZET_GRAFANA_CLICKHOUSE_PASSWORD"]
	if src == "" {
		t.Fatal("Grafana gets no KUZET_GRAFANA_CLICKHOUSE_PASSWORD secret")
	}
	// ClickHouse checks the grafana user's password against the same secret.
	for _, ch := range st.byImage("clickhouse/clickhouse-server:") {
		if secretVars(st.p.Services[ch])["KUZET_GRAFANA_CLICKHOUSE_PASSWORD"] != src {
			t.Errorf("%s does not get secret %s as KUZET_GRAFANA_CLICKHOUSE_PASSWORD", ch, src)
		}
	}
	if f := e["GF_SECURITY_ADMIN_PASSWORD__FILE"]; f != "/run/secrets/"+secretTarget(g, "grafana_admin_password") {
		t.Errorf("GF_SECURITY_ADMIN_PASSWORD__FILE %q is not the grafana_admin_password secret", f)
	}
}

// TestComposeRoleConfigs runs each kuzet role service's configuration
// through the role's own -check-config, with the service's KUZET_*
// variables (secrets stand in as placeholders).
func TestComposeRoleConfigs(t *testing.T) {
	st := newStack(t)
	for name, s := range st.p.Services {
		r := role(s)
		if r == "" || r == "kuzet nats" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path, _ := st.roleConfig(name)
			e := map[string]string{}
			for k, v := range env(s) {
				if strings.HasPrefix(k, "KUZET_") {
					e[k] = v
				}
			}
			for v := range secretVars(s) {
				e[v] = "placeholder-not-a-secret"
			}
			checkRoleConfig(t, r, path, e)
		})
	}
}

// TestSecretsEnv runs deploy/docker/secrets-env.sh: files named like
// variables become them, without their trailing newline; others do not.
func TestSecretsEnv(t *testing.T) {
	script := filepath.Join(deployDir(t), "docker", "secrets-env.sh")
	dir := t.TempDir()
	for name, v := range map[string]string{"KUZET_CLICKHOUSE_PASSWORD": "s3cr et\n", "leaf_site": "x", "9BAD": "y"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", script, "sh", "-c", `printf '%s|%s|%s' "$KUZET_CLICKHOUSE_PASSWORD" "${leaf_site-unset}" "$(env | grep -c '^9BAD=')"`)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SECRETS_DIR=" + dir}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("secrets-env: %v\n%s", err, out)
	}
	if got, want := string(out), "s3cr et|unset|0"; got != want {
		t.Errorf("secrets-env gave %q, want %q", got, want)
	}
	cmd = exec.Command("sh", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SECRETS_DIR=" + dir}
	if err := cmd.Run(); err == nil {
		t.Error("secrets-env without a command succeeded")
	}
	if fi, err := os.Stat(script); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable (the image and compose run it directly): %v", script, err)
	}
}
