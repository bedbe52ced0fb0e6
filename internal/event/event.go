// Package event defines kuzet's normalised security event, its JSON form
// (documented as a JSON Schema in schema.json) and its identity.
//
// An Event follows the Elastic Common Schema (ECS) for the fields every source
// shares (nested objects: "source": {"ip": ...}), carries a "kuzet" block with
// the identity and registry enrichment assigned by the collector, keeps the
// original record in "event.original", and keeps source-specific fields in one
// namespace object per source type. Windows events keep their Sigma field names
// (EventID, Channel, Image, CommandLine, ...) flat under "winlog"; Zeek logs keep
// Zeek's keys (which contain dots, such as "id.orig_h") under "zeek"; and so on
// (see Namespaces).
//
// The package is pure: it imports no transport or storage package.
package event

import "time"

// SchemaVersion is the version of the event JSON form. It travels in every
// batch envelope; readers reject versions they do not know.
const SchemaVersion = 1

// Event is one normalised security event. The zero value is not valid: an
// event needs at least Kuzet.EventID, Kuzet.ReceivedAt and Timestamp (see
// Validate).
//
// Events are not safe for concurrent mutation.
type Event struct {
	// Timestamp is when the event happened according to its source, or the
	// receive time when the source gave none.
	Timestamp   time.Time `json:"@timestamp"`
	Event       Meta      `json:"event"`
	Source      *Endpoint `json:"source,omitempty"`
	Destination *Endpoint `json:"destination,omitempty"`
	Network     *Network  `json:"network,omitempty"`
	User        *User     `json:"user,omitempty"`
	Host        *Host     `json:"host,omitempty"`
	Process     *Process  `json:"process,omitempty"`
	File        *File     `json:"file,omitempty"`
	URL         *URL      `json:"url,omitempty"`
	DNS         *DNS      `json:"dns,omitempty"`
	Rule        *Rule     `json:"rule,omitempty"`
	Observer    *Observer `json:"observer,omitempty"`
	Message     string    `json:"message,omitempty"`
	Log         *Log      `json:"log,omitempty"`
	// More ECS objects (ecs.go).
	Client    *Endpoint  `json:"client,omitempty"`
	Server    *Endpoint  `json:"server,omitempty"`
	Group     *Group     `json:"group,omitempty"`
	HTTP      *HTTP      `json:"http,omitempty"`
	TLS       *TLS       `json:"tls,omitempty"`
	UserAgent *UserAgent `json:"user_agent,omitempty"`
	DLL       *DLL       `json:"dll,omitempty"`
	// Tags are free-form constant tags set by pipelines.
	Tags []string `json:"tags,omitempty"`
	// Labels are constant key/value labels set by pipelines.
	Labels map[string]string `json:"labels,omitempty"`
	Kuzet  Kuzet             `json:"kuzet"`

	// Source-specific namespaces. Keys are the source's own field names.
	Winlog   map[string]any `json:"winlog,omitempty"`
	Zeek     map[string]any `json:"zeek,omitempty"`
	Suricata map[string]any `json:"suricata,omitempty"`
	CEF      map[string]any `json:"cef,omitempty"`
	LEEF     map[string]any `json:"leef,omitempty"`
	Auditd   map[string]any `json:"auditd,omitempty"`
	Wazuh    map[string]any `json:"wazuh,omitempty"`
	// Fields holds source-specific fields of sources without a namespace of
	// their own (generic NDJSON, devices added as pipeline YAML).
	Fields map[string]any `json:"fields,omitempty"`
}

// Meta is the ECS "event" object.
type Meta struct {
	// Kind is the ECS event.kind: event, alert, metric, state, pipeline_error, signal.
	Kind     string   `json:"kind,omitempty"`
	Category []string `json:"category,omitempty"`
	Type     []string `json:"type,omitempty"`
	Action   string   `json:"action,omitempty"`
	// Outcome is success, failure or unknown.
	Outcome string `json:"outcome,omitempty"`
	// Severity is the source's numeric severity as the source defines it.
	Severity int    `json:"severity,omitempty"`
	Code     string `json:"code,omitempty"`
	Provider string `json:"provider,omitempty"`
	Module   string `json:"module,omitempty"`
	Dataset  string `json:"dataset,omitempty"`
	// Created is when a device or agent first saw the event (ECS event.created).
	Created *time.Time `json:"created,omitempty"`
	// Original is the record exactly as received, as text (invalid UTF-8 is
	// replaced, see Kuzet.OriginalB64 for the exact bytes).
	Original string `json:"original,omitempty"`
	// ID, Sequence, Timezone, Duration (nanoseconds), Start, End, Reason
	// and Reference are the ECS fields of the same names.
	ID        string     `json:"id,omitempty"`
	Sequence  int64      `json:"sequence,omitempty"`
	Timezone  string     `json:"timezone,omitempty"`
	Duration  int64      `json:"duration,omitempty"`
	Start     *time.Time `json:"start,omitempty"`
	End       *time.Time `json:"end,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Reference string     `json:"reference,omitempty"`
}

// Endpoint is the ECS "source" or "destination" object.
type Endpoint struct {
	IP      string `json:"ip,omitempty"`
	Port    int    `json:"port,omitempty"`
	Domain  string `json:"domain,omitempty"`
	Address string `json:"address,omitempty"`
	MAC     string `json:"mac,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	Packets int64  `json:"packets,omitempty"`
	User    *User  `json:"user,omitempty"`
}

