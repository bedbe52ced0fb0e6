package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// NATS is how a role reaches NATS JetStream.
type NATS struct {
	// URL is one or more comma-separated server URLs.
	URL      string `yaml:"url"`
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// Creds is the path of a NATS credentials file (JWT + nkey seed).
	Creds string `yaml:"creds"`
	// Replicas is the replication factor of the streams a role creates.
	Replicas       int           `yaml:"replicas"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Domain is the JetStream domain to address, if not the local one.
	Domain string `yaml:"domain"`
	// PlacementCluster and PlacementTags place the streams and buckets a
	// role creates: on the NATS cluster named, on servers that have every
	// tag (kuzet nats -tags; server_tags). Empty: where the server chooses.
	PlacementCluster string   `yaml:"placement_cluster"`
	PlacementTags    []string `yaml:"placement_tags"`
	// EventsMaxAge and EventsMaxBytes bound the events stream (the oldest
	// dropped first; the alerts stream gets an eighth of the bytes). Every
	// role that creates the streams must have the same, or each start
	// sets its own.
	EventsMaxAge   time.Duration `yaml:"events_max_age"`
	EventsMaxBytes int64         `yaml:"events_max_bytes"`
}

func (n NATS) validate(es *Errors, path string) {
	if n.URL == "" {
		es.Add(path+".url", "missing")
	}
	for _, u := range strings.Split(n.URL, ",") {
		if u = strings.TrimSpace(u); u != "" && !strings.Contains(u, "://") {
			es.Add(path+".url", "%q has no scheme (nats://host:port)", u)
		}
	}
	if n.Replicas < 1 || n.Replicas > 5 {
		es.Add(path+".replicas", "must be 1..5, not %d", n.Replicas)
	}
	if n.ConnectTimeout <= 0 {
		es.Add(path+".connect_timeout", "must be positive")
	}
	if n.Creds != "" {
		if _, err := os.Stat(n.Creds); err != nil {
			es.Add(path+".creds", "%v", err)
		}
	}
	if n.EventsMaxAge != 0 && n.EventsMaxAge < time.Hour {
		es.Add(path+".events_max_age", "must be at least 1h, not %s", n.EventsMaxAge)
	}
	if n.EventsMaxBytes != 0 && n.EventsMaxBytes < 64<<20 {
		es.Add(path+".events_max_bytes", "must be at least 67108864 (64 MiB), not %d", n.EventsMaxBytes)
	}
	for i, t := range n.PlacementTags {
		if t == "" || strings.ContainsAny(t, " \t,") {
			es.Add(fmt.Sprintf("%s.placement_tags[%d]", path, i), "%q is not a tag", t)
		}
	}
}

// DefaultNATS is a local server.
func DefaultNATS() NATS {
	return NATS{URL: "nats://127.0.0.1:4222", Replicas: 1, ConnectTimeout: 5 * time.Second,
		EventsMaxAge: 7 * 24 * time.Hour, EventsMaxBytes: 8 << 30}
}

// ClickHouse is how a role reaches ClickHouse (native protocol).
type ClickHouse struct {
	Addr         []string      `yaml:"addr"`
	Database     string        `yaml:"database"`
	User         string        `yaml:"user"`
	Password     Secret        `yaml:"password"`
	DialTimeout  time.Duration `yaml:"dial_timeout"`
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxOpenConns and MaxIdleConns size the role's connection pool.
	MaxOpenConns int `yaml:"max_open_conns"`
	MaxIdleConns int `yaml:"max_idle_conns"`
	// Cluster names a cluster of the servers' remote_servers: migrations
	// then create Replicated*MergeTree tables <name>_local on every server
	// of it (ON CLUSTER) with a Distributed table <name> over them, which
	// every read goes through. Empty: one server, plain tables.
	Cluster string `yaml:"cluster"`
	// Insert chooses where a cluster's writes go: "local" (the default:
	// the connected server's replicated table; replication copies each
	// block, and a retried block is deduplicated) or "distributed"
	// (through the Distributed table, synchronously).
	Insert string `yaml:"insert"`
	// Compression of the native protocol's blocks: "lz4" (the default)
	// or "none" (for a server on the same host: the block is copied, not
	// compressed and decompressed; docs/performance.md).
	Compression string `yaml:"compression"`
}

// Compression methods of the native protocol.
const (
	CompressionLZ4  = "lz4"
	CompressionNone = "none"
)

// Insert modes of a cluster.
const (
	InsertLocal       = "local"
	InsertDistributed = "distributed"
)

// DefaultClickHouse is a local server.
func DefaultClickHouse() ClickHouse {
	return ClickHouse{Addr: []string{"127.0.0.1:9000"}, Database: "kuzet", User: "default",
		DialTimeout: 5 * time.Second, QueryTimeout: 30 * time.Second, MaxOpenConns: 16, MaxIdleConns: 4}
}

func (c ClickHouse) validate(es *Errors, path string) {
	if len(c.Addr) == 0 {
		es.Add(path+".addr", "missing")
	}
	for _, a := range c.Addr {
		if _, _, err := net.SplitHostPort(a); err != nil {
			es.Add(path+".addr", "%q is not host:port", a)
		}
	}
	if !validDB(c.Database) {
		es.Add(path+".database", "%q is not a plain identifier", c.Database)
	}
	if c.DialTimeout <= 0 {
		es.Add(path+".dial_timeout", "must be positive")
	}
	if c.QueryTimeout <= 0 {
		es.Add(path+".query_timeout", "must be positive")
	}
	if c.MaxOpenConns < 1 || c.MaxOpenConns > 1024 {
		es.Add(path+".max_open_conns", "must be 1..1024, not %d", c.MaxOpenConns)
	}
	if c.MaxIdleConns < 0 || c.MaxIdleConns > c.MaxOpenConns {
		es.Add(path+".max_idle_conns", "must be 0..max_open_conns, not %d", c.MaxIdleConns)
	}
	if c.Cluster != "" && !validDB(c.Cluster) {
		es.Add(path+".cluster", "%q is not a plain identifier", c.Cluster)
	}
	switch {
	case c.Insert == "":
	case c.Cluster == "":
		es.Add(path+".insert", "applies to a cluster only (set cluster)")
	case c.Insert != InsertLocal && c.Insert != InsertDistributed:
		es.Add(path+".insert", "must be %q or %q, not %q", InsertLocal, InsertDistributed, c.Insert)
	}
	if c.Compression != "" && c.Compression != CompressionLZ4 && c.Compression != CompressionNone {
		es.Add(path+".compression", "must be %q or %q, not %q", CompressionLZ4, CompressionNone, c.Compression)
	}
}

func validDB(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// HTTP is a role's operational HTTP listener: /metrics, /healthz, /readyz.
type HTTP struct {
	Listen string `yaml:"listen"`
	// PProf also serves net/http/pprof under /debug/pprof/ (off by
	// default: profiles reveal memory contents and cost CPU).
	PProf bool `yaml:"pprof"`
}

func validListen(es *Errors, path, addr string, required bool) {
	if addr == "" {
		if required {
			es.Add(path, "missing")
		}
		return
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		es.Add(path, "%q is not host:port", addr)
	}
}

// Log configures log/slog output.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

func (l Log) validate(es *Errors, path string) {
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, l.Level) {
		es.Add(path+".level", "must be debug, info, warn or error, not %q", l.Level)
	}
	if l.Format != "text" && l.Format != "json" {
		es.Add(path+".format", "must be text or json, not %q", l.Format)
	}
}

// DefaultLog logs text at info level.
func DefaultLog() Log { return Log{Level: "info", Format: "text"} }

// Input types.
const (
	InputUDP  = "syslog_udp"
	InputTCP  = "syslog_tcp"
	InputTLS  = "syslog_tls"
	InputHTTP = "http"
	InputFile = "file"
)

// Input is one collector input.
type Input struct {
	// Name identifies the input in metrics and events (kuzet.input).
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Listen is host:port for network inputs.
	Listen string `yaml:"listen"`
	// Pipeline names the normalisation pipeline (pipelines/<name>.yaml).
	Pipeline string `yaml:"pipeline"`
	// MaxRecord is the largest record accepted, in bytes.
	MaxRecord int `yaml:"max_record"`
	// Zone resolves timestamps without a zone (IANA name), unless the
	// registry object the event belongs to names one; default: the
	// collector's Zone.
	Zone string `yaml:"zone"`
	// Framing for TCP/TLS: auto (decided per connection from its first
	// frame: octet counting for "LEN SP <PRI>", else LF, or NUL when the
	// first frame ends with NUL), lf, nul, or octet.
	Framing string `yaml:"framing"`
	// IdleTimeout closes a TCP or TLS connection that sent nothing for this
	// long; 0 means the default, 5m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConns bounds the open connections of a TCP or TLS input; 0 means
	// the default, 4096.
	MaxConns int `yaml:"max_conns"`
	// MaxConnsPerIP bounds the open connections of a TCP or TLS input from
	// one sender address; 0 means the default, 64.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// TLS certificate and key files for syslog_tls and https.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TLSClientCA, when set, requires client certificates signed by it.
	TLSClientCA string `yaml:"tls_client_ca"`
	// Paths are file globs for file inputs.
	Paths []string `yaml:"paths"`
	// StartAt is where a file input starts on a file it has never read:
	// beginning (default) or end.
	StartAt string `yaml:"start_at"`
	// Keys are the accepted API key hashes ("sha256:<hex>") for http inputs.
	Keys []string `yaml:"keys"`
	// MaxBody is the largest HTTP request body, in bytes, for http inputs.
	MaxBody int `yaml:"max_body"`
}

// Batch bounds a batch envelope.
type Batch struct {
	MaxEvents int           `yaml:"max_events"`
	MaxBytes  int           `yaml:"max_bytes"`
	Linger    time.Duration `yaml:"linger"`
}

func (b Batch) validate(es *Errors, path string) {
	if b.MaxEvents < 1 || b.MaxEvents > 100000 {
		es.Add(path+".max_events", "must be 1..100000, not %d", b.MaxEvents)
	}
	if b.MaxBytes < 1024 || b.MaxBytes > 8<<20 {
		es.Add(path+".max_bytes", "must be 1 KiB..8 MiB, not %d", b.MaxBytes)
	}
	if b.Linger <= 0 || b.Linger > time.Minute {
		es.Add(path+".linger", "must be in (0, 1m], not %s", b.Linger)
	}
}

// Site configures an OISC site's buffer: a NATS server of the site, a leaf
// node of the NCC's hub with a JetStream domain of its own, whose stream
// keeps the site's events while the link to the NCC is down.
type Site struct {
	// Domain is the site's JetStream domain; empty disables site buffering
	// (the collector then publishes straight to nats.url).
	Domain string `yaml:"domain"`
	// Embedded runs the site's NATS server inside the collector (store under
	// data_dir); otherwise nats.url points at one beside it (kuzet nats
	// -domain ... -leaf-remotes ...).
	Embedded bool `yaml:"embedded"`
	// Hub is the NCC's leaf-node URL, for the embedded server.
	Hub string `yaml:"hub"`
	// HubUser and HubPassword are the site's own leaf-node credentials at
	// the hub (kuzet nats -leaf-users); the password is best given as
	// KUZET_SITE_HUB_PASSWORD.
	HubUser     string `yaml:"hub_user"`
	HubPassword Secret `yaml:"hub_password"`
	// HubDomain is the NCC's JetStream domain (where the registry lives).
	HubDomain string `yaml:"hub_domain"`
	// MaxBytes and MaxAge bound the buffer.
	MaxBytes int64         `yaml:"max_bytes"`
	MaxAge   time.Duration `yaml:"max_age"`
	// Overflow is block (backpressure on the inputs) or drop_oldest
	// (counted in kuzet_collector_site_dropped_total).
	Overflow string `yaml:"overflow"`
}

func (s Site) validate(es *Errors, path string) {
	if s.Domain == "" {
		return
	}
	if !validDB(strings.ReplaceAll(s.Domain, "-", "_")) {
		es.Add(path+".domain", "%q is not a valid JetStream domain", s.Domain)
	}
	if s.HubDomain == "" || s.HubDomain == s.Domain {
		es.Add(path+".hub_domain", "must be set and differ from the site's domain")
	}
	if s.Embedded && s.Hub == "" {
		es.Add(path+".hub", "an embedded site server needs the hub's leaf URL")
	}
	if s.MaxBytes < 1<<20 {
		es.Add(path+".max_bytes", "must be at least 1 MiB, not %d", s.MaxBytes)
	}
	if s.MaxAge < time.Minute {
		es.Add(path+".max_age", "must be at least 1m, not %s", s.MaxAge)
	}
	if s.Overflow != "block" && s.Overflow != "drop_oldest" {
		es.Add(path+".overflow", "must be block or drop_oldest, not %q", s.Overflow)
	}
}

// Collector configures kuzet-collector.
type Collector struct {
	// ID names the collector; unique within its OISC; used in subjects.
	ID string `yaml:"id"`
	// OISC is the center the collector works for.
	OISC string `yaml:"oisc"`
	// DataDir keeps the spool of accepted events, the batch sequence and
	// file checkpoints.
	DataDir string `yaml:"data_dir"`
	// Journal appends the id of every accepted event to
	// <data_dir>/<id>/accepted.ids, for `kuzet verify` (37 bytes per event).
	Journal bool `yaml:"journal"`
	// SpoolFsync syncs the spool at every sealed batch, so accepted events
	// survive power loss too (not only a crash of the process).
	SpoolFsync bool `yaml:"spool_fsync"`
	NATS       NATS `yaml:"nats"`
	HTTP       HTTP `yaml:"http"`
	Log        Log  `yaml:"log"`
	// RegistryFile, when set, is imported into the KV bucket at start (for
	// single-site deployments); the collector always watches the bucket.
	RegistryFile string        `yaml:"registry_file"`
	Site         Site          `yaml:"site"`
	Batch        Batch         `yaml:"batch"`
	MaxInFlight  int           `yaml:"max_in_flight"`
	Zone         string        `yaml:"zone"`
	Inputs       []Input       `yaml:"inputs"`
	StopTimeout  time.Duration `yaml:"stop_timeout"`
	// ClockSkew bounds how far an event's own time may be from its receive
	// time before it is counted as clock skew.
	ClockSkew ClockSkew `yaml:"clock_skew"`
}

// ClockSkew is the collector's clock-skew check: an event whose own time is
// more than Future ahead of, or Past behind, the time it was received is
// counted in kuzet_collector_clock_skew_events_total{input, device,
// direction} and logged (at most once a minute per input). 0 turns a
// direction off.
type ClockSkew struct {
	Future time.Duration `yaml:"future"`
	Past   time.Duration `yaml:"past"`
}

// DefaultCollector returns the collector defaults.
func DefaultCollector() Collector {
	return Collector{
		DataDir: "data/collector", NATS: DefaultNATS(), HTTP: HTTP{Listen: "127.0.0.1:9101"}, Log: DefaultLog(),
		Batch:       Batch{MaxEvents: 500, MaxBytes: 1 << 20, Linger: 200 * time.Millisecond},
		MaxInFlight: 64, Zone: "Asia/Almaty", StopTimeout: 15 * time.Second, ClockSkew: ClockSkew{Future: 5 * time.Minute, Past: time.Hour},
		Site: Site{HubDomain: "ncc", MaxBytes: 10 << 30, MaxAge: 7 * 24 * time.Hour, Overflow: "block"},
	}
}

var inputTypes = []string{InputUDP, InputTCP, InputTLS, InputHTTP, InputFile}

// Validate implements Validator.
func (c *Collector) Validate() error {
	var es Errors
	if !event.ValidID(c.ID) {
		es.Add("id", "%q is not a valid id (lower-case letters, digits, - and _)", c.ID)
	}
	if !event.ValidID(c.OISC) {
		es.Add("oisc", "%q is not a valid id", c.OISC)
	}
	if c.DataDir == "" {
		es.Add("data_dir", "missing")
	}
	c.NATS.validate(&es, "nats")
	validListen(&es, "http.listen", c.HTTP.Listen, false)
	c.Log.validate(&es, "log")
	c.Batch.validate(&es, "batch")
	c.Site.validate(&es, "site")
	if c.MaxInFlight < 1 || c.MaxInFlight > 4096 {
		es.Add("max_in_flight", "must be 1..4096, not %d", c.MaxInFlight)
	}
	if _, err := time.LoadLocation(c.Zone); err != nil {
		es.Add("zone", "%v", err)
	}
	if c.StopTimeout <= 0 {
		es.Add("stop_timeout", "must be positive")
	}
	if c.ClockSkew.Future < 0 {
		es.Add("clock_skew.future", "must not be negative")
	}
	if c.ClockSkew.Past < 0 {
		es.Add("clock_skew.past", "must not be negative")
	}
	if len(c.Inputs) == 0 {
		es.Add("inputs", "at least one input is needed")
	}
	names := map[string]bool{}
	for i, in := range c.Inputs {
		p := fmt.Sprintf("inputs[%d]", i)
		if !event.ValidID(in.Name) {
			es.Add(p+".name", "%q is not a valid id", in.Name)
		} else if names[in.Name] {
			es.Add(p+".name", "duplicate input name %q", in.Name)
		}
		names[in.Name] = true
		if !slices.Contains(inputTypes, in.Type) {
			es.Add(p+".type", "must be one of %s, not %q", strings.Join(inputTypes, ", "), in.Type)
		}
		if in.Pipeline == "" {
			es.Add(p+".pipeline", "missing")
		}
		if in.MaxRecord < 0 || in.MaxRecord > 16<<20 {
			es.Add(p+".max_record", "must be 0 (default) .. 16 MiB, not %d", in.MaxRecord)
		}
		if in.Zone != "" {
			if _, err := time.LoadLocation(in.Zone); err != nil {
				es.Add(p+".zone", "%v", err)
			}
		}
		switch in.Type {
		case InputFile:
			if len(in.Paths) == 0 {
				es.Add(p+".paths", "a file input needs paths")
			}
		default:
			validListen(&es, p+".listen", in.Listen, true)
		}
		if !slices.Contains([]string{"", "beginning", "end"}, in.StartAt) {
			es.Add(p+".start_at", "must be beginning or end, not %q", in.StartAt)
		}
		for _, g := range in.Paths {
			if _, err := filepath.Match(g, ""); err != nil {
				es.Add(p+".paths", "%q: %v", g, err)
			}
		}
		if !slices.Contains([]string{"", "auto", "lf", "nul", "octet"}, in.Framing) {
			es.Add(p+".framing", "must be auto, lf, nul or octet, not %q", in.Framing)
		}
		if in.IdleTimeout < 0 || in.IdleTimeout > 24*time.Hour {
			es.Add(p+".idle_timeout", "must be 0 (default 5m) .. 24h, not %s", in.IdleTimeout)
		}
		if in.MaxConns < 0 || in.MaxConns > 1<<20 {
			es.Add(p+".max_conns", "must be 0 (default 4096) .. %d, not %d", 1<<20, in.MaxConns)
		}
		if in.MaxConnsPerIP < 0 || in.MaxConnsPerIP > 1<<20 {
			es.Add(p+".max_conns_per_ip", "must be 0 (default 64) .. %d, not %d", 1<<20, in.MaxConnsPerIP)
		} else if in.MaxConns > 0 && in.MaxConnsPerIP > in.MaxConns {
			es.Add(p+".max_conns_per_ip", "%d is more than max_conns %d", in.MaxConnsPerIP, in.MaxConns)
		}
		if in.Type == InputTLS && (in.TLSCert == "" || in.TLSKey == "") {
			es.Add(p+".tls_cert", "a syslog_tls input needs tls_cert and tls_key")
		}
		if in.Type == InputHTTP && len(in.Keys) == 0 {
			es.Add(p+".keys", "an http input needs at least one key hash")
		}
		for j, k := range in.Keys {
			if !access.ValidHash(k) {
				es.Add(p+".keys", "%q is not a sha256:<64 hex> key hash (kuzet apikey makes one)", k)
			} else if w, ok := access.CommonKey(k); ok {
				es.Add(fmt.Sprintf("%s.keys[%d]", p, j), "is the hash of the common word %q, which anyone could guess: make a key with kuzet apikey", w)
			}
		}
	}
	return es.Err()
}

// Consumer configures the ncc's durable JetStream consumer.
type Consumer struct {
	Durable string `yaml:"durable"`
	// FetchBatch is how many messages (batch envelopes) one fetch asks for.
	FetchBatch int `yaml:"fetch_batch"`
	// MaxAckPending bounds the envelopes delivered and not yet acked.
	MaxAckPending int `yaml:"max_ack_pending"`
	// AckWait must exceed the slowest flush; the ncc also sends InProgress.
	AckWait time.Duration `yaml:"ack_wait"`
	// FetchMaxBytes bounds the bytes of the messages one fetch asks for (as
	// stored in the stream, compressed); at least MinFetchBytes, so that the
	// largest envelope the stream accepts can always be fetched.
	FetchMaxBytes int64 `yaml:"fetch_max_bytes"`
}

// MinFetchBytes is the least consumer.fetch_max_bytes: the events stream's
// largest message (8 MiB, bus.EnsureStreams) with room for its headers.
const MinFetchBytes = 9 << 20

// Store configures the ClickHouse batch writer.
type Store struct {
	MaxRows int           `yaml:"max_rows"`
	Linger  time.Duration `yaml:"linger"`
	// MaxBackoff caps the retry backoff while ClickHouse is unavailable.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxBatchBytes cuts a batch by size as MaxRows cuts it by rows: the
	// batch is written once its envelopes' bytes (decompressed body and
	// message) reach it.
	MaxBatchBytes int64 `yaml:"max_batch_bytes"`
	// MaxInflightBytes bounds the bytes of the envelopes held, in the batch
	// being written and the one being filled: the ncc fetches only while
	// a whole consumer.fetch_max_bytes still fits under it.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
}

// Rules configures the ncc's Sigma detection.
type Rules struct {
	// Disabled turns detection off.
	Disabled bool `yaml:"disabled"`
	// Builtin loads kuzet's own rule pack (pipelines/rules).
	Builtin bool `yaml:"builtin"`
	// Dirs are more rule directories (SigmaHQ's rules, local rules).
	Dirs []string `yaml:"dirs"`
	// Reload is how often the directories are checked for changes; the
	// rule set is recompiled and swapped without a restart.
	Reload time.Duration `yaml:"reload"`
}

// NCC configures kuzet-ncc.
type NCC struct {
	ID string `yaml:"id"`
	// Sites are the OISC sites whose buffers the events stream sources:
	// each {domain, oisc}, sourcing only kuzet.events.<oisc>.> (a plain
	// domain string, the older form, sources every subject of the site).
	Sites      []SiteRef  `yaml:"sites"`
	NATS       NATS       `yaml:"nats"`
	ClickHouse ClickHouse `yaml:"clickhouse"`
	HTTP       HTTP       `yaml:"http"`
	Log        Log        `yaml:"log"`
	Consumer   Consumer   `yaml:"consumer"`
	Store      Store      `yaml:"store"`
	Rules      Rules      `yaml:"rules"`
	// Incidents configures the incident stage (grouping alerts into
	// incidents); see internal/incident.Config.
	Incidents IncidentStage `yaml:"incidents"`
	// Correlation configures the correlation stage.
	Correlation CorrelationStage `yaml:"correlation"`
	// Notifications configures the sending of the legal clocks'
	// notifications (it runs with the incident stage).
	Notifications Notifications `yaml:"notifications"`
	// Digests schedules the NCC's digests.
	Digests     Digests       `yaml:"digests"`
	Retention   Retention     `yaml:"retention"`
	StopTimeout time.Duration `yaml:"stop_timeout"`
}

// Notifications configures the ncc's notification stage. Recipients and
// their endpoints come from the registry.
type Notifications struct {
	// Disabled sends nothing: incidents still carry their clocks, and
	// stages left unsent still show as overdue.
	Disabled bool `yaml:"disabled"`
	// WebhookTimeout bounds one webhook request.
	WebhookTimeout time.Duration `yaml:"webhook_timeout"`
	// Backoff is the first retry delay after a failed attempt, doubled per
	// attempt up to MaxBackoff.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// OverdueRecheck is how often a stage found overdue is read again.
	OverdueRecheck time.Duration `yaml:"overdue_recheck"`
	// SMTP is the relay of the email channel (addr empty: none).
	SMTP SMTP `yaml:"smtp"`
}

// SMTP is an e-mail relay.
type SMTP struct {
	Addr     string `yaml:"addr"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// StartTLS is auto (when offered), require or off.
	StartTLS string `yaml:"starttls"`
}

