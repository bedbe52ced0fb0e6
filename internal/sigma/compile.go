package sigma

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/regexlit"
)

// evalCtx is the state of one event's evaluation.
type evalCtx struct {
	ev Event
	// fmap maps rule field ids to event field ids on the current route
	// (nil: the identity); see fieldTable.mapTable.
	fmap []int32
	// fields are the event's fields by id, fetched and prepared once
	// (see value); names are their names, gen the event's stamp, touched
	// the slots set in this event.
	fields  []fieldSlot
	names   []string
	gen     uint32
	touched []int32
	cand    []int32 // prefilter candidates of the current route, by position
	// got are the prefilter clauses each rule of the route has satisfied,
	// touchedRules the rules with some (see routeIndex.candidates).
	got          []uint8
	touchedRules []int32
	// onRoutes are the routes the event may be on (see routeDispatch).
	onRoutes []int32
	// buf holds lower-cased copies of the event's strings (see lower).
	buf   []byte
	fired []int // rules matched so far
	// kw holds every string of the event, lowered once for all keyword
	// searches (whatever the route: keywords read no field names).
	kw      []fieldValue
	kwReady bool
	// slots hold the values being matched (see matchValue).
	slots [4]fieldValue
	depth int
}

// keywords returns every string value of the event, prepared.
func (c *evalCtx) keywords() []fieldValue {
	if !c.kwReady {
		c.ev.Strings(func(s string) bool {
			// v stays nil: boxing s would allocate, and a string's
			// matchers read s (see fieldValue.number).
			ls, ascii := c.lowerASCII(s)
			c.kw = append(c.kw, fieldValue{s: s, ls: ls, isStr: true, ok: true, ascii: ascii})
			return false
		})
		c.kwReady = true
	}
	return c.kw
}

// fieldValue is a field's value prepared for matchers.
type fieldValue struct {
	v     any    // the value; nil for keyword strings (then isStr, and s holds it)
	s     string // text, if scalar
	ls    string // lower-cased text
	isStr bool   // v is a string
	ok    bool   // s is set (scalar)
	ascii bool   // s is ASCII (when ok)
}

// number returns the value as a number, if it is one or a numeric string.
func (fv *fieldValue) number() (float64, bool) {
	if fv.isStr {
		return numericString(fv.s)
	}
	return number(fv.v)
}

func (c *evalCtx) prepare(v any) fieldValue {
	fv := fieldValue{v: v}
	fv.s, fv.ok = c.text(v)
	_, fv.isStr = v.(string)
	if fv.ok {
		fv.ls, fv.ascii = c.lowerASCII(fv.s)
	}
	return fv
}

// valueMatcher tests one scalar value of a field.
type valueMatcher interface {
	match(c *evalCtx, fv *fieldValue) bool
}

// search is a compiled search identifier.
type search interface {
	eval(c *evalCtx) bool
}

type andSearch []search

func (a andSearch) eval(c *evalCtx) bool {
	for _, s := range a {
		if !s.eval(c) {
			return false
		}
	}
	return true
}

type orSearch []search

func (o orSearch) eval(c *evalCtx) bool {
	for _, s := range o {
		if s.eval(c) {
			return true
		}
	}
	return false
}

// fieldSearch is one "Field|modifiers: values" entry.
type fieldSearch struct {
	field    string
	id       int32 // field's id
	matchers []valueMatcher
	all      bool
	// exists is set for the exists modifier.
	exists *bool
	// null is set when a value is null: the field must be absent or null.
	null bool
}