// Network is the ECS "network" object.
type Network struct {
	Transport string `json:"transport,omitempty"`
	Protocol  string `json:"protocol,omitempty"`
	Direction string `json:"direction,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	Packets   int64  `json:"packets,omitempty"`
}

// User is the ECS "user" object.
type User struct {
	Name   string `json:"name,omitempty"`
	Domain string `json:"domain,omitempty"`
	ID     string `json:"id,omitempty"`
	// Audit is the login user (auditd auid); Effective the effective one.
	Audit     *UserRef `json:"audit,omitempty"`
	Effective *UserRef `json:"effective,omitempty"`
	// Filesystem and Saved are the fsuid and saved ids of a process (auditd).
	Filesystem *UserRef `json:"filesystem,omitempty"`
	Saved      *UserRef `json:"saved,omitempty"`
	Group      *Group   `json:"group,omitempty"`
}

// Host is the ECS "host" object.
type Host struct {
	Name     string   `json:"name,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	IP       []string `json:"ip,omitempty"`
	OS       string   `json:"os,omitempty"`
	// Architecture is the ECS host.architecture.
	Architecture string `json:"architecture,omitempty"`
}

// Process is the ECS "process" object.
type Process struct {
	Name        string   `json:"name,omitempty"`
	PID         int      `json:"pid,omitempty"`
	Executable  string   `json:"executable,omitempty"`
	CommandLine string   `json:"command_line,omitempty"`
	Parent      *Process `json:"parent,omitempty"`
	// WorkingDirectory, Title and ExitCode are the ECS fields.
	WorkingDirectory string `json:"working_directory,omitempty"`
	Title            string `json:"title,omitempty"`
	ExitCode         int    `json:"exit_code,omitempty"`
	// EntityID identifies the process across events (Sysmon ProcessGuid).
	EntityID string `json:"entity_id,omitempty"`
}

// File is the ECS "file" object.
type File struct {
	Path string `json:"path,omitempty"`
	Name string `json:"name,omitempty"`
	Hash *Hash  `json:"hash,omitempty"`
	// MimeType and Size are the ECS fields.
	MimeType string `json:"mime_type,omitempty"`
	Size     int64  `json:"size,omitempty"`
	// Directory, Extension, PE and CodeSignature are the ECS fields.
	Directory     string         `json:"directory,omitempty"`
	Extension     string         `json:"extension,omitempty"`
	PE            *PE            `json:"pe,omitempty"`
	CodeSignature *CodeSignature `json:"code_signature,omitempty"`
}

