package deploytest

import (
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// endpoint is one end of a connection: a pod (namespace and labels) or,
// with pod nil, an address outside the cluster.
type endpoint struct {
	name     string
	ns       string
	nsLabels map[string]string
	pod      map[string]string
	ip       string
}

func (e endpoint) String() string { return e.name }

// netpol evaluates NetworkPolicies as the API defines them: a connection
// flows when the destination's policies admit it (or none selects the
// destination for Ingress) and the source's policies let it out (or none
// selects the source for Egress). Policies are those of one namespace.
type netpol struct {
	t   *testing.T
	ns  string
	pol []*networkingv1.NetworkPolicy
}

func (n netpol) selector(s *metav1.LabelSelector) labels.Selector {
	n.t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		n.t.Fatal(err)
	}
	return sel
}

func hasType(p *networkingv1.NetworkPolicy, ty networkingv1.PolicyType) bool {
	for _, t := range p.Spec.PolicyTypes {
		if t == ty {
			return true
		}
	}
	return false
}

func (n netpol) peer(p networkingv1.NetworkPolicyPeer, e endpoint) bool {
	switch {
	case p.IPBlock != nil:
		if e.pod != nil {
			return false // pods are matched by selectors here, not by their addresses
		}
		_, cidr, err := net.ParseCIDR(p.IPBlock.CIDR)
		if err != nil {
			n.t.Fatalf("ipBlock %s: %v", p.IPBlock.CIDR, err)
		}
		if !cidr.Contains(net.ParseIP(e.ip)) {
			return false
		}
		for _, ex := range p.IPBlock.Except {
			if _, c, err := net.ParseCIDR(ex); err == nil && c.Contains(net.ParseIP(e.ip)) {
				return false
			}
		}
		return true
	case e.pod == nil:
		return false
	case p.NamespaceSelector != nil:
		return n.selector(p.NamespaceSelector).Matches(labels.Set(e.nsLabels)) &&
			(p.PodSelector == nil || n.selector(p.PodSelector).Matches(labels.Set(e.pod)))
	case p.PodSelector != nil:
		return e.ns == n.ns && n.selector(p.PodSelector).Matches(labels.Set(e.pod))
	}
	return false
}

func (n netpol) ports(ps []networkingv1.NetworkPolicyPort, port int32, proto corev1.Protocol) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		pr := corev1.ProtocolTCP
		if p.Protocol != nil {
			pr = *p.Protocol
		}
		if pr != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type != 0 {
			n.t.Fatalf("named port %q: the policies use numbers", p.Port.StrVal)
		}
		end := p.Port.IntVal
		if p.EndPort != nil {
			end = *p.EndPort
		}
		if port >= p.Port.IntVal && port <= end {
			return true
		}
	}
	return false
}

// side reports whether the policies selecting e for ty let the connection
// with other on port through.
func (n netpol) side(e, other endpoint, ty networkingv1.PolicyType, port int32, proto corev1.Protocol) bool {
	if e.pod == nil || e.ns != n.ns {
		return true // outside these policies' reach
	}
	selected := false
	for _, p := range n.pol {
		if !hasType(p, ty) || !n.selector(&p.Spec.PodSelector).Matches(labels.Set(e.pod)) {
			continue
		}
		selected = true
		if ty == networkingv1.PolicyTypeIngress {
			for _, r := range p.Spec.Ingress {
				if n.ports(r.Ports, port, proto) && (len(r.From) == 0 || n.anyPeer(r.From, other)) {
					return true
				}
			}
		} else {
			for _, r := range p.Spec.Egress {
				if n.ports(r.Ports, port, proto) && (len(r.To) == 0 || n.anyPeer(r.To, other)) {
					return true
				}
			}
		}
	}
	return !selected
}

func (n netpol) anyPeer(ps []networkingv1.NetworkPolicyPeer, e endpoint) bool {
	for _, p := range ps {
		if n.peer(p, e) {
			return true
		}
	}
	return false
}