// CorrelationStage configures the ncc's correlation stage.
type CorrelationStage struct {
	// Disabled turns correlation off: base rules still raise no alerts of
	// their own (generate: false), so nothing of them is seen.
	Disabled bool `yaml:"disabled"`
	// Partitions is the fixed number of correlation partitions: never
	// change it on a running deployment.
	Partitions int `yaml:"partitions"`
	// Lateness is how far behind the latest event time a signal may be and
	// still count (0: only in order).
	Lateness time.Duration `yaml:"lateness"`
	// MaxGroups and MaxBytes bound each partition's state (oldest groups
	// evicted, counted).
	MaxGroups int   `yaml:"max_groups"`
	MaxBytes  int64 `yaml:"max_bytes"`
}

// IncidentStage configures the ncc's incident stage.
type IncidentStage struct {
	// Disabled turns grouping off (alerts only).
	Disabled bool `yaml:"disabled"`
	// Partitions is the fixed number of grouping partitions: never change it
	// on a running deployment (partition state is keyed by it).
	Partitions int `yaml:"partitions"`
	// RegimesFile holds the notification regimes and names their calendars
	// (relative to the working directory); missing, incidents carry no
	// clocks and the ncc says so.
	RegimesFile     string `yaml:"regimes_file"`
	incident.Config `yaml:",inline"`
}