// Hash holds file hashes.
type Hash struct {
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// URL is the ECS "url" object.
type URL struct {
	Original string `json:"original,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Path     string `json:"path,omitempty"`
	Query    string `json:"query,omitempty"`
	Scheme   string `json:"scheme,omitempty"`
	Full     string `json:"full,omitempty"`
	Username string `json:"username,omitempty"`
}

// DNS is the ECS "dns" object.
type DNS struct {
	Question     DNSQuestion `json:"question"`
	ResponseCode string      `json:"response_code,omitempty"`
	Answers      []string    `json:"answers,omitempty"`
	ID           string      `json:"id,omitempty"`
	// Type is query or answer.
	Type        string   `json:"type,omitempty"`
	HeaderFlags []string `json:"header_flags,omitempty"`
	ResolvedIP  []string `json:"resolved_ip,omitempty"`
}

// DNSQuestion is the ECS "dns.question" object.
type DNSQuestion struct {
	Name  string `json:"name,omitempty"`
	Type  string `json:"type,omitempty"`
	Class string `json:"class,omitempty"`
}

// Rule is the ECS "rule" object: the rule of the device that produced the
// event (an IDS signature, a firewall policy), not a kuzet detection rule.
type Rule struct {
	Name     string `json:"name,omitempty"`
	ID       string `json:"id,omitempty"`
	Category string `json:"category,omitempty"`
	// Description and Ruleset are the ECS fields.
	Description string `json:"description,omitempty"`
	Ruleset     string `json:"ruleset,omitempty"`
}

// Observer is the ECS "observer" object: the device that observed the event.
type Observer struct {
	Vendor   string `json:"vendor,omitempty"`
	Product  string `json:"product,omitempty"`
	Version  string `json:"version,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Type     string `json:"type,omitempty"`
	// Name and SerialNumber are the ECS fields.
	Name         string `json:"name,omitempty"`
	SerialNumber string `json:"serial_number,omitempty"`
}

// Log is the ECS "log" object.
type Log struct {
	Level  string     `json:"level,omitempty"`
	Logger string     `json:"logger,omitempty"`
	File   *LogFile   `json:"file,omitempty"`
	Source *LogSource `json:"source,omitempty"`
	Syslog *Syslog    `json:"syslog,omitempty"`
}

// LogFile names the file a record was read from.
type LogFile struct {
	Path string `json:"path,omitempty"`
}

// LogSource is the network peer a record came from (the sender's address).
type LogSource struct {
	Address string `json:"address,omitempty"`
}

// Syslog is the ECS "log.syslog" object.
type Syslog struct {
	Priority *int        `json:"priority,omitempty"`
	Facility *SyslogCode `json:"facility,omitempty"`
	Severity *SyslogCode `json:"severity,omitempty"`
	Hostname string      `json:"hostname,omitempty"`
	Appname  string      `json:"appname,omitempty"`
	ProcID   string      `json:"procid,omitempty"`
	MsgID    string      `json:"msgid,omitempty"`
	Version  string      `json:"version,omitempty"`
	// StructuredData maps SD-ID to its parameters (RFC 5424).
	StructuredData map[string]map[string]string `json:"structured_data,omitempty"`
}

// SyslogCode is a syslog facility or severity: its number and name.
type SyslogCode struct {
	Code int    `json:"code"`
	Name string `json:"name,omitempty"`
}

// Asset states for Kuzet.Asset.
const (
	// AssetKnown: the event matched a critical object of the registry.
	AssetKnown = "known"
	// AssetUnknown: no critical object matched; the event is kept.
	AssetUnknown = "unknown"
)

// Kuzet is kuzet's own block: identity, provenance and registry enrichment.
// EventID and ReceivedAt are assigned once, when the collector accepts the
// record, and never change afterwards (buffering, retries and redelivery keep
// them).
type Kuzet struct {
	// EventID is a UUIDv7 in canonical text form.
	EventID    string    `json:"event_id"`
	ReceivedAt time.Time `json:"received_at"`
	Collector  string    `json:"collector"`
	OISC       string    `json:"oisc"`
	// Input names the collector input that accepted the record.
	Input string `json:"input,omitempty"`
	// SourceType names the normalisation pipeline (syslog, cef, zeek, ...).
	SourceType string `json:"source_type,omitempty"`
	// Org, Object and Sector come from the registry; empty when unknown.
	Org    string `json:"org,omitempty"`
	Object string `json:"object,omitempty"`
	Sector string `json:"sector,omitempty"`
	// Criticality is the object's criticality class 1..3 (0: unknown).
	Criticality int  `json:"criticality,omitempty"`
	EGov        bool `json:"egov,omitempty"`
	// ObjectTags are the matched object's registry tags (ot_gateway,
	// scada, hmi, remote_access, ...), for rules such as
	// kuzet.object_tags|contains: scada; empty when the asset is unknown.
	ObjectTags []string `json:"object_tags,omitempty"`
	// Asset is AssetKnown or AssetUnknown.
	Asset string `json:"asset"`
	// OriginalB64 keeps the exact bytes of a record that was not valid UTF-8.
	OriginalB64 string `json:"original_b64,omitempty"`
	// TimeSource says where @timestamp came from: "event" (the record's
	// own time) or "received" (the record had no time kuzet could read,
	// and @timestamp is received_at).
	TimeSource string `json:"time_source,omitempty"`
	// TimeZone says, when @timestamp is the record's own time, which zone
	// it was read in: ZoneRecord (the time carried its zone, or the record
	// says it), else the zone kuzet assumed for a time without one:
	// ZoneDevice (the registry object's), ZoneInput (the collector
	// input's) or ZoneCollector (the collector's default). The assumed
	// zone's name is in event.timezone.
	TimeZone string `json:"time_zone,omitempty"`
}
