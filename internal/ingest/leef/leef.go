// Package leef parses IBM QRadar Log Event Extended Format records:
//
//	LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
//	LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value<D>key=value...
//
// LEEF 1.0 separates attributes with a tab; devices that use "|" or "^"
// instead (PAN-OS and others) are detected (detect). LEEF 2.0 names its delimiter in
// the sixth header field: one character, or its code in hex ("x09",
// "0x09", "^" for the caret itself); an empty field means a tab. A header
// field may escape a pipe as "\|". A value runs to the next delimiter; a
// backslash before the delimiter keeps it in the value. devTime is
// interpreted with devTimeFormat (Java SimpleDateFormat) by DevTime.
//
// Parse is pure and keeps no reference to its input.
package leef

import (
	"strconv"
	"strings"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/kv"
)

// Record is a parsed LEEF record.
type Record struct {
	Version   string
	Vendor    string
	Product   string
	ProdVer   string
	EventID   string
	Delimiter byte
	Attrs     kv.Pairs
}

// Get returns an attribute.
func (r *Record) Get(key string) (string, bool) { return r.Attrs.Get(key) }

// Index returns where a LEEF record starts in s (at the start or after a
// space, as inside syslog), or -1.
func Index(s string) int { return ingest.IndexAtWord(s, "LEEF:") }

func syntax(off int, msg string) *ingest.Error {
	return &ingest.Error{Reason: ingest.ReasonSyntax, Offset: off, Err: ingest.Detail(msg)}
}

// Parse parses a record that starts with "LEEF:".
func Parse(s string) (Record, error) {
	var r Record
	if !strings.HasPrefix(s, "LEEF:") {
		return r, syntax(0, "no LEEF: prefix")
	}
	p := 5
	fields := make([]string, 0, 6)
	for len(fields) < 5 {
		v, next, ok := headerField(s, p)
		if !ok {
			return r, &ingest.Error{Reason: ingest.ReasonTruncated, Offset: len(s), Err: ingest.Detail("LEEF header has fewer than 5 fields")}
		}
		fields, p = append(fields, v), next
	}
	r.Version, r.Vendor, r.Product, r.ProdVer, r.EventID = fields[0], fields[1], fields[2], fields[3], fields[4]
	r.Delimiter = detect(s[p:])
	switch r.Version {
	case "1.0", "1":
	case "2.0", "2":
		// The delimiter field; tolerate a 2.0 record that omits it.
		if i := strings.IndexByte(s[p:], '|'); i >= 0 && i <= 4 && !strings.Contains(s[p:p+i], "=") {
			d, err := delimiter(s[p : p+i])
			if err != nil {
				return r, syntax(p, err.Error())
			}
			r.Delimiter, p = d, p+i+1
		}
	default:
		return r, syntax(5, "unknown LEEF version "+strconv.Quote(r.Version))
	}
	attrs, err := parseAttrs(s[p:], r.Delimiter)
	if err != nil {
		return r, err
	}
	r.Attrs = attrs
	return r, nil
}

// detect finds the attribute delimiter of a record that does not declare
// one (LEEF 1.0, or 2.0 without the field): a tab, as the specification
// says, when a tab precedes a key=; else "|" or "^", whichever first
// precedes a key= (PAN-OS and other devices use them instead of a tab);
// else a tab.
func detect(attrs string) byte {
	first := byte(0)
	for i := 0; i+1 < len(attrs); i++ {
		c := attrs[i]
		if c != '\t' && c != '|' && c != '^' {
			continue
		}
		if i > 0 && attrs[i-1] == '\\' {
			continue // an escaped delimiter inside a value
		}
		if !keyFollows(attrs[i+1:]) {
			continue
		}
		if c == '\t' {
			return c
		}
		if first == 0 {
			first = c
		}
	}
	if first != 0 {
		return first
	}
	return '\t'
}

// keyFollows reports whether s starts with an attribute key and "=".
func keyFollows(s string) bool {
	for i := 0; i < len(s) && i < 64; i++ {
		c := s[i]
		switch {
		case c == '=':
			return i > 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return false
}

// headerField reads a header field from p up to an unescaped pipe ("\|"
// escapes a pipe; other backslashes are kept).
func headerField(s string, p int) (string, int, bool) { return ingest.CutField(s, p, '|', "") }

// delimiter decodes the LEEF 2.0 delimiter field.
func delimiter(f string) (byte, error) {
	switch {
	case f == "":
		return '\t', nil
	case len(f) == 1 && f[0] != 0:
		return f[0], nil
	case len(f) == 1:
		return 0, ingest.Detail("invalid LEEF 2.0 delimiter NUL")
	case (strings.HasPrefix(f, "x") || strings.HasPrefix(f, "X")) && len(f) <= 3:
		f = f[1:]
	case strings.HasPrefix(f, "0x") || strings.HasPrefix(f, "0X"):
		f = f[2:]
	default:
		return 0, ingest.Detail("invalid LEEF 2.0 delimiter " + strconv.Quote(f))
	}
	n, err := strconv.ParseUint(f, 16, 8)
	if err != nil || n == 0 {
		return 0, ingest.Detail("invalid LEEF 2.0 delimiter code " + strconv.Quote(f))
	}
	return byte(n), nil
}

func parseAttrs(s string, d byte) (kv.Pairs, error) {
	var out kv.Pairs
	for len(s) > 0 {
		// One attribute up to the next unescaped delimiter.
		end, esc := -1, false
		for i := 0; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) && s[i+1] == d {
				esc = true
				i++
				continue
			}
			if s[i] == d {
				end = i
				break
			}
		}
		item := s
		if end >= 0 {
			item, s = s[:end], s[end+1:]
		} else {
			s = ""
		}
		if esc {
			item = strings.ReplaceAll(item, "\\"+string(d), string(d))
		}
		item = strings.TrimRight(item, "\r\n")
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return out, syntax(0, "LEEF attribute "+strconv.Quote(truncate(item))+" is not key=value")
		}
		out = append(out, kv.Pair{Key: k, Value: v})
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