// SiteRef is an OISC site the ncc sources: its JetStream domain and its
// OISC.
type SiteRef struct {
	Domain string `yaml:"domain"`
	// OISC is the site's OISC; empty (a site given as a plain string)
	// sources every subject, which the ncc warns about.
	OISC string `yaml:"oisc"`
}

// UnmarshalYAML takes {domain, oisc} or a plain domain string.
func (r *SiteRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*r = SiteRef{Domain: n.Value}
		return nil
	}
	type plain SiteRef
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = SiteRef(p)
	return nil
}

// DefaultNCC returns the ncc defaults.
func DefaultNCC() NCC {
	return NCC{
		ID: "ncc-1", NATS: DefaultNATS(), ClickHouse: DefaultClickHouse(), HTTP: HTTP{Listen: "127.0.0.1:9102"},
		Log:         DefaultLog(),
		Consumer:    Consumer{Durable: "ncc", FetchBatch: 64, MaxAckPending: 1024, AckWait: 60 * time.Second, FetchMaxBytes: 16 << 20},
		Store:       Store{MaxRows: 20000, Linger: time.Second, MaxBackoff: 30 * time.Second, MaxBatchBytes: 32 << 20, MaxInflightBytes: 64 << 20},
		Rules:       Rules{Builtin: true, Reload: 30 * time.Second},
		Incidents:   IncidentStage{Partitions: 16, RegimesFile: "configs/regimes.yaml", Config: incident.DefaultConfig()},
		Correlation: CorrelationStage{Partitions: 16, Lateness: time.Minute, MaxGroups: 100000, MaxBytes: 64 << 20},
		Notifications: Notifications{WebhookTimeout: 10 * time.Second, Backoff: 5 * time.Second, MaxBackoff: 10 * time.Minute,
			OverdueRecheck: 15 * time.Second, SMTP: SMTP{From: "kuzet-ncc@localhost", StartTLS: "auto"}},
		Digests:     DefaultDigests(),
		Retention:   DefaultRetention(),
		StopTimeout: 20 * time.Second,
	}
}

