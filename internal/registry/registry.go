// Package registry is the registry of critical objects: the twelve sectors,
// the monitoring centers (OISCs and others), the organisations that own
// critical objects, and the objects themselves with the network addresses and
// host names that identify their assets. It matches an event to the object it
// belongs to (Matcher), scoped to one OISC because private address ranges
// repeat across organisations.
//
// The source of truth at run time is a JetStream KV bucket (see package bus);
// this package parses and validates the YAML form (configs/registry.yaml) and
// holds immutable snapshots. It imports no transport or storage package.
package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/event"
)

// Sector is one of the twelve sectors of critical objects named by the Law
// "On informatization". The ids are the machine ids used in NATS subjects,
// API filters, dashboards and configs.
type Sector struct {
	ID     string `json:"id"`
	NameEN string `json:"name_en"`
	NameRU string `json:"name_ru"`
	NameKK string `json:"name_kk"`
}

// Sectors lists the twelve sectors in the order of DOMAIN.md.
var Sectors = []Sector{
	{"heat_supply", "Heat supply", "Теплоснабжение", "Жылумен жабдықтау"},
	{"electricity", "Electricity", "Электроэнергетика", "Электр энергетикасы"},
	{"gas_supply", "Gas supply", "Газоснабжение", "Газбен жабдықтау"},
	{"water_supply", "Water supply", "Водоснабжение", "Сумен жабдықтау"},
	{"industry", "Industry", "Промышленность", "Өнеркәсіп"},
	{"healthcare", "Healthcare", "Здравоохранение", "Денсаулық сақтау"},
	{"communications", "Communications", "Связь", "Байланыс"},
	{"banking", "Banking", "Банковская деятельность", "Банк қызметі"},
	{"transport", "Transport", "Транспорт", "Көлік"},
	{"hydraulic_structures", "Hydraulic structures", "Гидротехнические сооружения", "Гидротехникалық құрылыстар"},
	{"law_enforcement", "Law enforcement", "Правоохранительная деятельность", "Құқық қорғау қызметі"},
	{"digital_government", "Digital government", "Электронное правительство", "Электрондық үкімет"},
}

// ValidSector reports whether id is one of the twelve sector ids.
func ValidSector(id string) bool {
	return slices.ContainsFunc(Sectors, func(s Sector) bool { return s.ID == id })
}

// Center kinds (DOMAIN.md).
const (
	KindOISC           = "oisc"
	KindSectoralISC    = "sectoral_isc"
	KindNCC            = "ncc"
	KindNationalCERT   = "national_cert"
	KindIRService      = "ir_service"
	KindStateOpsCenter = "state_ops_center"
	KindAuthorizedBody = "authorized_body"
)

var centerKinds = []string{KindOISC, KindSectoralISC, KindNCC, KindNationalCERT, KindIRService, KindStateOpsCenter, KindAuthorizedBody}

// Center is a monitoring or coordination center.
type Center struct {
	ID     string `yaml:"id" json:"id"`
	Name   string `yaml:"name" json:"name"`
	Kind   string `yaml:"kind" json:"kind"`
	Parent string `yaml:"parent,omitempty" json:"parent,omitempty"`
	// Sectors a sectoral center covers.
	Sectors   []string `yaml:"sectors,omitempty" json:"sectors,omitempty"`
	LicenceNo string   `yaml:"licence_no,omitempty" json:"licence_no,omitempty"`
	// Notify is where the center receives notifications (default: NATS).
	Notify *Notify `yaml:"notify,omitempty" json:"notify,omitempty"`
	// AutoNotify: for an OISC, the notifications of the incidents kuzet
	// detects on its behalf go out as soon as their clocks start, without
	// waiting for its analyst to confirm the incident.
	AutoNotify bool `yaml:"auto_notify,omitempty" json:"auto_notify,omitempty"`
}

// Contact is a contact person of an organisation.
type Contact struct {
	Role  string `yaml:"role" json:"role"`
	Name  string `yaml:"name" json:"name"`
	Phone string `yaml:"phone,omitempty" json:"phone,omitempty"`
	Email string `yaml:"email,omitempty" json:"email,omitempty"`
}

// Organisation owns critical objects.
type Organisation struct {
	ID        string    `yaml:"id" json:"id"`
	BIN       string    `yaml:"bin,omitempty" json:"bin,omitempty"`
	Name      string    `yaml:"name" json:"name"`
	NameRU    string    `yaml:"name_ru,omitempty" json:"name_ru,omitempty"`
	NameKK    string    `yaml:"name_kk,omitempty" json:"name_kk,omitempty"`
	LegalForm string    `yaml:"legal_form,omitempty" json:"legal_form,omitempty"`
	Sectors   []string  `yaml:"sectors" json:"sectors"`
	OISCs     []string  `yaml:"oiscs,omitempty" json:"oiscs,omitempty"`
	Contacts  []Contact `yaml:"contacts,omitempty" json:"contacts,omitempty"`
	// Notify is where the organisation receives notifications as an owner
	// (default: NATS).
	Notify *Notify `yaml:"notify,omitempty" json:"notify,omitempty"`
}