func (f *fieldSearch) eval(c *evalCtx) bool {
	id := c.mapID(f.id)
	v, ok := c.value(id)
	if f.exists != nil {
		return (ok && v != nil) == *f.exists
	}
	if !ok || v == nil {
		return f.null && (len(f.matchers) == 0 || !f.all)
	}
	switch v.(type) {
	case []any, []string:
		if f.all {
			for _, m := range f.matchers {
				if !c.matchList(v, m) {
					return false
				}
			}
			return len(f.matchers) > 0 || f.null
		}
		for _, m := range f.matchers {
			if c.matchList(v, m) {
				return true
			}
		}
		return false
	}
	fv := c.prepared(id)
	if f.all {
		for _, m := range f.matchers {
			if !m.match(c, fv) {
				return false
			}
		}
		return len(f.matchers) > 0 || f.null
	}
	for _, m := range f.matchers {
		if m.match(c, fv) {
			return true
		}
	}
	return false
}

// matchList matches any element of a list.
func (c *evalCtx) matchList(v any, m valueMatcher) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if c.matchValue(m, c.prepare(e)) {
				return true
			}
		}
	case []string:
		for _, e := range x {
			if c.matchValue(m, c.prepare(e)) {
				return true
			}
		}
	}
	return false
}

// matchValue calls m.match on fv held in the context's slots, not on the
// heap (a pointer passed to an interface method escapes); matchers that
// match other fields (fieldref) nest.
func (c *evalCtx) matchValue(m valueMatcher, fv fieldValue) bool {
	if c.depth == len(c.slots) {
		p := new(fieldValue)
		*p = fv
		return m.match(c, p)
	}
	slot := &c.slots[c.depth]
	*slot = fv
	c.depth++
	ok := m.match(c, slot)
	c.depth--
	return ok
}

// keywordSearch matches values anywhere in the event.
type keywordSearch struct {
	matchers []valueMatcher
	all      bool
}

func (k *keywordSearch) eval(c *evalCtx) bool {
	kw := c.keywords()
	one := func(m valueMatcher) bool {
		for i := range kw {
			if m.match(c, &kw[i]) {
				return true
			}
		}
		return false
	}
	if k.all {
		for _, m := range k.matchers {
			if !one(m) {
				return false
			}
		}
		return true
	}
	for _, m := range k.matchers {
		if one(m) {
			return true
		}
	}
	return false
}

// Matchers.

type strMatcher struct{ pats []*pattern } // any of the variants

func (m *strMatcher) match(_ *evalCtx, fv *fieldValue) bool {
	if !fv.ok {
		return false
	}
	for _, p := range m.pats {
		s := fv.ls
		if p.cased {
			s = fv.s
		}
		if p.match(s) {
			return true
		}
	}
	return false
}

type numMatcher struct {
	n    float64
	text string
}

func (m *numMatcher) match(_ *evalCtx, fv *fieldValue) bool {
	if f, ok := fv.number(); ok {
		return f == m.n
	}
	return fv.ok && fv.s == m.text
}

type boolMatcher bool

func (m boolMatcher) match(_ *evalCtx, fv *fieldValue) bool {
	if b, ok := fv.v.(bool); ok {
		return b == bool(m)
	}
	return fv.ok && fv.ls == strconv.FormatBool(bool(m))
}

type cmpMatcher struct {
	op string
	n  float64
}

func (m *cmpMatcher) match(_ *evalCtx, fv *fieldValue) bool {
	f, ok := fv.number()
	if !ok {
		return false
	}
	switch m.op {
	case "lt":
		return f < m.n
	case "lte":
		return f <= m.n
	case "gt":
		return f > m.n
	}
	return f >= m.n
}

type reMatcher struct {
	re *regexp.Regexp
	// lit is a literal every match contains (see regexNeed): in the
	// lower-cased text when folded, else in the text as it is; when
	// asciiOnly, only if the text is ASCII. A value without it is rejected
	// without running the expression.
	lit               string
	folded, asciiOnly bool
	// minLen is the length of the shortest match: a shorter value cannot
	// match.
	minLen int
	// run bytes of the set in a row are in every match (see
	// regexlit.RequiredRun); used when run >= minRun.
	runSet regexlit.ByteSet
	run    int
}

// minRun is the shortest required run worth a scan before the expression.
const minRun = 8

