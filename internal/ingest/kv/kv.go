// Package kv splits key=value text as firewalls and many appliances send it
// (FortiGate, UserGate, Kerio, Check Point's log exporter, iptables):
//
//	date=2026-11-24 time=10:00:01 devname="FG-100F" srcip=10.0.0.5 action="deny" msg="a \"quoted\" value"
//
// Pairs are separated by a separator (default: whitespace), key and value by
// a delimiter (default "="). A value may be quoted with the quote character
// (default '"'); inside quotes the separator is literal and a backslash
// escapes the quote and itself. Text that is not part of a pair is skipped
// and counted, so a free-form prefix does not fail the record.
//
// Split is pure and keeps no reference to its input.
package kv

import (
	"strings"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// Options of a split.
type Options struct {
	// Separator between pairs; empty means any run of whitespace.
	Separator string
	// Delimiter between key and value; default "=".
	Delimiter string
	// Quote is the quoting character; default '"'. Set to -1 for none.
	Quote rune
}

// Pair is one key and value.
type Pair struct{ Key, Value string }

// Pairs are the pairs of a record in their order; a key may repeat. CEF
// extensions, LEEF attributes and audit fields are Pairs.
type Pairs []Pair

// Get returns the value of the first pair with the key.
func (ps Pairs) Get(key string) (string, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Split returns the pairs of s and how many stray tokens it skipped.
func Split(s string, o Options) (pairs Pairs, skipped int, err error) {
	if o.Delimiter == "" {
		o.Delimiter = "="
	}
	if o.Quote == 0 {
		o.Quote = '"'
	}
	// One allocation: a pair has a delimiter (a value may have some too).
	pairs = make(Pairs, 0, strings.Count(s, o.Delimiter))
	if o.Separator == "" && len(o.Delimiter) == 1 && o.Delimiter[0] != ' ' && o.Delimiter[0] != '\t' {
		return splitBlanks(s, o.Delimiter[0], o.Quote, pairs)
	}
	return splitAny(s, o, pairs)
}

// splitAny is Split for any options, appending to pairs.
func splitAny(s string, o Options, pairs Pairs) (_ Pairs, skipped int, err error) {
	i := 0
	for i < len(s) {
		// Skip separators.
		if o.Separator == "" {
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
		} else {
			for strings.HasPrefix(s[i:], o.Separator) {
				i += len(o.Separator)
			}
		}
		if i >= len(s) {
			break
		}
		d := strings.Index(s[i:], o.Delimiter)
		if d < 0 || sepBefore(s, i, i+d, o.Separator) {
			// A token without a delimiter: skip it.
			skipped++
			sepAt := nextSep(s, i, o.Separator)
			if sepAt < 0 {
				break
			}
			i = sepAt
			continue
		}
		key := strings.TrimSpace(s[i : i+d])
		if key == "" {
			return pairs, skipped, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: i, Err: ingest.Detail("empty key")}
		}
		j := i + d + len(o.Delimiter)
		var val string
		if o.Quote > 0 && j < len(s) && rune(s[j]) == o.Quote {
			v, end, ok := quoted(s, j, byte(o.Quote))
			if !ok {
				return pairs, skipped, &ingest.Error{Reason: ingest.ReasonTruncated, Offset: j, Err: ingest.Detail("unterminated quoted value of " + key)}
			}
			val, i = v, end
		} else {
			end := nextSep(s, j, o.Separator)
			if end < 0 {
				end = len(s)
			}
			val, i = s[j:end], end
		}
		pairs = append(pairs, Pair{Key: key, Value: val})
	}
	return pairs, skipped, nil
}

// splitBlanks is splitAny for the usual options, in one pass: pairs
// separated by blanks (spaces and tabs), a one-byte delimiter that is not
// one.
func splitBlanks(s string, delim byte, quote rune, pairs Pairs) (_ Pairs, skipped int, err error) {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		// The key: up to the delimiter, unless a blank comes first.
		k := i
		for k < len(s) && s[k] != delim && s[k] != ' ' && s[k] != '\t' {
			k++
		}
		if k == len(s) || s[k] != delim {
			// A token without a delimiter: skip it.
			skipped++
			if k == len(s) {
				break
			}
			i = k
			continue
		}
		key := s[i:k]
		if key == "" {
			// "=value"
		} else if c, e := key[0], key[len(key)-1]; c <= ' ' || c >= 0x80 || e <= ' ' || e >= 0x80 {
			// Other white space (a newline, U+00A0) at an end.
			key = strings.TrimSpace(key)
		}
		if key == "" {
			return pairs, skipped, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: i, Err: ingest.Detail("empty key")}
		}
		j := k + 1
		var val string
		if quote > 0 && j < len(s) && rune(s[j]) == quote {
			v, end, ok := quoted(s, j, byte(quote))
			if !ok {
				return pairs, skipped, &ingest.Error{Reason: ingest.ReasonTruncated, Offset: j, Err: ingest.Detail("unterminated quoted value of " + key)}
			}
			val, i = v, end
		} else {
			end := j
			for end < len(s) && s[end] != ' ' && s[end] != '\t' {
				end++
			}
			val, i = s[j:end], end
		}
		pairs = append(pairs, Pair{Key: key, Value: val})
	}
	return pairs, skipped, nil
}

// sepBefore reports whether a separator starts in s[from:to]
// (nextSep(s, from, sep) is in [0, to)).
func sepBefore(s string, from, to int, sep string) bool {
	if sep == "" {
		for k := from; k < to; k++ {
			if s[k] == ' ' || s[k] == '\t' {
				return true
			}
		}
		return false
	}
	end := min(len(s), to+len(sep)-1)
	return strings.Index(s[from:end], sep) >= 0
}

func nextSep(s string, from int, sep string) int {
	if sep == "" {
		for k := from; k < len(s); k++ {
			if s[k] == ' ' || s[k] == '\t' {
				return k
			}
		}
		return -1
	}
	k := strings.Index(s[from:], sep)
	if k < 0 {
		return -1
	}
	return from + k
}

// quoted reads a quoted value starting at s[j] == q.
func quoted(s string, j int, q byte) (string, int, bool) {
	if k := strings.IndexByte(s[j+1:], q); k >= 0 && q != '\\' && strings.IndexByte(s[j+1:j+1+k], '\\') < 0 {
		// No escape before the closing quote.
		return s[j+1 : j+1+k], j + 1 + k + 1, true
	}
	var b []byte
	start, escaped := j+1, false
	for k := j + 1; k < len(s); k++ {
		switch s[k] {
		case '\\':
			if k+1 < len(s) && (s[k+1] == q || s[k+1] == '\\') {
				b = append(append(b, s[start:k]...), s[k+1])
				k++
				start, escaped = k+1, true
			}
		case q:
			v := s[start:k]
			if escaped {
				v = string(append(b, v...))
			}
			return v, k + 1, true
		}
	}
	return "", 0, false
}
