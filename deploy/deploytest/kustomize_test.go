package deploytest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var overlays = []string{"single-node", "national"}

// kinds maps apiVersion/kind to the Kubernetes API type a rendered object
// must decode into; any other kind fails the test.
var kinds = map[string]func() any{
	"v1/Namespace":                       func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount":                  func() any { return &corev1.ServiceAccount{} },
	"v1/Service":                         func() any { return &corev1.Service{} },
	"v1/ConfigMap":                       func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                          func() any { return &corev1.Secret{} },
	"v1/PersistentVolumeClaim":           func() any { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                 func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                func() any { return &appsv1.StatefulSet{} },
	"policy/v1/PodDisruptionBudget":      func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy": func() any { return &networkingv1.NetworkPolicy{} },
	"networking.k8s.io/v1/Ingress":       func() any { return &networkingv1.Ingress{} },
}

// decodeStrict decodes one manifest into the API type its apiVersion and
// kind name: an unknown kind, an unknown field or a field given twice is an
// error.
func decodeStrict(manifest []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(manifest, &tm); err != nil {
		return nil, err
	}
	key := tm.APIVersion + "/" + tm.Kind
	mk, ok := kinds[key]
	if !ok {
		return nil, fmt.Errorf("kind %s is not one the deployment uses", key)
	}
	obj := mk()
	if err := yaml.UnmarshalStrict(manifest, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return obj, nil
}

// rendered is an overlay built by kustomize, decoded.
type rendered struct {
	t            *testing.T
	overlay      string
	namespaces   []*corev1.Namespace
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
	pvcs         []*corev1.PersistentVolumeClaim
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	pdbs         []*policyv1.PodDisruptionBudget
	policies     []*networkingv1.NetworkPolicy
}

// build runs kustomize on an overlay, through its Go API (what kubectl
// apply -k and kustomize build run), with the default options: load
// restrictions to the kustomization's root, no plugins.
func build(t *testing.T, overlay string) *rendered {
	t.Helper()
	dir := filepath.Join(deployDir(t), "kubernetes", "overlays", overlay)
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlay, err)
	}
	r := &rendered{t: t, overlay: overlay}
	var namespaces []string
	for _, res := range rm.Resources() {
		if res.GetKind() == "Namespace" {
			namespaces = append(namespaces, res.GetName())
		}
	}
	if len(namespaces) != 1 {
		t.Fatalf("kustomize build %s: namespaces %v, want one", overlay, namespaces)
	}
	for _, res := range rm.Resources() {
		if res.GetKind() != "Namespace" && res.GetNamespace() != namespaces[0] {
			t.Errorf("%s: %s %s is in namespace %q, not %s", overlay, res.GetKind(), res.GetName(), res.GetNamespace(), namespaces[0])
		}
		y, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(y)
		if err != nil {
			t.Errorf("%s: %s %s: %v", overlay, res.GetKind(), res.GetName(), err)
			continue
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			r.namespaces = append(r.namespaces, o)
		case *corev1.Service:
			r.services = append(r.services, o)
		case *corev1.ConfigMap:
			r.configMaps = append(r.configMaps, o)
		case *corev1.Secret:
			r.secrets = append(r.secrets, o)
		case *corev1.PersistentVolumeClaim:
			r.pvcs = append(r.pvcs, o)
		case *appsv1.Deployment:
			r.deployments = append(r.deployments, o)
		case *appsv1.StatefulSet:
			r.statefulSets = append(r.statefulSets, o)
		case *policyv1.PodDisruptionBudget:
			r.pdbs = append(r.pdbs, o)
		case *networkingv1.NetworkPolicy:
			r.policies = append(r.policies, o)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return r
}

// workload is a Deployment or a StatefulSet.
type workload struct {
	kind, name string
	replicas   int32
	labels     map[string]string // the pod template's
	pod        *corev1.PodSpec
	selector   *metav1.LabelSelector
}

func (r *rendered) workloads() []workload {
	var out []workload
	rep := func(p *int32) int32 {
		if p == nil {
			return 1
		}
		return *p
	}
	for _, d := range r.deployments {
		out = append(out, workload{"Deployment", d.Name, rep(d.Spec.Replicas), d.Spec.Template.Labels, &d.Spec.Template.Spec, d.Spec.Selector})
	}
	for _, s := range r.statefulSets {
		out = append(out, workload{"StatefulSet", s.Name, rep(s.Spec.Replicas), s.Spec.Template.Labels, &s.Spec.Template.Spec, s.Spec.Selector})
	}
	return out
}

func (r *rendered) workload(name string) workload {
	r.t.Helper()
	for _, w := range r.workloads() {
		if w.name == name {
			return w
		}
	}
	r.t.Fatalf("%s: no workload %s", r.overlay, name)
	return workload{}
}

func (r *rendered) statefulSet(name string) *appsv1.StatefulSet {
	r.t.Helper()
	for _, s := range r.statefulSets {
		if s.Name == name {
			return s
		}
	}
	r.t.Fatalf("%s: no StatefulSet %s", r.overlay, name)
	return nil
}

func (r *rendered) service(name string) *corev1.Service {
	for _, s := range r.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (r *rendered) configMap(name string) *corev1.ConfigMap {
	r.t.Helper()
	for _, c := range r.configMaps {
		if c.Name == name {
			return c
		}
	}
	r.t.Fatalf("%s: no ConfigMap %s", r.overlay, name)
	return nil
}

// volumeConfigMap is the ConfigMap that a pod's volume name refers to.
func (r *rendered) volumeConfigMap(pod *corev1.PodSpec, volume string) *corev1.ConfigMap {
	r.t.Helper()
	for _, v := range pod.Volumes {
		if v.Name == volume && v.ConfigMap != nil {
			return r.configMap(v.ConfigMap.Name)
		}
	}
	r.t.Fatalf("%s: no ConfigMap volume %s", r.overlay, volume)
	return nil
}

// mountedFile is the contents of the file at path in container c of pod,
// when a ConfigMap volume provides it.
func (r *rendered) mountedFile(pod *corev1.PodSpec, c corev1.Container, path string) (string, bool) {
	for _, m := range c.VolumeMounts {
		var key string
		switch {
		case m.SubPath != "" && m.MountPath == path:
			key = m.SubPath
		case m.SubPath == "" && filepath.Dir(path) == m.MountPath:
			key = filepath.Base(path)
		default:
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				data, ok := r.configMap(v.ConfigMap.Name).Data[key]
				return data, ok
			}
		}
	}
	return "", false
}

// roleOf is the kuzet binary a container runs ("kuzet nats" for the hub),
// or "".
func roleOf(c corev1.Container) string {
	cmd := append(slices.Clone(c.Command), c.Args...)
	switch {
	case len(cmd) >= 2 && cmd[0] == "kuzet" && cmd[1] == "nats":
		return "kuzet nats"
	case len(cmd) >= 1 && slices.Contains([]string{"kuzet-ncc", "kuzet-api", "kuzet-collector"}, cmd[0]):
		return cmd[0]
	}
	return ""
}

// roleConfig is the role configuration file a kuzet container is started
// with, decoded, and its text.
func (r *rendered) roleConfig(pod *corev1.PodSpec, c corev1.Container) (map[string]any, string) {
	r.t.Helper()
	path := flags(append(slices.Clone(c.Command), c.Args...))["-config"]
	text, ok := r.mountedFile(pod, c, path)
	if !ok {
		r.t.Fatalf("%s: container %s: -config %q is no file of a ConfigMap volume", r.overlay, c.Name, path)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		r.t.Fatalf("%s: %s: %v", r.overlay, path, err)
	}
	return cfg, text
}

func TestStrictDecoderRejects(t *testing.T) {
	const good = `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
          livenessProbe:
            httpGet: {path: /healthz, port: 9102}
`
	if _, err := decodeStrict([]byte(good)); err != nil {
		t.Fatalf("a valid Deployment: %v", err)
	}
	for name, bad := range map[string]string{
		"unknown field":   strings.Replace(good, "httpGet:", "httpGett:", 1),
		"misplaced field": strings.Replace(good, "      containers:", "      replicas: 2\n      containers:", 1),
		"duplicate field": strings.Replace(good, "          image: i\n", "          image: i\n          image: j\n", 1),
		"unknown kind":    strings.Replace(good, "kind: Deployment", "kind: Deploymentt", 1),
		"wrong group":     strings.Replace(good, "apiVersion: apps/v1", "apiVersion: extensions/v1beta1", 1),
		"unused kind":     "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: x}\n",
		"bad quantity":    strings.Replace(good, "          image: i\n", "          image: i\n          resources: {limits: {memory: lots}}\n", 1),
	} {
		if _, err := decodeStrict([]byte(bad)); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

// TestKustomizeOverlays renders each overlay and checks every workload:
// probes, resources, security context, secrets by reference only,
// ConfigMaps from generators, PDBs, headless Services, and the role
// configurations through the roles' -check-config.
func TestKustomizeOverlays(t *testing.T) {
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			r := build(t, overlay)
			r.checkWorkloads()
			r.checkSecrets()
			r.checkGenerated()
			r.checkPDBs()
			r.checkHeadless()
		})
	}
}

// minMemory is the least memory limit of each role: the bounds README.md
// states under "Memory" (collector: 2 x 64 x 1 MiB of batches + 280 MiB at
// max_conns; ncc: twice the 230 MiB live heap; api: 340 MB).
var minMemory = map[string]string{"kuzet-collector": "408Mi", "kuzet-ncc": "460Mi", "kuzet-api": "340M"}

func (r *rendered) checkWorkloads() {
	t := r.t
	names := map[string]bool{}
	for _, w := range r.workloads() {
		names[w.name] = true
		where := r.overlay + ": " + w.kind + " " + w.name
		ps := w.pod
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken not false", where)
		}
		if ps.SecurityContext == nil || ps.SecurityContext.SeccompProfile == nil || ps.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: no RuntimeDefault seccomp profile", where)
		}
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || !sel.Matches(labels.Set(w.labels)) {
			t.Errorf("%s: the selector does not match the pod template (%v)", where, err)
		}
		for _, c := range append(slices.Clone(ps.InitContainers), ps.Containers...) {
			where := where + " container " + c.Name
			sc := c.SecurityContext
			nonRoot := sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot ||
				ps.SecurityContext != nil && ps.SecurityContext.RunAsNonRoot != nil && *ps.SecurityContext.RunAsNonRoot
			if !nonRoot {
				t.Errorf("%s: runAsNonRoot not set", where)
			}
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem not true", where)
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation not false", where)
			}
			if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: capabilities: want drop ALL and nothing added", where)
			}
			if sc != nil && sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", where)
			}
			res := c.Resources
			for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := res.Requests[n]; !ok || q.IsZero() {
					t.Errorf("%s: no %s request", where, n)
				}
				if q, ok := res.Limits[n]; !ok || q.IsZero() {
					t.Errorf("%s: no %s limit", where, n)
				}
				if req, lim := res.Requests[n], res.Limits[n]; req.Cmp(lim) > 0 {
					t.Errorf("%s: %s request above its limit", where, n)
				}
			}
			if c.LivenessProbe == nil || c.ReadinessProbe == nil {
				t.Errorf("%s: want a liveness and a readiness probe", where)
				continue
			}
			role := roleOf(c)
			if role == "" || role == "kuzet nats" {
				continue
			}
			cfg, _ := r.roleConfig(ps, c)
			host, port, err := net.SplitHostPort(str(cfg, "http", "listen"))
			if err != nil || host != "0.0.0.0" {
				t.Errorf("%s: http.listen %q, want 0.0.0.0:<port> (the kubelet probes it)", where, str(cfg, "http", "listen"))
				continue
			}
			for probe, want := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
				if probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != port {
					t.Errorf("%s: a probe is %+v, want GET %s on the ops port %s", where, probe.ProbeHandler, want, port)
				}
			}
			if min := resource.MustParse(minMemory[role]); c.Resources.Limits.Memory().Cmp(min) < 0 {
				t.Errorf("%s: memory limit %s under the role's bound %s (README.md, Memory)", where, c.Resources.Limits.Memory(), min.String())
			}
			for _, e := range c.Env {
				if e.Name == "GOMEMLIMIT" {
					lim := strings.NewReplacer("MiB", "Mi", "GiB", "Gi").Replace(e.Value)
					if q, err := resource.ParseQuantity(lim); err != nil || q.Cmp(*c.Resources.Limits.Memory()) >= 0 {
						t.Errorf("%s: GOMEMLIMIT %s is not below the memory limit %s (%v)", where, e.Value, c.Resources.Limits.Memory(), err)
					}
				}
			}
		}
	}
	for _, want := range []string{"kuzet-nats", "kuzet-clickhouse", "kuzet-ncc", "kuzet-api", "kuzet-collector"} {
		if !names[want] {
			t.Errorf("%s: no workload %s", r.overlay, want)
		}
	}
}

