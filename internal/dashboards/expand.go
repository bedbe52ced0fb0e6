package dashboards

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Env is what a query is expanded with: the dashboard's range, the
// panel's interval and each template variable's selected values.
type Env struct {
	From, To time.Time
	Interval time.Duration
	Vars     map[string][]string
}

// unsupported are constructs a panel's SQL must not use: macros the plugin
// expands into what ClickHouse 18.16 lacks, and the 18.16 gaps themselves.
var unsupported = []struct{ re, why string }{
	{`\$__timeInterval`, "$__timeInterval expands to toStartOfInterval, which 18.16 lacks; use toStartOf* or intDiv by $__interval_s"},
	{`\$__[A-Za-z]+_ms\b`, "the _ms macros expand to DateTime64, which 18.16 lacks"},
	{`(?i)\btoStartOfInterval\b`, "18.16 has no toStartOfInterval"},
	{`(?i)\bDateTime64\b`, "18.16 has no DateTime64"},
	{`(?i)\bWITH\s+FILL\b`, "18.16 has no WITH FILL"},
	{`(?i)\bOVER\s*\(`, "18.16 has no window functions"},
	{`(?i)\bJSONExtract`, "18.16 has no JSONExtract functions (visitParam* only)"},
	{`(?i)\bILIKE\b`, "18.16 has no ILIKE"},
	{`(?i)\bTTL\b`, "18.16 has no TTL"},
}

var (
	macroRe = regexp.MustCompile(`\$__([A-Za-z_]+)(\(([^()]*)\))?`)
	varRe   = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::([A-Za-z]+))?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\[\[([A-Za-z0-9_]+)\]\]`)
)

// Check reports the constructs in a panel's raw SQL that ClickHouse 18.16
// or the plugin's expansion would break.
func Check(sql string) error {
	var errs []string
	for _, u := range unsupported {
		if regexp.MustCompile(u.re).MatchString(sql) {
			errs = append(errs, u.why)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Expand returns sql as it reaches ClickHouse: Grafana's template
// variables first (${v:singlequote} is the quoted, comma-separated values;
// ${v} and $v the values joined by commas), then the plugin's macros as
// grafana-clickhouse-datasource expands them:
//
//	$__timeFilter(c)  c >= toDateTime(<from>) AND c <= toDateTime(<to>)
//	$__fromTime       toDateTime(<from>)
//	$__toTime         toDateTime(<to>)
//	$__interval_s     the interval in whole seconds, at least 1
//
// with <from> and <to> in Unix seconds. Anything else with a $ left is an
// error, as is what Check refuses.
func Expand(sql string, env Env) (string, error) {
	if err := Check(sql); err != nil {
		return "", err
	}
	var errs []string
	out := varRe.ReplaceAllStringFunc(sql, func(m string) string {
		g := varRe.FindStringSubmatch(m)
		name, format := g[1], g[2]
		if name == "" {
			name = g[3] + g[4]
		}
		if strings.HasPrefix(name, "__") {
			return m // a macro
		}
		vals, ok := env.Vars[name]
		if !ok {
			errs = append(errs, "unknown variable "+m)
			return m
		}
		switch format {
		case "singlequote":
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			}
			return strings.Join(q, ",")
		case "", "csv", "raw":
			return strings.Join(vals, ",")
		}
		errs = append(errs, "unsupported variable format "+m)
		return m
	})
	from, to := fmt.Sprintf("toDateTime(%d)", env.From.Unix()), fmt.Sprintf("toDateTime(%d)", env.To.Unix())
	out = macroRe.ReplaceAllStringFunc(out, func(m string) string {
		g := macroRe.FindStringSubmatch(m)
		name, hasArgs, args := g[1], g[2] != "", strings.TrimSpace(g[3])
		switch {
		case name == "timeFilter" && hasArgs && args != "" && !strings.Contains(args, ","):
			return args + " >= " + from + " AND " + args + " <= " + to
		case name == "fromTime" && !hasArgs:
			return from
		case name == "toTime" && !hasArgs:
			return to
		case name == "interval_s" && !hasArgs:
			return fmt.Sprint(int(math.Max(env.Interval.Seconds(), 1)))
		}
		errs = append(errs, "unsupported macro "+m)
		return m
	})
	if len(errs) == 0 && strings.Contains(out, "$") {
		errs = append(errs, "a $ is left after expansion")
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}
