// Package cef parses ArcSight Common Event Format records as the
// "Implementing ArcSight CEF" guide defines them:
//
//	CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
//
// In the header, "\|" and "\\" escape a pipe and a backslash. The extension
// is key=value pairs separated by spaces; a value runs until the space
// before the next key, and "\=", "\\", "\n" and "\r" escape an equals sign,
// a backslash, a newline and a carriage return. Custom fields (cs1 with
// cs1Label, cn1 with cn1Label, ...) are also returned under their label.
//
// Parse is pure and keeps no reference to its input.
package cef

import (
	"strings"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/kv"
)

// Record is a parsed CEF record.
type Record struct {
	Version       string
	DeviceVendor  string
	DeviceProduct string
	DeviceVersion string
	SignatureID   string
	Name          string
	// Severity is as sent: 0-10 or Unknown, Low, Medium, High, Very-High.
	Severity  string
	Extension kv.Pairs
}

// SeverityNumber maps the severity to 0..10: a number as sent, a name to
// the lowest number of its range in the CEF specification (Low 0-3 is 0,
// Medium 4, High 7, Very-High 9), as Elastic's CEF module does; -1 for
// Unknown or anything else.
func (r *Record) SeverityNumber() int {
	s := r.Severity
	if n := 0; len(s) > 0 && len(s) <= 2 {
		ok := true
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				ok = false
				break
			}
			n = n*10 + int(s[i]-'0')
		}
		if ok && n <= 10 {
			return n
		}
	}
	switch strings.ToLower(s) {
	case "low":
		return 0
	case "medium":
		return 4
	case "high":
		return 7
	case "very-high", "very high":
		return 9
	}
	return -1
}

// Index returns the position of "CEF:" in s when it starts a CEF record
// (at the start or after a space, as inside syslog), or -1.
func Index(s string) int { return ingest.IndexAtWord(s, "CEF:") }

// Parse parses a record that starts with "CEF:".
func Parse(s string) (Record, error) {
	var r Record
	if !strings.HasPrefix(s, "CEF:") {
		return r, ingest.Errorf(ingest.ReasonSyntax, "no CEF: prefix")
	}
	var hdr [7]string
	p := 4
	for i := 0; i < 7; i++ {
		v, next, err := headerField(s, p)
		if err != nil {
			return r, err
		}
		hdr[i], p = v, next
	}
	r.Version, r.DeviceVendor, r.DeviceProduct, r.DeviceVersion = hdr[0], hdr[1], hdr[2], hdr[3]
	r.SignatureID, r.Name, r.Severity = hdr[4], hdr[5], hdr[6]
	if r.Version == "" {
		return r, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: 4, Err: ingest.Detail("empty CEF version")}
	}
	ext, err := parseExtension(s[p:])
	if err != nil {
		return r, err
	}
	r.Extension = ext
	return r, nil
}

// headerField reads a header field from p up to an unescaped pipe ("\|"
// and "\\" escape a pipe and a backslash).
func headerField(s string, p int) (string, int, error) {
	if v, next, ok := ingest.CutField(s, p, '|', `\`); ok {
		return v, next, nil
	}
	return "", 0, &ingest.Error{Reason: ingest.ReasonTruncated, Offset: len(s), Err: ingest.Detail("CEF header has fewer than 7 fields")}
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
}

// keyAt reports whether a key=... starts at i and returns the '=' index.
func keyAt(s string, i int) int {
	j := i
	for j < len(s) && isKeyChar(s[j]) {
		j++
	}
	if j > i && j < len(s) && s[j] == '=' {
		return j
	}
	return -1
}

func parseExtension(s string) (kv.Pairs, error) {
	var out kv.Pairs
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) {
		return nil, nil
	}
	eq := keyAt(s, i)
	if eq < 0 {
		return nil, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: i, Err: ingest.Detail("CEF extension does not start with key=")}
	}
	for eq >= 0 {
		key := s[i:eq]
		// The value runs to the space before the next unescaped "key=".
		j := eq + 1
		next := -1
		for k := j; k < len(s); k++ {
			if s[k] == '\\' {
				k++
				continue
			}
			if s[k] == ' ' {
				if e := keyAt(s, k+1); e >= 0 {
					next = k
					break
				}
			}
		}
		end := len(s)
		if next >= 0 {
			end = next
		}
		out = append(out, kv.Pair{Key: key, Value: unescape(strings.TrimRight(s[j:end], " "))})
		if next < 0 {
			break
		}
		i = next + 1
		eq = keyAt(s, i)
	}
	// Labels of custom fields: cs1Label=Foo makes Foo=<cs1>.
	for _, l := range out {
		if base, ok := strings.CutSuffix(l.Key, "Label"); ok && l.Value != "" {
			for _, f := range out {
				if f.Key == base {
					out = append(out, kv.Pair{Key: l.Value, Value: f.Value})
					break
				}
			}
		}
	}
	return out, nil
}

func unescape(v string) string {
	if strings.IndexByte(v, '\\') < 0 {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			switch v[i+1] {
			case '=', '\\':
				b = append(b, v[i+1])
				i++
				continue
			case 'n':
				b = append(b, '\n')
				i++
				continue
			case 'r':
				b = append(b, '\r')
				i++
				continue
			}
		}
		b = append(b, v[i])
	}
	return string(b)
}