// Validate implements Validator.
func (c *NCC) Validate() error {
	var es Errors
	if !event.ValidID(c.ID) {
		es.Add("id", "%q is not a valid id", c.ID)
	}
	for i, s := range c.Sites {
		if !validDB(strings.ReplaceAll(s.Domain, "-", "_")) {
			es.Add(fmt.Sprintf("sites[%d].domain", i), "%q is not a valid JetStream domain", s.Domain)
		}
		if s.OISC != "" && !event.ValidID(s.OISC) {
			es.Add(fmt.Sprintf("sites[%d].oisc", i), "%q is not a valid OISC id", s.OISC)
		}
	}
	c.NATS.validate(&es, "nats")
	c.ClickHouse.validate(&es, "clickhouse")
	validListen(&es, "http.listen", c.HTTP.Listen, false)
	c.Log.validate(&es, "log")
	c.Digests.validate(&es, "digests")
	c.Retention.validate(&es, "retention")
	if !event.ValidID(c.Consumer.Durable) {
		es.Add("consumer.durable", "%q is not a valid name", c.Consumer.Durable)
	}
	if c.Correlation.Partitions < 1 || c.Correlation.Partitions > 1024 {
		es.Add("correlation.partitions", "must be 1..1024, not %d", c.Correlation.Partitions)
	}
	if c.Correlation.Lateness < 0 || c.Correlation.MaxGroups < 1 || c.Correlation.MaxBytes < 1<<20 {
		es.Add("correlation", "lateness must not be negative, max_groups at least 1, max_bytes at least 1 MiB")
	}
	if !c.Incidents.Disabled {
		nf := c.Notifications
		if nf.WebhookTimeout <= 0 || nf.Backoff <= 0 || nf.MaxBackoff < nf.Backoff || nf.OverdueRecheck <= 0 {
			es.Add("notifications", "webhook_timeout, backoff and overdue_recheck must be positive and max_backoff >= backoff")
		}
		switch nf.SMTP.StartTLS {
		case "auto", "require", "off":
		default:
			es.Add("notifications.smtp.starttls", "must be auto, require or off, not %q", nf.SMTP.StartTLS)
		}
		if nf.SMTP.Addr != "" && nf.SMTP.From == "" {
			es.Add("notifications.smtp.from", "needed with smtp.addr")
		}
		if c.Incidents.Partitions < 1 || c.Incidents.Partitions > 1024 {
			es.Add("incidents.partitions", "must be 1..1024, not %d", c.Incidents.Partitions)
		}
		if err := c.Incidents.Config.Validate(); err != nil {
			for _, e := range unjoin(err) {
				es.Add("incidents", "%s", strings.TrimPrefix(e.Error(), "incidents."))
			}
		}
	}
	if c.Consumer.FetchBatch < 1 || c.Consumer.FetchBatch > 10000 {
		es.Add("consumer.fetch_batch", "must be 1..10000, not %d", c.Consumer.FetchBatch)
	}
	if c.Consumer.MaxAckPending < c.Consumer.FetchBatch {
		es.Add("consumer.max_ack_pending", "must be at least fetch_batch (%d), not %d", c.Consumer.FetchBatch, c.Consumer.MaxAckPending)
	}
	if c.Consumer.AckWait < 5*time.Second {
		es.Add("consumer.ack_wait", "must be at least 5s, not %s", c.Consumer.AckWait)
	}
	if c.Store.MaxRows < 1 {
		es.Add("store.max_rows", "must be positive")
	}
	if c.Store.Linger <= 0 || c.Store.Linger*2 >= c.Consumer.AckWait {
		es.Add("store.linger", "must be positive and under half of consumer.ack_wait, not %s", c.Store.Linger)
	}
	if c.Store.MaxBackoff <= 0 {
		es.Add("store.max_backoff", "must be positive")
	}
	if c.Consumer.FetchMaxBytes < MinFetchBytes {
		es.Add("consumer.fetch_max_bytes", "must be at least %d (9 MiB: the largest envelope), not %d", MinFetchBytes, c.Consumer.FetchMaxBytes)
	}
	if c.Store.MaxBatchBytes < 1<<20 {
		es.Add("store.max_batch_bytes", "must be at least 1048576 (1 MiB), not %d", c.Store.MaxBatchBytes)
	}
	if c.Store.MaxInflightBytes < c.Store.MaxBatchBytes+c.Consumer.FetchMaxBytes {
		es.Add("store.max_inflight_bytes", "must be at least store.max_batch_bytes + consumer.fetch_max_bytes (%d), not %d",
			c.Store.MaxBatchBytes+c.Consumer.FetchMaxBytes, c.Store.MaxInflightBytes)
	}
	if c.StopTimeout <= 0 {
		es.Add("stop_timeout", "must be positive")
	}
	if c.Rules.Reload < time.Second {
		es.Add("rules.reload", "must be at least 1s, not %s", c.Rules.Reload)
	}
	for i, d := range c.Rules.Dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			es.Add(fmt.Sprintf("rules.dirs[%d]", i), "%q is not a directory", d)
		}
	}
	return es.Err()
}

