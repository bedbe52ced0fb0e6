package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Data source uids, declared in dashboards/provisioning/datasources.
const (
	ClickHouseUID  = "kuzet-clickhouse"
	PrometheusUID  = "kuzet-prometheus"
	ClickHouseType = "grafana-clickhouse-datasource"
	PrometheusType = "prometheus"
)

// Dashboard is one Grafana dashboard.
type Dashboard struct {
	UID, Title, Description string
	// File is the name of its JSON file in dashboards/.
	File string
	// From is the default range start ("now-7d"); the end is now.
	From      string
	Refresh   string
	Variables []Variable
	Panels    []Panel
}

// Variable is a template variable: a fixed list of options (Options) or a
// ClickHouse query (Query, one column of values).
type Variable struct {
	Name, Label string
	Options     []Option
	Query       string
	Multi       bool
	IncludeAll  bool
}

// Option is one value of a custom variable and the text shown for it.
type Option struct{ Text, Value string }

// Panel is one panel. Exactly one of SQL and Prom is set.
type Panel struct {
	Title, Description string
	// Type is the Grafana panel type: timeseries, barchart, piechart,
	// table, stat.
	Type string
	Unit string
	// W is the width in grid columns (of 24; 0 means 12), H the height (0
	// means 8).
	W, H int
	SQL  *SQL
	Prom []Prom
}

// SQL is a ClickHouse panel's query.
type SQL struct {
	Query string
	// Columns are the names the query returns, in order; a time series
	// query's first is "time", a DateTime.
	Columns []string
}

// Prom is one PromQL target with its legend.
type Prom struct{ Expr, Legend string }

// TimeSeries reports whether the panel plots time series (its SQL then
// uses the plugin's time series format).
func (p Panel) TimeSeries() bool { return p.Type == "timeseries" }

// Render returns the dashboard's Grafana JSON (schema 39), indented, with a
// final newline.
func Render(d Dashboard) ([]byte, error) {
	var tmpl []any
	for _, v := range d.Variables {
		tmpl = append(tmpl, renderVariable(v))
	}
	var panels []any
	x, y, rowH := 0, 0, 0
	for i, p := range d.Panels {
		w, h := p.W, p.H
		if w == 0 {
			w = 12
		}
		if h == 0 {
			h = 8
		}
		if x+w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		rp, err := renderPanel(i+1, p, x, y, w, h)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		panels = append(panels, rp)
		x += w
		rowH = max(rowH, h)
	}
	out := obj{
		{"title", d.Title},
		{"uid", d.UID},
		{"description", d.Description},
		{"schemaVersion", 39},
		{"version", 1},
		{"editable", true},
		{"tags", []string{"kuzet"}},
		{"timezone", "browser"},
		{"time", obj{{"from", d.From}, {"to", "now"}}},
		{"refresh", d.Refresh},
		{"templating", obj{{"list", orEmpty(tmpl)}}},
		{"panels", panels},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func renderVariable(v Variable) obj {
	o := obj{{"name", v.Name}, {"label", v.Label}}
	var current obj
	if v.IncludeAll {
		current = obj{{"selected", true}, {"text", []string{"All"}}, {"value", []string{"$__all"}}}
	}
	if v.Query != "" {
		o = append(o, kv{"type", "query"},
			kv{"datasource", obj{{"type", ClickHouseType}, {"uid", ClickHouseUID}}},
			kv{"query", v.Query}, kv{"definition", v.Query}, kv{"refresh", 2}, kv{"sort", 1})
	} else {
		var q []string
		var opts []any
		if v.IncludeAll {
			opts = append(opts, obj{{"selected", true}, {"text", "All"}, {"value", "$__all"}})
		}
		for _, op := range v.Options {
			// Grafana's custom syntax: "text : value", comma-separated.
			q = append(q, op.Text+" : "+op.Value)
			opts = append(opts, obj{{"selected", false}, {"text", op.Text}, {"value", op.Value}})
		}
		o = append(o, kv{"type", "custom"}, kv{"query", strings.Join(q, ", ")}, kv{"options", opts})
	}
	o = append(o, kv{"multi", v.Multi}, kv{"includeAll", v.IncludeAll})
	if current != nil {
		o = append(o, kv{"current", current})
	}
	return o
}

func renderPanel(id int, p Panel, x, y, w, h int) (obj, error) {
	if (p.SQL == nil) == (len(p.Prom) == 0) {
		return nil, fmt.Errorf("panel %q: needs SQL or PromQL targets, not both", p.Title)
	}
	o := obj{{"id", id}, {"type", p.Type}, {"title", p.Title}}
	if p.Description != "" {
		o = append(o, kv{"description", p.Description})
	}
	o = append(o, kv{"gridPos", obj{{"x", x}, {"y", y}, {"w", w}, {"h", h}}})
	var targets []any
	if p.SQL != nil {
		o = append(o, kv{"datasource", obj{{"type", ClickHouseType}, {"uid", ClickHouseUID}}})
		format, qt := 1, "table" // the plugin's Format: 0 time series, 1 table
		if p.TimeSeries() {
			format, qt = 0, "timeseries"
		}
		targets = append(targets, obj{
			{"datasource", obj{{"type", ClickHouseType}, {"uid", ClickHouseUID}}},
			{"editorType", "sql"}, {"format", format}, {"queryType", qt},
			{"rawSql", strings.TrimSpace(dedent(p.SQL.Query))}, {"refId", "A"},
		})
	} else {
		o = append(o, kv{"datasource", obj{{"type", PrometheusType}, {"uid", PrometheusUID}}})
		for i, t := range p.Prom {
			targets = append(targets, obj{
				{"datasource", obj{{"type", PrometheusType}, {"uid", PrometheusUID}}},
				{"expr", t.Expr}, {"legendFormat", t.Legend}, {"refId", string(rune('A' + i))},
			})
		}
	}
	defaults := obj{}
	if p.Unit != "" {
		defaults = append(defaults, kv{"unit", p.Unit})
	}
	o = append(o, kv{"fieldConfig", obj{{"defaults", defaults}, {"overrides", []any{}}}})
	switch p.Type {
	case "piechart":
		o = append(o, kv{"options", obj{{"reduceOptions", obj{{"values", true}, {"calcs", []string{}}}},
			{"legend", obj{{"displayMode", "table"}, {"placement", "right"}, {"values", []string{"value"}}}}}})
	case "barchart":
		o = append(o, kv{"options", obj{{"xField", p.SQL.Columns[0]}, {"orientation", "horizontal"}}})
	case "table":
		o = append(o, kv{"options", obj{{"showHeader", true}}})
	}
	o = append(o, kv{"targets", targets})
	return o, nil
}

// dedent removes the indentation of a Go raw string literal.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimLeft(l, "\t "), " ")
	}
	return strings.Join(lines, "\n")
}

func orEmpty(xs []any) []any {
	if xs == nil {
		return []any{}
	}
	return xs
}

// obj is a JSON object that keeps its keys in order.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f.v); err != nil {
			return nil, err
		}
		b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