func (n netpol) allows(src, dst endpoint, port int32, proto corev1.Protocol) bool {
	return n.side(dst, src, networkingv1.PolicyTypeIngress, port, proto) &&
		n.side(src, dst, networkingv1.PolicyTypeEgress, port, proto)
}

type flow struct {
	from, to string
	port     int32
	proto    corev1.Protocol
	allowed  bool
}

// TestNetworkPolicies renders each overlay and checks that its policies
// deny by default and let exactly the pipeline's flows through: the
// roles to NATS and (ncc, api) to ClickHouse, the members of NATS, of
// ClickHouse and of Keeper among themselves, ClickHouse to Keeper, the
// OISC sites to the leaf port, clients to the API, sources to the
// collector, Prometheus to the ops ports, everything to the cluster DNS;
// and nothing else asked here.
func TestNetworkPolicies(t *testing.T) {
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			r := build(t, overlay)
			if len(r.namespaces) != 1 {
				t.Fatalf("%d namespaces rendered", len(r.namespaces))
			}
			ns := r.namespaces[0]
			nsLabels := map[string]string{"kubernetes.io/metadata.name": ns.Name}
			for k, v := range ns.Labels {
				nsLabels[k] = v
			}
			n := netpol{t: t, ns: ns.Name, pol: r.policies}
			deny := false
			for _, p := range r.policies {
				if p.Namespace != ns.Name {
					t.Errorf("NetworkPolicy %s in namespace %q", p.Name, p.Namespace)
				}
				if len(p.Spec.PodSelector.MatchLabels)+len(p.Spec.PodSelector.MatchExpressions) == 0 &&
					hasType(p, networkingv1.PolicyTypeIngress) && hasType(p, networkingv1.PolicyTypeEgress) &&
					len(p.Spec.Ingress)+len(p.Spec.Egress) == 0 {
					deny = true
				}
			}
			if !deny {
				t.Error("no default-deny policy (every pod, Ingress and Egress, no rule)")
			}
			eps := map[string]endpoint{
				"external":   {name: "external", ip: "203.0.113.7"},
				"monitoring": {name: "monitoring", ns: "monitoring", nsLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring", "kuzet.kz/monitoring": "true"}, pod: map[string]string{"app": "prometheus"}},
				"other-ns":   {name: "other-ns", ns: "default", nsLabels: map[string]string{"kubernetes.io/metadata.name": "default"}, pod: map[string]string{"app": "x"}},
				"dns":        {name: "dns", ns: "kube-system", nsLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}, pod: map[string]string{"k8s-app": "kube-dns"}},
			}
			for _, w := range r.workloads() {
				eps[w.name] = endpoint{name: w.name, ns: ns.Name, nsLabels: nsLabels, pod: w.labels}
			}
			tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
			flows := []flow{
				{"kuzet-ncc", "kuzet-nats", 4222, tcp, true},
				{"kuzet-api", "kuzet-nats", 4222, tcp, true},
				{"kuzet-collector", "kuzet-nats", 4222, tcp, true},
				{"kuzet-nats", "kuzet-nats", 6222, tcp, true},
				{"kuzet-ncc", "kuzet-clickhouse", 9000, tcp, true},
				{"kuzet-api", "kuzet-clickhouse", 9000, tcp, true},
				{"kuzet-clickhouse", "kuzet-clickhouse", 9000, tcp, true},
				{"kuzet-clickhouse", "kuzet-clickhouse", 9009, tcp, true},
				{"external", "kuzet-nats", 7422, tcp, true},
				{"external", "kuzet-api", 8080, tcp, true},
				{"external", "kuzet-collector", 5514, udp, true},
				{"external", "kuzet-collector", 5601, tcp, true},
				{"monitoring", "kuzet-ncc", 9102, tcp, true},
				{"monitoring", "kuzet-api", 9103, tcp, true},
				{"monitoring", "kuzet-collector", 9101, tcp, true},
				{"monitoring", "kuzet-nats", 8222, tcp, true},
				{"kuzet-ncc", "external", 443, tcp, true}, // webhooks
				{"kuzet-ncc", "external", 587, tcp, true}, // SMTP submission
				{"kuzet-api", "external", 443, tcp, true}, // the OIDC issuer
				{"kuzet-collector", "kuzet-clickhouse", 9000, tcp, false},
				{"kuzet-collector", "kuzet-nats", 6222, tcp, false},
				{"kuzet-collector", "external", 443, tcp, false},
				{"kuzet-nats", "external", 443, tcp, false},
				{"kuzet-clickhouse", "external", 443, tcp, false},
				{"external", "kuzet-clickhouse", 9000, tcp, false},
				{"external", "kuzet-nats", 4222, tcp, false},
				{"external", "kuzet-ncc", 9102, tcp, false},
				{"external", "kuzet-api", 9103, tcp, false},
				{"other-ns", "kuzet-nats", 4222, tcp, false},
				{"other-ns", "kuzet-ncc", 9102, tcp, false},
				{"kuzet-api", "kuzet-ncc", 9102, tcp, false},
				{"kuzet-ncc", "kuzet-collector", 5601, tcp, false},
				{"external", "kuzet-collector", 9101, tcp, false},
			}
			for _, w := range r.workloads() {
				flows = append(flows, flow{w.name, "dns", 53, udp, true}, flow{w.name, "dns", 53, tcp, true},
					flow{w.name, "dns", 5353, udp, false})
			}
			if overlay == "national" {
				flows = append(flows,
					flow{"kuzet-clickhouse", "kuzet-keeper", 9181, tcp, true},
					flow{"kuzet-keeper", "kuzet-keeper", 9234, tcp, true},
					flow{"kuzet-ncc", "kuzet-keeper", 9181, tcp, false},
					flow{"kuzet-api", "kuzet-keeper", 9181, tcp, false},
					flow{"external", "kuzet-keeper", 9181, tcp, false})
			}
			for _, f := range flows {
				src, ok1 := eps[f.from]
				dst, ok2 := eps[f.to]
				if !ok1 || !ok2 {
					t.Errorf("flow %s -> %s: no such endpoint", f.from, f.to)
					continue
				}
				if got := n.allows(src, dst, f.port, f.proto); got != f.allowed {
					verb := map[bool]string{true: "allowed", false: "denied"}
					t.Errorf("%s -> %s %s/%d: %s, want %s", f.from, f.to, f.proto, f.port, verb[got], verb[f.allowed])
				}
			}
		})
	}
}