var secretish = regexp.MustCompile(`(?i)(password|secret|token|_key)$`)

// checkSecrets: no Secret object is rendered (they are made apart), every
// variable with a secret's name comes from a secretKeyRef, and no file of
// a ConfigMap holds a password.
func (r *rendered) checkSecrets() {
	t := r.t
	for _, s := range r.secrets {
		t.Errorf("%s: Secret %s is rendered from the tree; secrets are made apart and only referred to", r.overlay, s.Name)
	}
	for _, w := range r.workloads() {
		for _, c := range append(slices.Clone(w.pod.InitContainers), w.pod.Containers...) {
			for _, e := range c.Env {
				if secretish.MatchString(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("%s: %s container %s: %s is not a secretKeyRef", r.overlay, w.name, c.Name, e.Name)
				}
			}
			if len(c.EnvFrom) > 0 {
				t.Errorf("%s: %s container %s: envFrom; name each variable", r.overlay, w.name, c.Name)
			}
		}
	}
	yamlSecret := regexp.MustCompile(`(?im)^\s*-?\s*[a-z_]*(password|secret)\s*:\s*("[^"]+"|'[^']+'|[^\s#"']+)`)
	xmlSecret := regexp.MustCompile(`<(password|password_sha256_hex|password_double_sha1_hex|secret)>[^<]+<`)
	for _, cm := range r.configMaps {
		for key, data := range cm.Data {
			if m := yamlSecret.FindString(data); m != "" {
				t.Errorf("%s: ConfigMap %s %s holds a secret: %q", r.overlay, cm.Name, key, strings.TrimSpace(m))
			}
			if m := xmlSecret.FindString(data); m != "" {
				t.Errorf("%s: ConfigMap %s %s holds a secret: %q", r.overlay, cm.Name, key, m)
			}
		}
	}
}