func newReMatcher(re *regexp.Regexp) *reMatcher {
	m := &reMatcher{re: re, minLen: regexlit.MinLen(re.String())}
	m.lit, m.folded, m.asciiOnly = regexNeed(re.String())
	if set, n := regexlit.RequiredRun(re.String()); n >= minRun {
		m.runSet, m.run = set, n
	}
	return m
}

// hasRun reports whether s has m.run bytes of m.runSet in a row.
func (m *reMatcher) hasRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if !m.runSet.Has(s[i]) {
			n = 0
			continue
		}
		if n++; n >= m.run {
			return true
		}
	}
	return false
}

func (m *reMatcher) match(_ *evalCtx, fv *fieldValue) bool {
	if !fv.ok || len(fv.s) < m.minLen {
		return false
	}
	if m.lit != "" && (fv.ascii || !m.asciiOnly) {
		s := fv.s
		if m.folded {
			s = fv.ls
		}
		if !strings.Contains(s, m.lit) {
			return false
		}
	}
	if m.run > 0 && !m.hasRun(fv.s) {
		return false
	}
	return m.re.MatchString(fv.s)
}

type cidrMatcher struct{ p netip.Prefix }

func (m *cidrMatcher) match(_ *evalCtx, fv *fieldValue) bool {
	if !fv.ok {
		return false
	}
	a, err := netip.ParseAddr(fv.s)
	return err == nil && m.p.Contains(a.Unmap())
}

type fieldrefMatcher struct {
	other   string
	otherID int32
	kind    patKind // pExact, pPrefix, pSuffix, pContains
}

func (m *fieldrefMatcher) match(c *evalCtx, fv *fieldValue) bool {
	id := c.mapID(m.otherID)
	_, ok := c.value(id)
	if !ok || !fv.ok {
		return false
	}
	ofv := c.prepared(id)
	if !ofv.ok {
		return false
	}
	os := ofv.ls
	switch m.kind {
	case pPrefix:
		return strings.HasPrefix(fv.ls, os)
	case pSuffix:
		return strings.HasSuffix(fv.ls, os)
	case pContains:
		return strings.Contains(fv.ls, os)
	}
	return fv.ls == os
}

type timeMatcher struct {
	part string
	n    int
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func (m *timeMatcher) match(_ *evalCtx, fv *fieldValue) bool {
	if !fv.ok {
		return false
	}
	for _, l := range timeLayouts {
		t, err := time.Parse(l, fv.s)
		if err != nil {
			continue
		}
		var got int
		switch m.part {
		case "minute":
			got = t.Minute()
		case "hour":
			got = t.Hour()
		case "day":
			got = t.Day()
		case "week":
			_, got = t.ISOWeek()
		case "month":
			got = int(t.Month())
		case "year":
			got = t.Year()
		}
		return got == m.n
	}
	return false
}

type notMatcher struct{ m valueMatcher }

func (m notMatcher) match(c *evalCtx, fv *fieldValue) bool { return !m.m.match(c, fv) }

type neverMatcher struct{}

func (neverMatcher) match(*evalCtx, *fieldValue) bool { return false }

// Compilation.

// Options of compilation.
type compileEnv struct {
	fields       *fieldTable
	placeholders map[string][]string
	warnings     []string
}

var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "exists": true, "cased": true, "neq": true,
	"windash": true, "re": true, "i": true, "m": true, "s": true, "base64": true, "base64offset": true,
	"utf16le": true, "utf16be": true, "utf16": true, "wide": true, "lt": true, "lte": true, "gt": true, "gte": true,
	"cidr": true, "expand": true, "fieldref": true, "minute": true, "hour": true, "day": true, "week": true,
	"month": true, "year": true,
}

type mods struct {
	set   map[string]bool
	order []string
}

func (m mods) has(k string) bool { return m.set[k] }