// Object kinds (Decree 529 p.2).
var objectKinds = []string{"information_system", "technological_platform", "hw_sw_complex", "server_room_dc", "telecom_network", "is_or_continuity_system"}

// Object is a critical ICT object (a critical digital object).
type Object struct {
	ID    string `yaml:"id" json:"id"`
	Name  string `yaml:"name" json:"name"`
	Kind  string `yaml:"kind" json:"kind"`
	Owner string `yaml:"owner" json:"owner"`
	// Sector is one of the twelve sector ids.
	Sector string `yaml:"sector" json:"sector"`
	// Criticality is the internal weighting class 1 (highest) to 3.
	Criticality int `yaml:"criticality" json:"criticality"`
	// OISC is the center the object is connected to.
	OISC         string   `yaml:"oisc" json:"oisc"`
	EGov         bool     `yaml:"egov,omitempty" json:"egov,omitempty"`
	LogFeedToNCC bool     `yaml:"log_feed_to_ncc,omitempty" json:"log_feed_to_ncc,omitempty"`
	CIDRs        []string `yaml:"cidrs,omitempty" json:"cidrs,omitempty"`
	// Hostnames are exact names ("scada-01", "ems.kegoc.kz") or suffix
	// wildcards ("*.scada.kegoc.kz"), matched case-insensitively.
	Hostnames []string `yaml:"hostnames,omitempty" json:"hostnames,omitempty"`
	// Tags say what the object is, for rules that care (ot_gateway, scada,
	// hmi, remote_access, dns_server, ...): lower-case ids, each once. The
	// collector copies them into the events of the object
	// (kuzet.object_tags), so a rule says kuzet.object_tags|contains: scada
	// instead of naming hosts.
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Zone is the IANA time zone of the object's devices ("Asia/Almaty",
	// "Asia/Aqtau"); empty when the registry does not say. A time the
	// record gives without a zone (RFC 3164 syslog, CEF rt as text, LEEF
	// devTime, FortiGate date and time) is read in it, in preference to the
	// collector input's zone; a zone in the record itself wins over it.
	Zone string `yaml:"zone,omitempty" json:"zone,omitempty"`
}

// Registry is one snapshot of the registry. Treat it as immutable once
// validated: Matchers and indexes share it.
type Registry struct {
	Version       int            `yaml:"version" json:"version"`
	Centers       []Center       `yaml:"centers" json:"centers"`
	Organisations []Organisation `yaml:"organisations" json:"organisations"`
	Objects       []Object       `yaml:"objects" json:"objects"`
}

