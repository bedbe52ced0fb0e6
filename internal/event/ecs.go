package event

import (
	"fmt"
	"strconv"
	"time"
)

// Values of Kuzet.TimeSource.
const (
	// TimeEvent: @timestamp is the record's own time.
	TimeEvent = "event"
	// TimeReceived: the record had no time kuzet could read; @timestamp is
	// received_at.
	TimeReceived = "received"
)

// Values of Kuzet.TimeZone, in order of precedence: a time without a zone
// is read in the device's zone when the registry gives one, else in the
// input's, else in the collector's.
const (
	// ZoneRecord: the record's time carried its zone (an offset, a zone
	// name, an epoch), or the record names it (CEF dtz, FortiGate tz), or
	// the format fixes it (Sysmon UtcTime).
	ZoneRecord = "record"
	// ZoneDevice: read in the zone of the registry object the event
	// belongs to.
	ZoneDevice = "device"
	// ZoneInput: read in the zone of the collector input.
	ZoneInput = "input"
	// ZoneCollector: read in the collector's default zone.
	ZoneCollector = "collector"
)

// UserRef is a user seen in one role (ECS user.audit, user.effective).
type UserRef struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Group *Group `json:"group,omitempty"`
}

// Group is the ECS "group" object.
type Group struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// HTTP is the ECS "http" object.
type HTTP struct {
	Version  string        `json:"version,omitempty"`
	Request  *HTTPRequest  `json:"request,omitempty"`
	Response *HTTPResponse `json:"response,omitempty"`
}

// HTTPRequest is the ECS "http.request" object.
type HTTPRequest struct {
	Method string    `json:"method,omitempty"`
	Body   *HTTPBody `json:"body,omitempty"`
}

// HTTPResponse is the ECS "http.response" object.
type HTTPResponse struct {
	StatusCode int       `json:"status_code,omitempty"`
	Body       *HTTPBody `json:"body,omitempty"`
}

// HTTPBody holds the size of an HTTP body.
type HTTPBody struct {
	Bytes int64 `json:"bytes,omitempty"`
}

// TLS is the ECS "tls" object.
type TLS struct {
	Version         string     `json:"version,omitempty"`
	VersionProtocol string     `json:"version_protocol,omitempty"`
	Cipher          string     `json:"cipher,omitempty"`
	Curve           string     `json:"curve,omitempty"`
	Established     *bool      `json:"established,omitempty"`
	Resumed         *bool      `json:"resumed,omitempty"`
	Client          *TLSClient `json:"client,omitempty"`
	Server          *TLSServer `json:"server,omitempty"`
}

// TLSClient is the ECS "tls.client" object.
type TLSClient struct {
	ServerName string `json:"server_name,omitempty"`
	JA3        string `json:"ja3,omitempty"`
}