func parseKey(key string) (string, mods, error) {
	parts := strings.Split(key, "|")
	md := mods{set: map[string]bool{}}
	for _, p := range parts[1:] {
		if !knownModifiers[p] {
			return "", md, fmt.Errorf("unknown modifier %q in %q", p, key)
		}
		md.set[p] = true
		md.order = append(md.order, p)
	}
	if (md.has("i") || md.has("m") || md.has("s")) && !md.has("re") {
		return "", md, fmt.Errorf("modifiers i, m and s go with re, in %q", key)
	}
	n := 0
	for _, k := range []string{"contains", "startswith", "endswith", "re", "cidr", "lt", "lte", "gt", "gte", "exists",
		"minute", "hour", "day", "week", "month", "year"} {
		if md.has(k) {
			n++
		}
	}
	if n > 1 {
		return "", md, fmt.Errorf("conflicting modifiers in %q", key)
	}
	return parts[0], md, nil
}

// scalars returns the values of a value node: a scalar or a list of
// scalars, decoded (int64, float64, bool, nil or string).
func scalars(n *yaml.Node) ([]any, error) {
	var nodes []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode, yaml.AliasNode:
		nodes = []*yaml.Node{n}
	case yaml.SequenceNode:
		nodes = n.Content
		if len(nodes) == 0 {
			return nil, errors.New("empty value list")
		}
	default:
		return nil, errors.New("a value must be a scalar or a list of scalars")
	}
	out := make([]any, 0, len(nodes))
	for _, e := range nodes {
		if e.Kind == yaml.AliasNode {
			e = e.Alias
		}
		if e.Kind != yaml.ScalarNode {
			return nil, errors.New("a value list may only hold scalars")
		}
		switch e.ShortTag() {
		case "!!int":
			n, err := strconv.ParseInt(e.Value, 0, 64)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case "!!float":
			f, err := strconv.ParseFloat(e.Value, 64)
			if err != nil {
				out = append(out, e.Value)
				continue
			}
			out = append(out, f)
		case "!!bool":
			b, _ := strconv.ParseBool(strings.ToLower(e.Value))
			out = append(out, b)
		case "!!null":
			out = append(out, nil)
		default:
			out = append(out, e.Value)
		}
	}
	return out, nil
}

func (env *compileEnv) compileSearch(n *yaml.Node) (search, error) {
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty search")
		}
		var and andSearch
		for i := 0; i+1 < len(n.Content); i += 2 {
			s, err := env.compileEntry(n.Content[i].Value, n.Content[i+1])
			if err != nil {
				return nil, err
			}
			and = append(and, s)
		}
		if len(and) == 1 {
			return and[0], nil
		}
		return and, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty search")
		}
		maps := 0
		for _, e := range n.Content {
			if e.Kind == yaml.MappingNode {
				maps++
			}
		}
		switch maps {
		case len(n.Content):
			var or orSearch
			for _, e := range n.Content {
				s, err := env.compileSearch(e)
				if err != nil {
					return nil, err
				}
				or = append(or, s)
			}
			return or, nil
		case 0:
			return env.compileEntry("", n)
		}
		return nil, errors.New("a search list mixes maps and values")
	case yaml.ScalarNode:
		return env.compileEntry("", n)
	}
	return nil, errors.New("invalid search")
}

