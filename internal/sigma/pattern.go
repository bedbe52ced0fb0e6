package sigma

import (
	"strings"
	"unicode/utf8"
)

// Sigma string values: '*' matches any sequence, '?' one character, and a
// backslash escapes '*', '?' and itself (a backslash before anything else
// is literal). Matching is case-insensitive unless the value is cased.

type tokKind uint8

const (
	tLit  tokKind = iota // literal text
	tStar                // any sequence
	tOne                 // one character
	tDash                // windash: one of - / – — ―
)

type tok struct {
	kind tokKind
	lit  string
}

// dashes are the characters windash treats as one.
var dashes = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// parseWildcards splits a Sigma string into tokens.
func parseWildcards(s string, windash bool) []tok {
	var out []tok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, tok{kind: tLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*':
			flush()
			if len(out) == 0 || out[len(out)-1].kind != tStar {
				out = append(out, tok{kind: tStar})
			}
		case c == '?':
			flush()
			out = append(out, tok{kind: tOne})
		case windash && (c == '-' || c == '/'):
			flush()
			out = append(out, tok{kind: tDash})
		case windash && strings.HasPrefix(s[i:], "\u2013") || windash && strings.HasPrefix(s[i:], "\u2014") || windash && strings.HasPrefix(s[i:], "\u2015"):
			flush()
			out = append(out, tok{kind: tDash})
			i += 2
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// pattern is a compiled string match.
type pattern struct {
	kind  patKind
	lit   string // exact/prefix/suffix/contains text (lowered unless cased)
	segs  [][]tok
	start bool // glob: the first segment is anchored at the start
	end   bool // glob: the last segment is anchored at the end
	cased bool
	// required is a literal every match contains (lowered unless cased),
	// for prefilters.
	required string
}

type patKind uint8

const (
	pExact patKind = iota
	pPrefix
	pSuffix
	pContains
	pGlob
	pAny // "*"
)

func newPattern(toks []tok, cased bool) *pattern {
	p := &pattern{cased: cased}
	if !cased {
		for i := range toks {
			toks[i].lit = strings.ToLower(toks[i].lit)
		}
	}
	for _, t := range toks {
		if t.kind == tLit && len(t.lit) > len(p.required) {
			p.required = t.lit
		}
	}
	n := len(toks)
	isLit := func(i int) bool { return i >= 0 && i < n && toks[i].kind == tLit }
	isStar := func(i int) bool { return i >= 0 && i < n && toks[i].kind == tStar }
	switch {
	case n == 0:
		p.kind, p.lit = pExact, ""
		return p
	case n == 1 && isLit(0):
		p.kind, p.lit = pExact, toks[0].lit
		return p
	case n == 1 && isStar(0):
		p.kind = pAny
		return p
	case n == 2 && isLit(0) && isStar(1):
		p.kind, p.lit = pPrefix, toks[0].lit
		return p
	case n == 2 && isStar(0) && isLit(1):
		p.kind, p.lit = pSuffix, toks[1].lit
		return p
	case n == 3 && isStar(0) && isLit(1) && isStar(2):
		p.kind, p.lit = pContains, toks[1].lit
		return p
	}
	p.kind = pGlob
	p.start = !isStar(0)
	p.end = !isStar(n - 1)
	var seg []tok
	for _, t := range toks {
		if t.kind == tStar {
			p.segs = append(p.segs, seg)
			seg = nil
			continue
		}
		seg = append(seg, t)
	}
	p.segs = append(p.segs, seg)
	return p
}

// match tests s, which the caller has lowered unless the pattern is cased.
func (p *pattern) match(s string) bool {
	switch p.kind {
	case pExact:
		return s == p.lit
	case pPrefix:
		return strings.HasPrefix(s, p.lit)
	case pSuffix:
		return strings.HasSuffix(s, p.lit)
	case pContains:
		return strings.Contains(s, p.lit)
	case pAny:
		return true
	}
	return p.glob(s)
}

// glob matches star-separated segments: the first anchored at the start
// (unless the pattern starts with '*'), the last at the end (unless it ends
// with '*'), the middle ones leftmost, which is optimal for such patterns.
func (p *pattern) glob(s string) bool {
	segs := p.segs
	pos := 0
	if p.start {
		n, ok := segAt(segs[0], s, 0)
		if !ok {
			return false
		}
		if len(segs) == 1 {
			return !p.end || n == len(s)
		}
		pos, segs = n, segs[1:]
	} else {
		segs = segs[1:] // the empty segment before the leading star
	}
	last := len(segs) - 1
	for i, seg := range segs {
		if i == last && p.end {
			// Anchored at the end: the only place it can be.
			return segEndsAt(seg, s, pos)
		}
		if len(seg) == 0 {
			continue
		}
		found := false
		for start := pos; start <= len(s); {
			if n, ok := segAt(seg, s, start); ok {
				pos, found = n, true
				break
			}
			if seg[0].kind == tLit {
				if start+1 > len(s) {
					break
				}
				j := strings.Index(s[start+1:], seg[0].lit)
				if j < 0 {
					break
				}
				start += 1 + j
				continue
			}
			if start == len(s) {
				break
			}
			_, w := utf8.DecodeRuneInString(s[start:])
			start += w
		}
		if !found {
			return false
		}
	}
	return true
}

// segAt matches a segment at s[i:] and returns the end.
func segAt(seg []tok, s string, i int) (int, bool) {
	for _, t := range seg {
		switch t.kind {
		case tLit:
			if !strings.HasPrefix(s[i:], t.lit) {
				return 0, false
			}
			i += len(t.lit)
		case tOne:
			if i >= len(s) {
				return 0, false
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		case tDash:
			ok := false
			for _, d := range dashes {
				if strings.HasPrefix(s[i:], d) {
					i += len(d)
					ok = true
					break
				}
			}
			if !ok {
				return 0, false
			}
		}
	}
	return i, true
}

// segEndsAt reports whether the segment matches a suffix of s starting at
// or after from.
func segEndsAt(seg []tok, s string, from int) bool {
	// Segments are short; try each rune boundary from the end backwards.
	for start := len(s); start >= from; start-- {
		if start < len(s) && !utf8.RuneStart(s[start]) {
			continue
		}
		if n, ok := segAt(seg, s, start); ok && n == len(s) {
			return true
		}
	}
	return false
}