// TestNetworkPolicyEvaluator checks the evaluator on hand-written policies,
// so the flows above cannot pass because it allows everything or nothing.
func TestNetworkPolicyEvaluator(t *testing.T) {
	tcp := corev1.ProtocolTCP
	port := func(p int32) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptrIntOrString(p)}}
	}
	a := endpoint{name: "a", ns: "ns", pod: map[string]string{"app": "a"}}
	b := endpoint{name: "b", ns: "ns", pod: map[string]string{"app": "b"}}
	sel := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	n := netpol{t: t, ns: "ns"}
	if !n.allows(a, b, 80, tcp) {
		t.Error("no policy: denied")
	}
	n.pol = []*networkingv1.NetworkPolicy{{Spec: networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}}}
	if n.allows(a, b, 80, tcp) {
		t.Error("default deny: allowed")
	}
	n.pol = append(n.pol, &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		PodSelector: *sel("b"), PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("a")}}, Ports: port(80)}}}})
	if n.allows(a, b, 80, tcp) {
		t.Error("ingress allowed but no egress: allowed")
	}
	n.pol = append(n.pol, &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		PodSelector: *sel("a"), PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("b")}}, Ports: port(80)}}}})
	for _, c := range []struct {
		src, dst endpoint
		port     int32
		want     bool
	}{{a, b, 80, true}, {a, b, 81, false}, {b, a, 80, false}} {
		if got := n.allows(c.src, c.dst, c.port, tcp); got != c.want {
			t.Errorf("%s -> %s:%d: %v, want %v", c.src, c.dst, c.port, got, c.want)
		}
	}
}

func ptrIntOrString(p int32) *intstr.IntOrString {
	v := intstr.FromInt32(p)
	return &v
}