// TLSServer is the ECS "tls.server" object.
type TLSServer struct {
	JA3S      string `json:"ja3s,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	Subject   string `json:"subject,omitempty"`
	NotBefore string `json:"not_before,omitempty"`
	NotAfter  string `json:"not_after,omitempty"`
	Hash      *Hash  `json:"hash,omitempty"`
	X509      *X509  `json:"x509,omitempty"`
}

// X509 is the ECS "x509" object of a certificate.
type X509 struct {
	SerialNumber string    `json:"serial_number,omitempty"`
	NotBefore    string    `json:"not_before,omitempty"`
	NotAfter     string    `json:"not_after,omitempty"`
	Subject      *X509Name `json:"subject,omitempty"`
	Issuer       *X509Name `json:"issuer,omitempty"`
}

// X509Name is a certificate's subject or issuer, by attribute.
type X509Name struct {
	CommonName         string `json:"common_name,omitempty"`
	Country            string `json:"country,omitempty"`
	Organization       string `json:"organization,omitempty"`
	OrganizationalUnit string `json:"organizational_unit,omitempty"`
	Locality           string `json:"locality,omitempty"`
	StateOrProvince    string `json:"state_or_province,omitempty"`
}

// DLL is the ECS "dll" object: a library a process loaded.
type DLL struct {
	Name          string         `json:"name,omitempty"`
	Path          string         `json:"path,omitempty"`
	Hash          *Hash          `json:"hash,omitempty"`
	PE            *PE            `json:"pe,omitempty"`
	CodeSignature *CodeSignature `json:"code_signature,omitempty"`
}

// PE is the ECS "pe" object: a Windows executable's header fields.
type PE struct {
	OriginalFileName string `json:"original_file_name,omitempty"`
	Imphash          string `json:"imphash,omitempty"`
	Company          string `json:"company,omitempty"`
	Description      string `json:"description,omitempty"`
	FileVersion      string `json:"file_version,omitempty"`
	Product          string `json:"product,omitempty"`
}

// CodeSignature is the ECS "code_signature" object.
type CodeSignature struct {
	Status  string `json:"status,omitempty"`
	Signed  *bool  `json:"signed,omitempty"`
	Trusted *bool  `json:"trusted,omitempty"`
}

// UserAgent is the ECS "user_agent" object.
type UserAgent struct {
	Original string `json:"original,omitempty"`
}

func boolean(f func(ev *Event, mk bool) **bool) field {
	return field{kindBool, func(ev *Event, mk bool) any { return f(ev, mk) }}
}

func toBool(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		return strconv.ParseBool(v)
	}
	return false, fmt.Errorf("cannot use %T as a boolean", v)
}

func timeField(f func(ev *Event) **time.Time) field {
	return field{kindTime, func(ev *Event, mk bool) any {
		p := f(ev)
		if *p == nil {
			if !mk {
				return nil
			}
			*p = new(time.Time)
		}
		return *p
	}}
}

func init() {
	m := fields
	add := func(prefix string, sub map[string]field) {
		for k, f := range sub {
			m[prefix+"."+k] = f
		}
	}
	add("event", sub(func(ev *Event, _ bool) *Meta { return &ev.Event }, map[string]func(*Meta) *string{
		"id": func(t *Meta) *string { return &t.ID }, "timezone": func(t *Meta) *string { return &t.Timezone },
		"reason": func(t *Meta) *string { return &t.Reason }, "reference": func(t *Meta) *string { return &t.Reference },
	}))
	m["event.sequence"] = num64(func(ev *Event, _ bool) *int64 { return &ev.Event.Sequence })
	m["event.duration"] = num64(func(ev *Event, _ bool) *int64 { return &ev.Event.Duration })
	m["event.start"] = timeField(func(ev *Event) **time.Time { return &ev.Event.Start })
	m["event.end"] = timeField(func(ev *Event) **time.Time { return &ev.Event.End })
	add("client", endpoint(func(ev *Event) **Endpoint { return &ev.Client }))
	add("server", endpoint(func(ev *Event) **Endpoint { return &ev.Server }))
	user := func(ev *Event, mk bool) *User { return mkOr(&ev.User, mk) }
	groupStrings := map[string]func(*Group) *string{"id": func(t *Group) *string { return &t.ID }, "name": func(t *Group) *string { return &t.Name }}
	for name, sel := range map[string]func(*User) **UserRef{
		"audit": func(u *User) **UserRef { return &u.Audit }, "effective": func(u *User) **UserRef { return &u.Effective },
		"filesystem": func(u *User) **UserRef { return &u.Filesystem }, "saved": func(u *User) **UserRef { return &u.Saved },
	} {
		ref := func(ev *Event, mk bool) *UserRef {
			if u := user(ev, mk); u != nil {
				return mkOr(sel(u), mk)
			}
			return nil
		}
		add("user."+name, sub(ref, map[string]func(*UserRef) *string{"id": func(t *UserRef) *string { return &t.ID }, "name": func(t *UserRef) *string { return &t.Name }}))
		add("user."+name+".group", sub(func(ev *Event, mk bool) *Group {
			if r := ref(ev, mk); r != nil {
				return mkOr(&r.Group, mk)
			}
			return nil
		}, groupStrings))
	}
	add("user.group", sub(func(ev *Event, mk bool) *Group {
		if u := user(ev, mk); u != nil {
			return mkOr(&u.Group, mk)
		}
		return nil
	}, groupStrings))
	add("group", sub(func(ev *Event, mk bool) *Group { return mkOr(&ev.Group, mk) }, groupStrings))
	add("host", sub(func(ev *Event, mk bool) *Host { return mkOr(&ev.Host, mk) }, map[string]func(*Host) *string{
		"architecture": func(t *Host) *string { return &t.Architecture },
	}))
	add("process", sub(func(ev *Event, mk bool) *Process { return mkOr(&ev.Process, mk) }, map[string]func(*Process) *string{
		"working_directory": func(t *Process) *string { return &t.WorkingDirectory }, "title": func(t *Process) *string { return &t.Title },
	}))
	m["process.exit_code"] = num(func(ev *Event, mk bool) *int {
		if p := mkOr(&ev.Process, mk); p != nil {
			return &p.ExitCode
		}
		return nil
	})
	add("file", sub(func(ev *Event, mk bool) *File { return mkOr(&ev.File, mk) }, map[string]func(*File) *string{
		"mime_type": func(t *File) *string { return &t.MimeType },
	}))
	m["file.size"] = num64(func(ev *Event, mk bool) *int64 {
		if f := mkOr(&ev.File, mk); f != nil {
			return &f.Size
		}
		return nil
	})
	add("url", sub(func(ev *Event, mk bool) *URL { return mkOr(&ev.URL, mk) }, map[string]func(*URL) *string{
		"query": func(t *URL) *string { return &t.Query }, "scheme": func(t *URL) *string { return &t.Scheme },
		"full": func(t *URL) *string { return &t.Full }, "username": func(t *URL) *string { return &t.Username },
	}))
	dns := func(ev *Event, mk bool) *DNS { return mkOr(&ev.DNS, mk) }
	add("dns", sub(dns, map[string]func(*DNS) *string{
		"id": func(t *DNS) *string { return &t.ID }, "type": func(t *DNS) *string { return &t.Type },
		"question.class": func(t *DNS) *string { return &t.Question.Class },
	}))
	m["dns.header_flags"] = strs(func(ev *Event, mk bool) *[]string {
		if d := dns(ev, mk); d != nil {
			return &d.HeaderFlags
		}
		return nil
	})
	m["dns.resolved_ip"] = strs(func(ev *Event, mk bool) *[]string {
		if d := dns(ev, mk); d != nil {
			return &d.ResolvedIP
		}
		return nil
	})
	add("rule", sub(func(ev *Event, mk bool) *Rule { return mkOr(&ev.Rule, mk) }, map[string]func(*Rule) *string{
		"description": func(t *Rule) *string { return &t.Description }, "ruleset": func(t *Rule) *string { return &t.Ruleset },
	}))
	add("observer", sub(func(ev *Event, mk bool) *Observer { return mkOr(&ev.Observer, mk) }, map[string]func(*Observer) *string{
		"name": func(t *Observer) *string { return &t.Name }, "serial_number": func(t *Observer) *string { return &t.SerialNumber },
	}))
	httpOf := func(ev *Event, mk bool) *HTTP { return mkOr(&ev.HTTP, mk) }
	add("http", sub(httpOf, map[string]func(*HTTP) *string{"version": func(t *HTTP) *string { return &t.Version }}))
	req := func(ev *Event, mk bool) *HTTPRequest {
		if h := httpOf(ev, mk); h != nil {
			return mkOr(&h.Request, mk)
		}
		return nil
	}
	resp := func(ev *Event, mk bool) *HTTPResponse {
		if h := httpOf(ev, mk); h != nil {
			return mkOr(&h.Response, mk)
		}
		return nil
	}
	add("http.request", sub(req, map[string]func(*HTTPRequest) *string{"method": func(t *HTTPRequest) *string { return &t.Method }}))
	m["http.request.body.bytes"] = num64(func(ev *Event, mk bool) *int64 {
		if r := req(ev, mk); r != nil {
			if b := mkOr(&r.Body, mk); b != nil {
				return &b.Bytes
			}
		}
		return nil
	})
	m["http.response.status_code"] = num(func(ev *Event, mk bool) *int {
		if r := resp(ev, mk); r != nil {
			return &r.StatusCode
		}
		return nil
	})
	m["http.response.body.bytes"] = num64(func(ev *Event, mk bool) *int64 {
		if r := resp(ev, mk); r != nil {
			if b := mkOr(&r.Body, mk); b != nil {
				return &b.Bytes
			}
		}
		return nil
	})
	tlsOf := func(ev *Event, mk bool) *TLS { return mkOr(&ev.TLS, mk) }
	add("tls", sub(tlsOf, map[string]func(*TLS) *string{
		"version": func(t *TLS) *string { return &t.Version }, "version_protocol": func(t *TLS) *string { return &t.VersionProtocol },
		"cipher": func(t *TLS) *string { return &t.Cipher }, "curve": func(t *TLS) *string { return &t.Curve },
	}))
	for name, sel := range map[string]func(*TLS) **bool{
		"established": func(t *TLS) **bool { return &t.Established }, "resumed": func(t *TLS) **bool { return &t.Resumed },
	} {
		m["tls."+name] = boolean(func(ev *Event, mk bool) **bool {
			if t := tlsOf(ev, mk); t != nil {
				return sel(t)
			}
			return nil
		})
	}
	add("tls.client", sub(func(ev *Event, mk bool) *TLSClient {
		if t := tlsOf(ev, mk); t != nil {
			return mkOr(&t.Client, mk)
		}
		return nil
	}, map[string]func(*TLSClient) *string{
		"server_name": func(t *TLSClient) *string { return &t.ServerName }, "ja3": func(t *TLSClient) *string { return &t.JA3 },
	}))
	server := func(ev *Event, mk bool) *TLSServer {
		if t := tlsOf(ev, mk); t != nil {
			return mkOr(&t.Server, mk)
		}
		return nil
	}
	add("tls.server", sub(server, map[string]func(*TLSServer) *string{
		"ja3s": func(t *TLSServer) *string { return &t.JA3S }, "issuer": func(t *TLSServer) *string { return &t.Issuer },
		"subject": func(t *TLSServer) *string { return &t.Subject }, "not_before": func(t *TLSServer) *string { return &t.NotBefore },
		"not_after": func(t *TLSServer) *string { return &t.NotAfter },
	}))
	add("tls.server.hash", sub(func(ev *Event, mk bool) *Hash {
		if s := server(ev, mk); s != nil {
			return mkOr(&s.Hash, mk)
		}
		return nil
	}, map[string]func(*Hash) *string{
		"md5": func(t *Hash) *string { return &t.MD5 }, "sha1": func(t *Hash) *string { return &t.SHA1 }, "sha256": func(t *Hash) *string { return &t.SHA256 },
	}))
	x509 := func(ev *Event, mk bool) *X509 {
		if s := server(ev, mk); s != nil {
			return mkOr(&s.X509, mk)
		}
		return nil
	}
	add("tls.server.x509", sub(x509, map[string]func(*X509) *string{
		"serial_number": func(t *X509) *string { return &t.SerialNumber }, "not_before": func(t *X509) *string { return &t.NotBefore },
		"not_after": func(t *X509) *string { return &t.NotAfter },
	}))
	nameStrings := map[string]func(*X509Name) *string{
		"common_name": func(t *X509Name) *string { return &t.CommonName }, "country": func(t *X509Name) *string { return &t.Country },
		"organization":        func(t *X509Name) *string { return &t.Organization },
		"organizational_unit": func(t *X509Name) *string { return &t.OrganizationalUnit },
		"locality":            func(t *X509Name) *string { return &t.Locality },
		"state_or_province":   func(t *X509Name) *string { return &t.StateOrProvince },
	}
	for name, sel := range map[string]func(*X509) **X509Name{
		"subject": func(x *X509) **X509Name { return &x.Subject }, "issuer": func(x *X509) **X509Name { return &x.Issuer },
	} {
		add("tls.server.x509."+name, sub(func(ev *Event, mk bool) *X509Name {
			if x := x509(ev, mk); x != nil {
				return mkOr(sel(x), mk)
			}
			return nil
		}, nameStrings))
	}
	peStrings := map[string]func(*PE) *string{
		"original_file_name": func(t *PE) *string { return &t.OriginalFileName }, "imphash": func(t *PE) *string { return &t.Imphash },
		"company": func(t *PE) *string { return &t.Company }, "description": func(t *PE) *string { return &t.Description },
		"file_version": func(t *PE) *string { return &t.FileVersion }, "product": func(t *PE) *string { return &t.Product },
	}
	hashStrings := map[string]func(*Hash) *string{
		"md5": func(t *Hash) *string { return &t.MD5 }, "sha1": func(t *Hash) *string { return &t.SHA1 }, "sha256": func(t *Hash) *string { return &t.SHA256 },
	}
	signature := func(prefix string, get func(ev *Event, mk bool) **CodeSignature) {
		cs := func(ev *Event, mk bool) *CodeSignature {
			if p := get(ev, mk); p != nil {
				return mkOr(p, mk)
			}
			return nil
		}
		add(prefix, sub(cs, map[string]func(*CodeSignature) *string{"status": func(t *CodeSignature) *string { return &t.Status }}))
		for name, sel := range map[string]func(*CodeSignature) **bool{
			"signed": func(t *CodeSignature) **bool { return &t.Signed }, "trusted": func(t *CodeSignature) **bool { return &t.Trusted },
		} {
			m[prefix+"."+name] = boolean(func(ev *Event, mk bool) **bool {
				if c := cs(ev, mk); c != nil {
					return sel(c)
				}
				return nil
			})
		}
	}
	file := func(ev *Event, mk bool) *File { return mkOr(&ev.File, mk) }
	add("file", sub(file, map[string]func(*File) *string{
		"directory": func(t *File) *string { return &t.Directory }, "extension": func(t *File) *string { return &t.Extension },
	}))
	add("file.pe", sub(func(ev *Event, mk bool) *PE {
		if f := file(ev, mk); f != nil {
			return mkOr(&f.PE, mk)
		}
		return nil
	}, peStrings))
	signature("file.code_signature", func(ev *Event, mk bool) **CodeSignature {
		if f := file(ev, mk); f != nil {
			return &f.CodeSignature
		}
		return nil
	})
	dll := func(ev *Event, mk bool) *DLL { return mkOr(&ev.DLL, mk) }
	add("dll", sub(dll, map[string]func(*DLL) *string{"name": func(t *DLL) *string { return &t.Name }, "path": func(t *DLL) *string { return &t.Path }}))
	add("dll.hash", sub(func(ev *Event, mk bool) *Hash {
		if d := dll(ev, mk); d != nil {
			return mkOr(&d.Hash, mk)
		}
		return nil
	}, hashStrings))
	add("dll.pe", sub(func(ev *Event, mk bool) *PE {
		if d := dll(ev, mk); d != nil {
			return mkOr(&d.PE, mk)
		}
		return nil
	}, peStrings))
	signature("dll.code_signature", func(ev *Event, mk bool) **CodeSignature {
		if d := dll(ev, mk); d != nil {
			return &d.CodeSignature
		}
		return nil
	})
	add("process", sub(func(ev *Event, mk bool) *Process { return mkOr(&ev.Process, mk) }, map[string]func(*Process) *string{
		"entity_id": func(t *Process) *string { return &t.EntityID },
	}))
	add("user_agent", sub(func(ev *Event, mk bool) *UserAgent { return mkOr(&ev.UserAgent, mk) }, map[string]func(*UserAgent) *string{
		"original": func(t *UserAgent) *string { return &t.Original },
	}))
}
