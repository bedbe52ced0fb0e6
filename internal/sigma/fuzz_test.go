package sigma_test

import (
	"testing"

	"github.com/kuzet-kz/kuzet/internal/sigma"
)

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"title: t\nlogsource: {product: windows}\ndetection:\n  a: {Image|endswith: '\\cmd.exe'}\n  condition: a\n",
		"title: t\ndetection:\n  k: [a, 'b*']\n  s: {F|contains|all: [x, y], G: null}\n  condition: 1 of them and not k\n",
		"title: c\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [User]\n  timespan: 5m\n  condition: {gte: 10}\n",
		"action: global\ntitle: g\ndetection:\n  condition: a\n---\ndetection:\n  a: {X: 1}\n",
		"title: t\ndetection:\n  a: {F|re|i: '^x', H|cidr: 10.0.0.0/8, N|gte: 3, B|base64offset|contains: abc}\n  condition: a | count() > 5\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, _ := sigma.ParseRules("fuzz.yml", data)
		eng, _, _ := sigma.Compile(rules, sigma.Options{NoGating: true})
		eng.Match(sigma.MapEvent{"F": "x", "Image": `C:\cmd.exe`, "N": int64(4), "B": []any{"a", int64(1)}}, func(*sigma.CompiledRule) {})
	})
}

func FuzzCondition(f *testing.F) {
	for _, c := range []string{"a and not b", "1 of sel_* or all of them", "(a or b) and (not c)", "not not a", "a near b", "a | count() > 3", "all of", "(((a)))", "2 of them"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		rule := "title: t\ndetection:\n  a: {A: 1}\n  b: {B: 1}\n  sel_c: {C: 1}\n  condition: " + quote(cond) + "\n"
		rules, _ := sigma.ParseRules("c.yml", []byte(rule))
		eng, _, _ := sigma.Compile(rules, sigma.Options{NoGating: true})
		eng.Match(sigma.MapEvent{"A": int64(1), "C": int64(1)}, func(*sigma.CompiledRule) {})
	})
}

func quote(s string) string {
	b := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b = append(b, '\'')
		}
		if s[i] == '\n' || s[i] == '\r' {
			b = append(b, ' ')
			continue
		}
		b = append(b, s[i])
	}
	return string(append(b, '\''))
}