// compileEntry compiles "key: values"; an empty field name is a keyword
// search.
func (env *compileEnv) compileEntry(key string, vn *yaml.Node) (search, error) {
	field, md, err := parseKey(key)
	if err != nil {
		return nil, err
	}
	vals, err := scalars(vn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if md.has("exists") {
		if field == "" || len(vals) != 1 {
			return nil, fmt.Errorf("%s: exists takes one boolean", key)
		}
		b, ok := vals[0].(bool)
		if !ok {
			return nil, fmt.Errorf("%s: exists takes true or false", key)
		}
		return &fieldSearch{field: field, id: env.fields.id(field), exists: &b}, nil
	}
	fs := &fieldSearch{field: field, all: md.has("all")}
	if field != "" {
		fs.id = env.fields.id(field)
	}
	for _, v := range vals {
		if v == nil {
			fs.null = true
			continue
		}
		ms, err := env.compileValue(field, v, md)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if len(ms) == 1 {
			fs.matchers = append(fs.matchers, ms[0])
		} else if len(ms) > 1 {
			fs.matchers = append(fs.matchers, anyMatcher(ms))
		}
	}
	if field == "" {
		if fs.null {
			return nil, errors.New("a keyword cannot be null")
		}
		return &keywordSearch{matchers: fs.matchers, all: fs.all}, nil
	}
	return fs, nil
}

type anyMatcher []valueMatcher

func (a anyMatcher) match(c *evalCtx, fv *fieldValue) bool {
	for _, m := range a {
		if m.match(c, fv) {
			return true
		}
	}
	return false
}

func (env *compileEnv) compileValue(field string, v any, md mods) ([]valueMatcher, error) {
	wrapNeq := func(ms []valueMatcher) []valueMatcher {
		if !md.has("neq") {
			return ms
		}
		return []valueMatcher{notMatcher{anyMatcher(ms)}}
	}
	switch {
	case md.has("re"):
		s, ok := v.(string)
		if !ok {
			s, _ = text(v)
		}
		flags := ""
		for _, f := range []string{"i", "m", "s"} {
			if md.has(f) {
				flags += f
			}
		}
		if flags != "" {
			s = "(?" + flags + ")" + s
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("regular expression: %w", err)
		}
		return wrapNeq([]valueMatcher{newReMatcher(re)}), nil
	case md.has("cidr"):
		s, _ := text(v)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("cidr: %w", err)
		}
		return wrapNeq([]valueMatcher{&cidrMatcher{p: p.Masked()}}), nil
	case md.has("lt") || md.has("lte") || md.has("gt") || md.has("gte"):
		f, ok := number(v)
		if !ok {
			return nil, fmt.Errorf("%v is not a number", v)
		}
		op := "gte"
		for _, o := range []string{"lt", "lte", "gt"} {
			if md.has(o) {
				op = o
			}
		}
		return []valueMatcher{&cmpMatcher{op: op, n: f}}, nil
	case md.has("minute") || md.has("hour") || md.has("day") || md.has("week") || md.has("month") || md.has("year"):
		f, ok := number(v)
		if !ok || f != math.Trunc(f) {
			return nil, fmt.Errorf("%v is not an integer", v)
		}
		part := ""
		for _, p := range []string{"minute", "hour", "day", "week", "month", "year"} {
			if md.has(p) {
				part = p
			}
		}
		return wrapNeq([]valueMatcher{&timeMatcher{part: part, n: int(f)}}), nil
	case md.has("fieldref"):
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, errors.New("fieldref takes a field name")
		}
		k := pExact
		switch {
		case md.has("contains"):
			k = pContains
		case md.has("startswith"):
			k = pPrefix
		case md.has("endswith"):
			k = pSuffix
		}
		return wrapNeq([]valueMatcher{&fieldrefMatcher{other: s, otherID: env.fields.id(s), kind: k}}), nil
	}
	// Numbers and booleans without string modifiers compare as such.
	stringMods := md.has("contains") || md.has("startswith") || md.has("endswith") || md.has("windash") ||
		md.has("base64") || md.has("base64offset") || md.has("wide") || md.has("utf16le") || md.has("utf16be") ||
		md.has("utf16") || md.has("expand") || md.has("cased")
	if !stringMods {
		switch x := v.(type) {
		case int64:
			return wrapNeq([]valueMatcher{&numMatcher{n: float64(x), text: strconv.FormatInt(x, 10)}}), nil
		case float64:
			return wrapNeq([]valueMatcher{&numMatcher{n: x, text: strconv.FormatFloat(x, 'f', -1, 64)}}), nil
		case bool:
			return wrapNeq([]valueMatcher{boolMatcher(x)}), nil
		}
	}
	s, _ := text(v)
	values := []string{s}
	if md.has("expand") {
		expanded, err := env.expand(s)
		if err != nil {
			return nil, err
		}
		if expanded == nil {
			return []valueMatcher{neverMatcher{}}, nil
		}
		values = expanded
	}
	var ms []valueMatcher
	for _, s := range values {
		// Encodings turn the value into bytes; wildcards no longer apply.
		encoded := false
		variants := []string{s}
		for _, m := range md.order {
			switch m {
			case "wide", "utf16le":
				variants = mapStrings(variants, utf16le)
				encoded = true
			case "utf16be":
				variants = mapStrings(variants, utf16be)
				encoded = true
			case "utf16":
				variants = mapStrings(variants, func(s string) string { return "\xff\xfe" + utf16le(s) })
				encoded = true
			case "base64":
				variants = mapStrings(variants, func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) })
				encoded = true
			case "base64offset":
				var out []string
				for _, s := range variants {
					out = append(out, base64Offsets(s)...)
				}
				variants = out
				encoded = true
			}
		}
		var pats []*pattern
		for _, vs := range variants {
			var toks []tok
			if encoded {
				if vs != "" {
					toks = []tok{{kind: tLit, lit: vs}}
				}
			} else {
				toks = parseWildcards(vs, md.has("windash"))
			}
			if md.has("contains") || md.has("endswith") {
				toks = append([]tok{{kind: tStar}}, toks...)
			}
			if md.has("contains") || md.has("startswith") {
				toks = append(toks, tok{kind: tStar})
			}
			if field == "" && !md.has("contains") && !md.has("startswith") && !md.has("endswith") {
				// A keyword matches inside any value.
				toks = append(append([]tok{{kind: tStar}}, toks...), tok{kind: tStar})
			}
			pats = append(pats, newPattern(collapseStars(toks), md.has("cased")))
		}
		ms = append(ms, &strMatcher{pats: pats})
	}
	return wrapNeq(ms), nil
}