// checkGenerated: every ConfigMap comes from a configMapGenerator (its name
// carries the hash of its contents, so a changed file rolls the pods).
func (r *rendered) checkGenerated() {
	hashed := regexp.MustCompile(`^[a-z0-9-]+-[a-z0-9]{10}$`)
	for _, cm := range r.configMaps {
		if !hashed.MatchString(cm.Name) {
			r.t.Errorf("%s: ConfigMap %s has no content hash: write it with a configMapGenerator", r.overlay, cm.Name)
		}
	}
}

// checkPDBs: a PodDisruptionBudget covers each workload with more than one
// replica, and each budget covers a workload.
func (r *rendered) checkPDBs() {
	covered := map[string]bool{}
	for _, p := range r.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil {
			r.t.Errorf("%s: PDB %s: %v", r.overlay, p.Name, err)
			continue
		}
		if (p.Spec.MaxUnavailable == nil) == (p.Spec.MinAvailable == nil) {
			r.t.Errorf("%s: PDB %s: want maxUnavailable or minAvailable", r.overlay, p.Name)
		}
		any := false
		for _, w := range r.workloads() {
			if sel.Matches(labels.Set(w.labels)) {
				covered[w.name], any = true, true
			}
		}
		if !any {
			r.t.Errorf("%s: PDB %s selects no workload", r.overlay, p.Name)
		}
	}
	for _, w := range r.workloads() {
		if w.replicas > 1 && !covered[w.name] {
			r.t.Errorf("%s: %s %s has %d replicas and no PodDisruptionBudget", r.overlay, w.kind, w.name, w.replicas)
		}
	}
}