// Parse decodes and validates the YAML form strictly: unknown keys are
// errors, and every validation error is returned, joined, each naming its
// entry and field.
func Parse(data []byte) (*Registry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r Registry
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("registry: empty document")
		}
		return nil, fmt.Errorf("registry: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// LoadFile reads and parses a registry YAML file.
func LoadFile(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Validate checks ids, references, sectors, criticality classes,
// addresses, object tags and zones, and returns every problem joined.
func (r *Registry) Validate() error {
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	if r.Version != 1 {
		bad("version", "must be 1, not %d", r.Version)
	}
	centers := map[string]*Center{}
	for i := range r.Centers {
		c := &r.Centers[i]
		where := fmt.Sprintf("centers[%d]", i)
		if !event.ValidID(c.ID) {
			bad(where+".id", "invalid id %q", c.ID)
		} else if centers[c.ID] != nil {
			bad(where+".id", "duplicate id %q", c.ID)
		}
		centers[c.ID] = c
		if !slices.Contains(centerKinds, c.Kind) {
			bad(where+".kind", "must be one of %s, not %q", strings.Join(centerKinds, ", "), c.Kind)
		}
		if c.Name == "" {
			bad(where+".name", "missing")
		}
		for _, s := range c.Sectors {
			if !ValidSector(s) {
				bad(where+".sectors", "unknown sector %q", s)
			}
		}
		errs = append(errs, c.Notify.validate(where+".notify")...)
	}
	for i, c := range r.Centers {
		if c.Parent != "" && centers[c.Parent] == nil {
			bad(fmt.Sprintf("centers[%d].parent", i), "unknown center %q", c.Parent)
		}
	}
	isOISC := func(id string) bool { c := centers[id]; return c != nil && c.Kind == KindOISC }
	orgs := map[string]bool{}
	for i, o := range r.Organisations {
		where := fmt.Sprintf("organisations[%d]", i)
		if !event.ValidID(o.ID) {
			bad(where+".id", "invalid id %q", o.ID)
		} else if orgs[o.ID] {
			bad(where+".id", "duplicate id %q", o.ID)
		}
		orgs[o.ID] = true
		if o.Name == "" {
			bad(where+".name", "missing")
		}
		if o.BIN != "" && !isBIN(o.BIN) {
			bad(where+".bin", "%q is not a 12-digit BIN", o.BIN)
		}
		for _, s := range o.Sectors {
			if !ValidSector(s) {
				bad(where+".sectors", "unknown sector %q", s)
			}
		}
		for _, id := range o.OISCs {
			if !isOISC(id) {
				bad(where+".oiscs", "%q is not an OISC of centers", id)
			}
		}
		errs = append(errs, o.Notify.validate(where+".notify")...)
	}
	objs := map[string]bool{}
	prefixes := map[string]map[netip.Prefix]string{} // oisc -> prefix -> object
	hosts := map[string]map[string]string{}          // oisc -> hostname -> object
	for i, o := range r.Objects {
		where := fmt.Sprintf("objects[%d]", i)
		if !event.ValidID(o.ID) {
			bad(where+".id", "invalid id %q", o.ID)
		} else if objs[o.ID] {
			bad(where+".id", "duplicate id %q", o.ID)
		}
		objs[o.ID] = true
		if o.Name == "" {
			bad(where+".name", "missing")
		}
		if !slices.Contains(objectKinds, o.Kind) {
			bad(where+".kind", "must be one of %s, not %q", strings.Join(objectKinds, ", "), o.Kind)
		}
		if !orgs[o.Owner] {
			bad(where+".owner", "unknown organisation %q", o.Owner)
		}
		if !ValidSector(o.Sector) {
			bad(where+".sector", "unknown sector %q", o.Sector)
		}
		if o.Criticality < 1 || o.Criticality > 3 {
			bad(where+".criticality", "must be 1, 2 or 3, not %d", o.Criticality)
		}
		if !isOISC(o.OISC) {
			bad(where+".oisc", "%q is not an OISC of centers", o.OISC)
		}
		if prefixes[o.OISC] == nil {
			prefixes[o.OISC] = map[netip.Prefix]string{}
			hosts[o.OISC] = map[string]string{}
		}
		seen := map[string]bool{}
		for _, tag := range o.Tags {
			switch {
			case !event.ValidID(tag):
				bad(where+".tags", "invalid tag %q (lower-case letters, digits, _ and -)", tag)
			case seen[tag]:
				bad(where+".tags", "duplicate tag %q", tag)
			}
			seen[tag] = true
		}
		if o.Zone != "" {
			if _, err := loadZone(o.Zone); err != nil {
				bad(where+".zone", "%v", err)
			}
		}
		for _, c := range o.CIDRs {
			p, err := parsePrefix(c)
			if err != nil {
				bad(where+".cidrs", "%v", err)
				continue
			}
			if other, dup := prefixes[o.OISC][p]; dup && other != o.ID {
				bad(where+".cidrs", "%s is already object %q's in OISC %q", p, other, o.OISC)
			}
			prefixes[o.OISC][p] = o.ID
		}
		for _, h := range o.Hostnames {
			n, err := normHost(h)
			if err != nil {
				bad(where+".hostnames", "%v", err)
				continue
			}
			if other, dup := hosts[o.OISC][n]; dup && other != o.ID {
				bad(where+".hostnames", "%q is already object %q's in OISC %q", h, other, o.OISC)
			}
			hosts[o.OISC][n] = o.ID
		}
	}
	return errors.Join(errs...)
}

// loadZone loads an object's IANA zone. "Local" is refused: it would be
// each collector host's own zone.
func loadZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, errors.New(`"Local" is not an IANA zone name (it is the host's own zone)`)
	}
	return time.LoadLocation(name)
}

func isBIN(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parsePrefix accepts a CIDR or a single address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or address", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// normHost lower-cases a host name or "*.suffix" pattern and checks it.
func normHost(h string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	rest := strings.TrimPrefix(n, "*.")
	if rest == "" || strings.ContainsAny(rest, " */\\@:") {
		return "", fmt.Errorf("%q is not a host name or *.suffix pattern", h)
	}
	return n, nil
}

// Object returns the object with the id, or nil.
func (r *Registry) Object(id string) *Object {
	for i := range r.Objects {
		if r.Objects[i].ID == id {
			return &r.Objects[i]
		}
	}
	return nil
}

// Organisation returns the organisation with the id, or nil.
func (r *Registry) Organisation(id string) *Organisation {
	for i := range r.Organisations {
		if r.Organisations[i].ID == id {
			return &r.Organisations[i]
		}
	}
	return nil
}

// Center returns the center with the id, or nil.
func (r *Registry) Center(id string) *Center {
	for i := range r.Centers {
		if r.Centers[i].ID == id {
			return &r.Centers[i]
		}
	}
	return nil
}