// APIKey is one API key: its hash, never the key, and its principal.
type APIKey struct {
	Name string `yaml:"name"`
	// Hash is "sha256:<hex>" of the key (kuzet apikey prints one).
	Hash    string   `yaml:"hash"`
	Role    string   `yaml:"role"`
	OISC    string   `yaml:"oisc"`
	Org     string   `yaml:"org"`
	Sectors []string `yaml:"sectors"`
	// TLP is the key's TLP ceiling (CLEAR, GREEN, AMBER, AMBER+STRICT);
	// empty: its role's default.
	TLP string `yaml:"tlp"`
}

// Principal returns the key's principal.
func (k APIKey) Principal() access.Principal {
	return access.Principal{Name: k.Name, Role: access.Role(k.Role), OISC: k.OISC, Org: k.Org, Sectors: k.Sectors, TLP: k.TLP}
}

// API configures kuzet-api.
type API struct {
	Listen     string     `yaml:"listen"`
	ClickHouse ClickHouse `yaml:"clickhouse"`
	Log        Log        `yaml:"log"`
	Keys       []APIKey   `yaml:"keys"`
	// RegistryFile is the registry of critical objects that the keys' org
	// and oisc are checked against at validation (no server needed).
	RegistryFile string `yaml:"registry_file"`
	// MaxLimit caps the page size of list endpoints.
	MaxLimit    int           `yaml:"max_limit"`
	StopTimeout time.Duration `yaml:"stop_timeout"`
	// HTTP is the operational listener (/metrics, /healthz, /readyz), apart
	// from the public port; an empty listen disables it.
	HTTP HTTP `yaml:"http"`
	// TLSCert and TLSKey, when both set, serve the API over TLS (1.2 or
	// later); TLSClientCA, when set, requires client certificates signed by it.
	TLSCert     string `yaml:"tls_cert"`
	TLSKey      string `yaml:"tls_key"`
	TLSClientCA string `yaml:"tls_client_ca"`
	// Limits bound what queries may cost the API and ClickHouse.
	Limits APILimits `yaml:"limits"`
	// NATS is how the API reaches JetStream: for what it changes
	// (incident changes and declarations through the ncc,
	// acknowledgements) and for the heads of its audit chains (a KV
	// bucket). An empty url runs it read-only, those routes answering 503;
	// the audit log still chains its records, but rows cut from the end of
	// a chain do not show.
	NATS NATS `yaml:"nats"`
	// Audit configures the audit log.
	Audit APIAudit `yaml:"audit"`
	// StoredKeys configures the keys kept in ClickHouse (made through the
	// admin API or kuzet apikey create), apart from the keys above.
	StoredKeys StoredKeys `yaml:"stored_keys"`
	// OIDC accepts OIDC bearer tokens beside API keys (off without issuer).
	OIDC OIDC `yaml:"oidc"`
	// TrustedProxies are the proxies (CIDRs or addresses) whose
	// X-Forwarded-For names the client: the address failed
	// authentications are counted by and the audit log records. Default
	// none: the peer's address is the client's.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// APIAudit configures the API's audit log.
type APIAudit struct {
	// Instance names this API instance's audit chain; every instance
	// writing to one database needs its own. Empty: the host name.
	Instance string `yaml:"instance"`
	// MaxBatch is the most records one INSERT appends.
	MaxBatch int `yaml:"max_batch"`
	// WriteTimeout bounds a batch's INSERT and head update; a request whose
	// record is not written in time answers 503.
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// StoredKeys configures the API keys kept in the store.
type StoredKeys struct {
	// CacheTTL is how long the API uses the keys it read before reading
	// them again: a revocation takes effect within it on every instance.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// DefaultTTL is a new key's life when its request names no expiry;
	// MaxTTL the longest one may ask for.
	DefaultTTL time.Duration `yaml:"default_ttl"`
	MaxTTL     time.Duration `yaml:"max_ttl"`
}

var instanceRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)

// ValidInstance reports whether s may name an audit chain (a KV key).
func ValidInstance(s string) bool { return instanceRe.MatchString(s) }

// APILimits bound the API's queries: response size, concurrency, rate and
// time. The API's memory is bounded by about
// max_concurrent_queries x max_response_bytes x 3 (see README).
type APILimits struct {
	// MaxResponseBytes ends a page early (with a next cursor) once its
	// events reach this many bytes; a page always holds at least one event.
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// MaxConcurrentQueries caps the queries running at once, in total and
	// per key; others wait in a queue of at most MaxQueuedQueries for up to
	// QueueTimeout, then get 429 with Retry-After.
	MaxConcurrentQueries       int           `yaml:"max_concurrent_queries"`
	MaxConcurrentQueriesPerKey int           `yaml:"max_concurrent_queries_per_key"`
	MaxQueuedQueries           int           `yaml:"max_queued_queries"`
	QueueTimeout               time.Duration `yaml:"queue_timeout"`
	// RatePerKey and BurstPerKey limit each key's requests (token bucket,
	// requests per second); over it a request gets 429 with Retry-After.
	RatePerKey  float64 `yaml:"rate_per_key"`
	BurstPerKey int     `yaml:"burst_per_key"`
	// QueryTimeout bounds one query, in the API and in ClickHouse
	// (max_execution_time).
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxAuthFailuresPerIP failed authentications from one address (an
	// IPv6 /64) within AuthFailureWindow make it answer 429 with
	// Retry-After, without a key being checked, until the window passes.
	MaxAuthFailuresPerIP int           `yaml:"max_auth_failures_per_ip"`
	AuthFailureWindow    time.Duration `yaml:"auth_failure_window"`
}

// DefaultAPILimits returns the api limits' defaults.
func DefaultAPILimits() APILimits {
	return APILimits{MaxResponseBytes: 4 << 20, MaxConcurrentQueries: 8, MaxConcurrentQueriesPerKey: 2,
		MaxQueuedQueries: 64, QueueTimeout: 30 * time.Second, RatePerKey: 20, BurstPerKey: 40, QueryTimeout: 20 * time.Second,
		MaxAuthFailuresPerIP: 20, AuthFailureWindow: time.Minute}
}

func (l APILimits) validate(es *Errors, path string) {
	if l.MaxResponseBytes < 64<<10 || l.MaxResponseBytes > 256<<20 {
		es.Add(path+".max_response_bytes", "must be 64 KiB..256 MiB, not %d", l.MaxResponseBytes)
	}
	if l.MaxConcurrentQueries < 1 || l.MaxConcurrentQueries > 1024 {
		es.Add(path+".max_concurrent_queries", "must be 1..1024, not %d", l.MaxConcurrentQueries)
	}
	if l.MaxConcurrentQueriesPerKey < 1 || l.MaxConcurrentQueriesPerKey > l.MaxConcurrentQueries {
		es.Add(path+".max_concurrent_queries_per_key", "must be 1..max_concurrent_queries, not %d", l.MaxConcurrentQueriesPerKey)
	}
	if l.MaxQueuedQueries < 0 || l.MaxQueuedQueries > 100000 {
		es.Add(path+".max_queued_queries", "must be 0..100000, not %d", l.MaxQueuedQueries)
	}
	if l.QueueTimeout <= 0 {
		es.Add(path+".queue_timeout", "must be positive")
	}
	if l.RatePerKey <= 0 {
		es.Add(path+".rate_per_key", "must be positive")
	}
	if l.BurstPerKey < 1 {
		es.Add(path+".burst_per_key", "must be at least 1, not %d", l.BurstPerKey)
	}
	if l.QueryTimeout < time.Second {
		es.Add(path+".query_timeout", "must be at least 1s, not %s", l.QueryTimeout)
	}
	if l.MaxAuthFailuresPerIP < 1 || l.MaxAuthFailuresPerIP > 1000000 {
		es.Add(path+".max_auth_failures_per_ip", "must be 1..1000000, not %d", l.MaxAuthFailuresPerIP)
	}
	if l.AuthFailureWindow < time.Second || l.AuthFailureWindow > 24*time.Hour {
		es.Add(path+".auth_failure_window", "must be 1s..24h, not %s", l.AuthFailureWindow)
	}
}

// DefaultAPI returns the api defaults.
func DefaultAPI() API {
	nc := DefaultNATS()
	nc.URL = ""
	return API{Listen: "127.0.0.1:8080", ClickHouse: DefaultClickHouse(), Log: DefaultLog(), MaxLimit: 1000,
		StopTimeout: 10 * time.Second, RegistryFile: "configs/registry.yaml", HTTP: HTTP{Listen: "127.0.0.1:9103"}, Limits: DefaultAPILimits(),
		NATS: nc, Audit: APIAudit{MaxBatch: 64, WriteTimeout: 5 * time.Second},
		StoredKeys: StoredKeys{CacheTTL: 5 * time.Second, DefaultTTL: 90 * 24 * time.Hour, MaxTTL: 366 * 24 * time.Hour},
		OIDC:       DefaultOIDC()}
}

// Validate implements Validator.
func (c *API) Validate() error {
	var es Errors
	validListen(&es, "listen", c.Listen, true)
	c.ClickHouse.validate(&es, "clickhouse")
	c.Log.validate(&es, "log")
	if c.MaxLimit < 1 || c.MaxLimit > 100000 {
		es.Add("max_limit", "must be 1..100000, not %d", c.MaxLimit)
	}
	if c.StopTimeout <= 0 {
		es.Add("stop_timeout", "must be positive")
	}
	validListen(&es, "http.listen", c.HTTP.Listen, false)
	if c.HTTP.Listen != "" && c.HTTP.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		es.Add("http.listen", "must differ from listen: metrics stay off the public port")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		es.Add("tls_cert", "tls_cert and tls_key go together")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		es.Add("tls_client_ca", "needs tls_cert and tls_key")
	}
	for _, f := range []struct{ path, file string }{{"tls_cert", c.TLSCert}, {"tls_key", c.TLSKey}, {"tls_client_ca", c.TLSClientCA}} {
		if f.file != "" {
			if _, err := os.Stat(f.file); err != nil {
				es.Add(f.path, "%v", err)
			}
		}
	}
	c.Limits.validate(&es, "limits")
	if c.NATS.URL != "" {
		c.NATS.validate(&es, "nats")
	}
	if c.Audit.Instance != "" && !ValidInstance(c.Audit.Instance) {
		es.Add("audit.instance", "%q: use letters, digits, '_', '-' and '.' (at most 128)", c.Audit.Instance)
	}
	if c.Audit.MaxBatch < 1 || c.Audit.MaxBatch > 10000 {
		es.Add("audit.max_batch", "must be 1..10000, not %d", c.Audit.MaxBatch)
	}
	if c.Audit.WriteTimeout < 100*time.Millisecond {
		es.Add("audit.write_timeout", "must be at least 100ms, not %s", c.Audit.WriteTimeout)
	}
	if c.StoredKeys.CacheTTL < 0 || c.StoredKeys.CacheTTL > time.Minute {
		es.Add("stored_keys.cache_ttl", "must be 0..1m (a revocation waits for it), not %s", c.StoredKeys.CacheTTL)
	}
	if c.StoredKeys.DefaultTTL < time.Minute {
		es.Add("stored_keys.default_ttl", "must be at least 1m, not %s", c.StoredKeys.DefaultTTL)
	}
	if c.StoredKeys.MaxTTL < c.StoredKeys.DefaultTTL {
		es.Add("stored_keys.max_ttl", "must be at least stored_keys.default_ttl (%s), not %s", c.StoredKeys.DefaultTTL, c.StoredKeys.MaxTTL)
	}
	if c.ClickHouse.MaxOpenConns <= c.Limits.MaxConcurrentQueries {
		es.Add("clickhouse.max_open_conns", "must exceed limits.max_concurrent_queries (%d): queries and readiness checks share the pool",
			c.Limits.MaxConcurrentQueries)
	}
	names := map[string]bool{}
	hashes := map[string]int{} // lower-case hash -> first entry
	for i, k := range c.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		if k.Name == "" {
			es.Add(p+".name", "missing")
		} else if names[k.Name] {
			es.Add(p+".name", "duplicate key name %q", k.Name)
		}
		names[k.Name] = true
		if !access.ValidHash(k.Hash) {
			es.Add(p+".hash", "must be sha256:<64 hex digits> (kuzet apikey makes one)")
		} else if w, ok := access.CommonKey(k.Hash); ok {
			es.Add(p+".hash", "is the hash of the common word %q, which anyone could guess: make a key with kuzet apikey", w)
		}
		if h := strings.ToLower(k.Hash); k.Hash != "" {
			if j, dup := hashes[h]; dup {
				es.Add(p+".hash", "the same hash as keys[%d] (%q, role %s): one key would hold two roles; give each entry its own key",
					j, c.Keys[j].Name, c.Keys[j].Role)
			} else {
				hashes[h] = i
			}
		}
		if err := k.Principal().Validate(); err != nil {
			es.Add(p+".role", "%v", err)
		}
		for _, s := range k.Sectors {
			if !registry.ValidSector(s) {
				es.Add(p+".sectors", "unknown sector %q", s)
			}
		}
	}
	c.checkKeyScopes(&es)
	c.OIDC.validate(&es, "oidc")
	validProxies(&es, "trusted_proxies", c.TrustedProxies)
	return es.Err()
}