// checkHeadless: each StatefulSet's serviceName is a headless Service of
// its pods that publishes them before they are ready (peers find each
// other while starting).
func (r *rendered) checkHeadless() {
	for _, s := range r.statefulSets {
		svc := r.service(s.Spec.ServiceName)
		if svc == nil {
			r.t.Errorf("%s: StatefulSet %s: no Service %q", r.overlay, s.Name, s.Spec.ServiceName)
			continue
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
			r.t.Errorf("%s: Service %s: want clusterIP None and publishNotReadyAddresses", r.overlay, svc.Name)
		}
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(s.Spec.Template.Labels)) {
			r.t.Errorf("%s: Service %s does not select StatefulSet %s's pods", r.overlay, svc.Name, s.Name)
		}
	}
}

// podNames are the stable names of a StatefulSet's pods in its headless
// Service, as their peers reach them.
func podNames(s *appsv1.StatefulSet) []string {
	var out []string
	for i := range *s.Spec.Replicas {
		out = append(out, fmt.Sprintf("%s-%d.%s", s.Name, i, s.Spec.ServiceName))
	}
	return out
}

func container(t *testing.T, pod *corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range pod.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// TestKustomizeNational checks the national overlay's shape: three NATS
// members routed through the headless Service, two ClickHouse replicas of
// the cluster the roles name, on three Keeper nodes, two ncc and at least
// two api pods.
func TestKustomizeNational(t *testing.T) {
	r := build(t, "national")
	for name, want := range map[string]int32{"kuzet-nats": 3, "kuzet-clickhouse": 2, "kuzet-keeper": 3, "kuzet-ncc": 2, "kuzet-collector": 1} {
		if got := r.workload(name).replicas; got != want {
			t.Errorf("%s: %d replicas, want %d", name, got, want)
		}
	}
	if got := r.workload("kuzet-api").replicas; got < 2 {
		t.Errorf("kuzet-api: %d replicas, want at least 2", got)
	}

	nats := r.statefulSet("kuzet-nats")
	nc := container(t, &nats.Spec.Template.Spec, "nats")
	f := flags(nc.Args)
	if f["-cluster"] == "" || f["-domain"] != "ncc" || f["-leaf-port"] == "" || f["-leaf-users"] == "" || f["-max-store"] == "" {
		t.Errorf("nats args %v: want -cluster, -domain ncc, -leaf-port, -leaf-users, -max-store", nc.Args)
	}
	var routes []string
	for _, p := range podNames(nats) {
		routes = append(routes, "nats-route://"+p+":"+f["-cluster-port"])
	}
	if got := strings.Split(f["-routes"], ","); !slices.Equal(got, routes) {
		t.Errorf("nats -routes %v, want every member %v", got, routes)
	}
	if e := envVar(nc, "POD_NAME"); f["-name"] != "$(POD_NAME)" || e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("nats -name %q: want $(POD_NAME), the pod's name from the downward API", f["-name"])
	}
	if _, ok := r.mountedFile(&nats.Spec.Template.Spec, nc, f["-leaf-users"]); !ok {
		t.Errorf("-leaf-users %s is no ConfigMap file", f["-leaf-users"])
	}

	ch := r.statefulSet("kuzet-clickhouse")
	cc := container(t, &ch.Spec.Template.Spec, "clickhouse")
	var addrs []string
	for _, p := range podNames(ch) {
		addrs = append(addrs, p+":9000")
	}
	keeper := r.statefulSet("kuzet-keeper")
	kc := container(t, &keeper.Spec.Template.Spec, "keeper")
	kcfgText, ok := r.mountedFile(&keeper.Spec.Template.Spec, kc, "/etc/clickhouse-keeper/keeper_config.xml")
	if !ok {
		t.Fatal("no keeper_config.xml mounted")
	}
	kcfg := parseXML(t, kcfgText)
	var keepers []string
	for _, p := range podNames(keeper) {
		keepers = append(keepers, p+":"+kcfg.text("keeper_server", "tcp_port"))
	}
	var raft []string
	if rc := kcfg.child("keeper_server").child("raft_configuration"); rc != nil {
		for _, s := range rc.Nodes {
			raft = append(raft, s.text("id")+"="+s.text("hostname"))
		}
	}
	var wantRaft []string
	for i, p := range podNames(keeper) {
		wantRaft = append(wantRaft, fmt.Sprintf("%d=%s", i+1, p))
	}
	if !slices.Equal(raft, wantRaft) {
		t.Errorf("keeper raft_configuration %v, want ordinal+1=pod %v", raft, wantRaft)
	}

	var files []string
	cm := r.volumeConfigMap(&ch.Spec.Template.Spec, "config-d")
	dir := t.TempDir()
	for key, data := range cm.Data {
		p := filepath.Join(dir, key)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	slices.Sort(files)
	c := readCHConfig(t, files)
	cl := c.Clusters["kuzet"]
	if cl.InternalReplication != "true" || !slices.Equal(cl.Replicas, addrs) || !cl.Secret {
		t.Errorf("remote_servers kuzet %+v, want internal_replication, the replicas %v and the cluster secret", cl, addrs)
	}
	if !slices.Equal(c.ZooKeeper, keepers) {
		t.Errorf("zookeeper nodes %v, want the Keeper pods %v", c.ZooKeeper, keepers)
	}
	if c.Shard != "01" || c.DDLPath != "/clickhouse/task_queue/ddl" {
		t.Errorf("macros shard %q, distributed_ddl %q", c.Shard, c.DDLPath)
	}
	macros := parseXML(t, cm.Data["kuzet-macros.xml"])
	replicaVar := ""
	for _, a := range macros.child("macros").child("replica").Attrs {
		if a.Name.Local == "from_env" {
			replicaVar = a.Value
		}
	}
	if e := envVar(cc, replicaVar); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("the replica macro reads %q, want a variable holding the pod's name", replicaVar)
	}
	users := readCHConfig(t, r.writeConfigMap(t, r.volumeConfigMap(&ch.Spec.Template.Spec, "users-d")))
	for _, v := range append(c.FromEnv, users.FromEnv...) {
		if envVar(cc, v) == nil {
			t.Errorf("the ClickHouse XML reads %s, which the container does not set", v)
		}
	}
	for _, w := range r.workloads() {
		for _, c := range w.pod.Containers {
			if role := roleOf(c); role == "kuzet-ncc" || role == "kuzet-api" || role == "kuzet-collector" {
				cfg, _ := r.roleConfig(w.pod, c)
				if n, _ := get(cfg, "nats", "replicas").(float64); n != float64(*nats.Spec.Replicas) {
					t.Errorf("%s: nats.replicas %v, want %d", w.name, get(cfg, "nats", "replicas"), *nats.Spec.Replicas)
				}
				if role == "kuzet-collector" {
					continue
				}
				if got := strs(cfg, "clickhouse", "addr"); !slices.Equal(got, addrs) {
					t.Errorf("%s: clickhouse.addr %v, want the replicas %v", w.name, got, addrs)
				}
				if str(cfg, "clickhouse", "cluster") != "kuzet" || !slices.Contains([]string{"local", "distributed"}, str(cfg, "clickhouse", "insert")) {
					t.Errorf("%s: clickhouse.cluster %q insert %q", w.name, str(cfg, "clickhouse", "cluster"), str(cfg, "clickhouse", "insert"))
				}
			}
		}
	}
}