func collapseStars(toks []tok) []tok {
	out := toks[:0:0]
	for _, t := range toks {
		if t.kind == tStar && len(out) > 0 && out[len(out)-1].kind == tStar {
			continue
		}
		out = append(out, t)
	}
	return out
}

func mapStrings(l []string, f func(string) string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = f(s)
	}
	return out
}

func utf16le(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

func utf16be(s string) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.BigEndian.PutUint16(b[2*i:], c)
	}
	return string(b)
}

// base64Offsets returns the three base64 forms of s at the three possible
// offsets inside a longer encoded text, without the characters that depend
// on the surrounding bytes (as pySigma's base64offset).
func base64Offsets(s string) []string {
	start := []int{0, 2, 3}
	endCut := []int{0, 3, 2}
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		end := len(enc)
		if c := endCut[(len(s)+i)%3]; c > 0 {
			end -= c
		}
		if start[i] <= end {
			out = append(out, enc[start[i]:end])
		}
	}
	return slices.Compact(out)
}

var placeholderRe = regexp.MustCompile(`%[A-Za-z0-9_.-]+%`)

// expand replaces %placeholders%; nil when one has no values.
func (env *compileEnv) expand(s string) ([]string, error) {
	names := placeholderRe.FindAllString(s, -1)
	if len(names) == 0 {
		return []string{s}, nil
	}
	out := []string{s}
	for _, n := range names {
		vals, ok := env.placeholders[strings.Trim(n, "%")]
		if !ok || len(vals) == 0 {
			env.warnings = append(env.warnings, fmt.Sprintf("placeholder %s has no values: the item matches nothing", n))
			return nil, nil
		}
		var next []string
		for _, o := range out {
			for _, v := range vals {
				next = append(next, strings.Replace(o, n, v, 1))
			}
		}
		out = next
	}
	return out, nil
}