// checkKeyScopes checks each key's org and oisc against the registry file:
// a key scoped to an organisation or OISC that does not exist would see
// nothing, or, after a rename, another one's data.
func (c *API) checkKeyScopes(es *Errors) {
	var reg *registry.Registry
	var regErr error
	loaded := false
	for i, k := range c.Keys {
		if k.Org == "" && k.OISC == "" {
			continue
		}
		if !loaded {
			loaded = true
			if c.RegistryFile == "" {
				regErr = errors.New("not set")
			} else {
				reg, regErr = registry.LoadFile(c.RegistryFile)
			}
			if regErr != nil {
				es.Add("registry_file", "%q: %v; it is needed to check the org and oisc of keys[%d] (%q)", c.RegistryFile, regErr, i, k.Name)
			}
		}
		if regErr != nil {
			return
		}
		p := fmt.Sprintf("keys[%d]", i)
		if k.Org != "" && reg.Organisation(k.Org) == nil {
			es.Add(p+".org", "key %q: organisation %q is not in the registry %s", k.Name, k.Org, c.RegistryFile)
		}
		if k.OISC != "" {
			if ct := reg.Center(k.OISC); ct == nil || ct.Kind != registry.KindOISC {
				es.Add(p+".oisc", "key %q: %q is not an OISC in the registry %s", k.Name, k.OISC, c.RegistryFile)
			}
		}
	}
}