// TestKustomizeSingleNode: one of each, ClickHouse without a cluster.
func TestKustomizeSingleNode(t *testing.T) {
	r := build(t, "single-node")
	for _, w := range r.workloads() {
		if w.replicas != 1 {
			t.Errorf("%s: %d replicas", w.name, w.replicas)
		}
		for _, c := range w.pod.Containers {
			if role := roleOf(c); role == "kuzet-ncc" || role == "kuzet-api" {
				cfg, _ := r.roleConfig(w.pod, c)
				if str(cfg, "clickhouse", "cluster") != "" {
					t.Errorf("%s: clickhouse.cluster set on one server", w.name)
				}
			}
		}
	}
	ch := r.statefulSet("kuzet-clickhouse")
	c := readCHConfig(t, r.writeConfigMap(t, r.volumeConfigMap(&ch.Spec.Template.Spec, "config-d")))
	if len(c.Clusters) > 0 || len(c.ZooKeeper) > 0 {
		t.Errorf("one ClickHouse server with clusters %v, zookeeper %v", c.Clusters, c.ZooKeeper)
	}
}

func (r *rendered) writeConfigMap(t *testing.T, cm *corev1.ConfigMap) []string {
	dir := t.TempDir()
	var files []string
	for key, data := range cm.Data {
		p := filepath.Join(dir, key)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	slices.Sort(files)
	return files
}

func parseXML(t *testing.T, text string) xmlNode {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.xml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return readXML(t, p)
}

// TestKustomizeRoleConfigs runs every role configuration of both overlays
// through the role's -check-config, with the container's KUZET_* variables
// (a pod's name and secrets stand in as placeholders).
func TestKustomizeRoleConfigs(t *testing.T) {
	for _, overlay := range overlays {
		r := build(t, overlay)
		for _, w := range r.workloads() {
			for _, c := range w.pod.Containers {
				role := roleOf(c)
				if role == "" || role == "kuzet nats" {
					continue
				}
				t.Run(overlay+"/"+w.name, func(t *testing.T) {
					_, text := r.roleConfig(w.pod, c)
					path := filepath.Join(t.TempDir(), filepath.Base(flags(c.Args)["-config"]))
					if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
					env := map[string]string{}
					for _, e := range c.Env {
						switch {
						case !strings.HasPrefix(e.Name, "KUZET_"):
						case e.ValueFrom == nil:
							env[e.Name] = e.Value
						case e.ValueFrom.FieldRef != nil:
							env[e.Name] = w.name + "-7d4b9c-x2x5q" // a pod's name
						default:
							env[e.Name] = "placeholder-not-a-secret"
						}
					}
					checkRoleConfig(t, role, path, env)
				})
			}
		}
	}
}
