package pipeline

import "strings"

// Some patterns of the shipped pipelines run as string code, which finds
// the same submatches as the regexp (FuzzRegexCode checks it) in a
// fraction of the time and without allocating. A pattern not in the table
// runs as a regexp.

// regexCode names the code of one pattern; 0 is none.
type regexCode uint8

const (
	codeNone regexCode = iota
	// codeURLPath splits a URL's path from its query (FortiGate, Zeek).
	codeURLPath
	// codeURL does it after an optional scheme and authority (Suricata).
	codeURL
	// codeUserDomain splits DOMAIN\user (Windows).
	codeUserDomain
	// codeTLSVersion reads "TLS 1.2", "TLSv1.3", "SSLv3" (Suricata).
	codeTLSVersion
	// codeTLSVersionZeek reads "TLSv12", "DTLSv10" (Zeek).
	codeTLSVersionZeek
)

var regexCodes = map[string]regexCode{
	`^(?P<_url_path>[^?#]*)(?:\?(?P<_url_query>[^#]*))?`:                                     codeURLPath,
	`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*)?(?P<_url_path>[^?#]*)(?:\?(?P<_url_query>[^#]*))?`: codeURL,
	`^(?P<_user_domain>[^\\]+)\\(?P<_user_name>.+)$`:                                         codeUserDomain,
	`^(?P<_tls_proto>TLS|SSL)v?\s*(?P<_tls_ver>\d(?:\.\d)?)$`:                                codeTLSVersion,
	`^(?P<_tls_proto>TLS|SSL|DTLS)v(?P<_tls_major>\d)(?P<_tls_minor>\d)$`:                    codeTLSVersionZeek,
}

// submatch is FindStringSubmatch, appending to buf (which it may return)
// when the pattern runs as code.
func (f *fastRegexp) submatch(s string, buf []string) []string {
	var ok bool
	switch f.code {
	case codeNone:
		return f.FindStringSubmatch(s)
	case codeURLPath:
		buf, ok = urlPath(s, buf, 0), true
	case codeURL:
		buf, ok = urlPath(s, buf, urlAuthority(s)), true
	case codeUserDomain:
		buf, ok = userDomain(s, buf)
	case codeTLSVersion:
		buf, ok = tlsVersion(s, buf)
	case codeTLSVersionZeek:
		buf, ok = tlsVersionZeek(s, buf)
	}
	if !ok {
		return nil
	}
	return buf
}

// urlAuthority returns the length of s's "scheme://authority" prefix
// ([a-zA-Z][a-zA-Z0-9+.-]*://[^/]*), 0 without one.
func urlAuthority(s string) int {
	if s == "" || !isLetter(s[0]) {
		return 0
	}
	i := 1
	for i < len(s) && (isLetter(s[i]) || isDigit(s[i]) || s[i] == '+' || s[i] == '.' || s[i] == '-') {
		i++
	}
	if !strings.HasPrefix(s[i:], "://") {
		return 0
	}
	i += 3
	if j := strings.IndexByte(s[i:], '/'); j >= 0 {
		return i + j
	}
	return len(s)
}

// urlPath appends the whole match, the path ([^?#]*) and the query
// (\?([^#]*), "" without one) of s from start.
func urlPath(s string, buf []string, start int) []string {
	rest := s[start:]
	end := len(rest)
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		end = i
	}
	path, query, whole := rest[:end], "", start+end
	if end < len(rest) && rest[end] == '?' {
		q := rest[end+1:]
		if i := strings.IndexByte(q, '#'); i >= 0 {
			q = q[:i]
		}
		query, whole = q, start+end+1+len(q)
	}
	return append(buf, s[:whole], path, query)
}

// userDomain matches ^([^\\]+)\\(.+)$.
func userDomain(s string, buf []string) ([]string, bool) {
	i := strings.IndexByte(s, '\\')
	if i <= 0 || i+1 == len(s) || strings.IndexByte(s[i+1:], '\n') >= 0 {
		return nil, false
	}
	return append(buf, s, s[:i], s[i+1:]), true
}

// tlsVersion matches ^(TLS|SSL)v?\s*(\d(?:\.\d)?)$.
func tlsVersion(s string, buf []string) ([]string, bool) {
	if len(s) < 3 || (s[:3] != "TLS" && s[:3] != "SSL") {
		return nil, false
	}
	i := 3
	if i < len(s) && s[i] == 'v' {
		i++
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\f' || s[i] == '\r') {
		i++
	}
	ver := s[i:]
	switch {
	case len(ver) == 1 && isDigit(ver[0]):
	case len(ver) == 3 && isDigit(ver[0]) && ver[1] == '.' && isDigit(ver[2]):
	default:
		return nil, false
	}
	return append(buf, s, s[:3], ver), true
}

// tlsVersionZeek matches ^(TLS|SSL|DTLS)v(\d)(\d)$.
func tlsVersionZeek(s string, buf []string) ([]string, bool) {
	n := len(s) - 3
	if n < 3 {
		return nil, false
	}
	proto := s[:n]
	if (proto != "TLS" && proto != "SSL" && proto != "DTLS") || s[n] != 'v' || !isDigit(s[n+1]) || !isDigit(s[n+2]) {
		return nil, false
	}
	return append(buf, s, proto, s[n+1:n+2], s[n+2:]), true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
