package sigma

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// CompiledRule is a detection rule ready to run.
type CompiledRule struct {
	Rule *Rule
	// Routes are the log source routes the rule runs on (empty: every
	// event, when gating is off or the rule has no log source).
	Routes []*Route
	eval   func(c *evalCtx) bool
	// Warnings are non-fatal notes from compilation (unfilled placeholders).
	Warnings []string
	idx      int
	// need is the rule's necessary condition, for the prefilter.
	need cnf
	// searches are the compiled searches, in the detection's order.
	searches []search
}

// ID returns the rule's id, or its title when it has none.
func (r *CompiledRule) ID() string {
	if r.Rule.ID != "" {
		return r.Rule.ID
	}
	return r.Rule.Title
}

// Tags returns the rule's tags.
func (r *CompiledRule) Tags() []string { return r.Rule.Tags }

// compilePair compiles the two operands of and/or.
func compilePair(a, b condNode, searches map[string]search, order []string) (l, r func(*evalCtx) bool, err error) {
	if l, err = compileCondition(a, searches, order); err != nil {
		return nil, nil, err
	}
	if r, err = compileCondition(b, searches, order); err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

func compileCondition(n condNode, searches map[string]search, order []string) (func(*evalCtx) bool, error) {
	switch x := n.(type) {
	case condAnd:
		l, r, err := compilePair(x.L, x.R, searches, order)
		if err != nil {
			return nil, err
		}
		return func(c *evalCtx) bool { return l(c) && r(c) }, nil
	case condOr:
		l, r, err := compilePair(x.L, x.R, searches, order)
		if err != nil {
			return nil, err
		}
		return func(c *evalCtx) bool { return l(c) || r(c) }, nil
	case condNot:
		inner, err := compileCondition(x.X, searches, order)
		if err != nil {
			return nil, err
		}
		return func(c *evalCtx) bool { return !inner(c) }, nil
	case condRef:
		s, ok := searches[x.Name]
		if !ok {
			return nil, fmt.Errorf("condition names %q, which the detection does not define", x.Name)
		}
		return s.eval, nil
	case condOf:
		names := resolve(x.Pattern, order)
		if len(names) == 0 {
			return nil, fmt.Errorf("%q matches no search identifier", x.Pattern)
		}
		var ss []search
		for _, n := range names {
			ss = append(ss, searches[n])
		}
		need := x.N
		if need == 0 {
			return func(c *evalCtx) bool {
				for _, s := range ss {
					if !s.eval(c) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(c *evalCtx) bool {
			n := 0
			for _, s := range ss {
				if s.eval(c) {
					n++
					if n >= need {
						return true
					}
				}
			}
			return false
		}, nil
	}
	return nil, errors.New("invalid condition")
}

// compileRule compiles a detection rule's searches and conditions.
func compileRule(r *Rule, env *compileEnv) (*CompiledRule, error) {
	if r.Detection == nil {
		return nil, errors.New("not a detection rule")
	}
	searches := map[string]search{}
	for _, name := range r.Detection.Order {
		s, err := env.compileSearch(r.Detection.Searches[name])
		if err != nil {
			return nil, fmt.Errorf("search %q: %w", name, err)
		}
		searches[name] = s
	}
	var conds []func(*evalCtx) bool
	var nd cnf
	for _, cs := range r.Detection.Conditions {
		n, err := parseCondition(cs)
		if err != nil {
			return nil, fmt.Errorf("condition %q: %w", cs, err)
		}
		f, err := compileCondition(n, searches, r.Detection.Order)
		if err != nil {
			return nil, fmt.Errorf("condition %q: %w", cs, err)
		}
		conds = append(conds, f)
		if len(conds) == 1 {
			nd = needOfCond(n, searches, r.Detection.Order)
		} else {
			nd = or(nd, needOfCond(n, searches, r.Detection.Order))
		}
	}
	cr := &CompiledRule{Rule: r, need: nd}
	for _, name := range r.Detection.Order {
		cr.searches = append(cr.searches, searches[name])
	}
	if len(conds) == 1 {
		cr.eval = conds[0]
	} else {
		cr.eval = func(c *evalCtx) bool {
			for _, f := range conds {
				if f(c) {
					return true
				}
			}
			return false
		}
	}
	return cr, nil
}

// Options configure an Engine.
type Options struct {
	// Pipelines route log sources and map fields; see LoadPipelines.
	Pipelines []*Pipeline
	// NoGating runs every rule on every event, whatever its log source.
	NoGating bool
}

// Engine runs compiled rules on events. It is immutable once built and
// safe for concurrent use.
type Engine struct {
	rules   []*CompiledRule
	routes  []*Route
	ungated []*CompiledRule
	byRoute map[*Route][]*CompiledRule
	// routeRules[i] and index[i] are routes[i]'s rules and prefilter.
	routeRules [][]*CompiledRule
	index      []*routeIndex
	dispatch   routeDispatch
	// fields interns the field names read; routeMaps[i] is routes[i]'s
	// field map as ids and condIDs[i][j] the field id of its condition j.
	fields    *fieldTable
	routeMaps [][]int32
	condIDs   [][]int32
	pool      sync.Pool
}

// Rejected is a rule that did not compile.
type Rejected struct {
	File string
	ID   string
	Err  error
}

// Compile compiles detection rules (correlation rules are skipped: see
// Rule.Correlation) and routes them by log source. It returns the engine,
// the rules that did not compile with their reasons, and warnings.
func Compile(rules []*Rule, o Options) (*Engine, []Rejected, []string) {
	env := &compileEnv{fields: newFieldTable(), placeholders: map[string][]string{}}
	for _, p := range o.Pipelines {
		for k, v := range p.Placeholders {
			env.placeholders[k] = v
		}
	}
	e := &Engine{byRoute: map[*Route][]*CompiledRule{}, fields: env.fields}
	for _, p := range o.Pipelines {
		for i := range p.Routes {
			e.routes = append(e.routes, &p.Routes[i])
		}
	}
	var rejected []Rejected
	var warnings []string
	for _, r := range rules {
		if r.Detection == nil {
			continue
		}
		env.warnings = nil
		cr, err := compileRule(r, env)
		if err != nil {
			rejected = append(rejected, Rejected{File: r.File, ID: r.ID, Err: err})
			continue
		}
		for _, w := range env.warnings {
			cr.Warnings = append(cr.Warnings, w)
			warnings = append(warnings, fmt.Sprintf("%s: %s", r.File, w))
		}
		cr.idx = len(e.rules)
		e.rules = append(e.rules, cr)
		if o.NoGating || (r.Logsource == Logsource{}) {
			e.ungated = append(e.ungated, cr)
			continue
		}
		cr.Routes = routesFor(r.Logsource, e.routes)
		if len(cr.Routes) == 0 {
			warnings = append(warnings, fmt.Sprintf("%s: no route for log source %s: the rule runs on no event", r.File, lsString(r.Logsource)))
		}
		for _, rt := range cr.Routes {
			e.byRoute[rt] = append(e.byRoute[rt], cr)
		}
	}
	for _, rt := range e.routes {
		rs := e.byRoute[rt]
		e.routeRules = append(e.routeRules, rs)
		var ix *routeIndex
		if len(rs) > 0 {
			ix = buildRouteIndex(rs, e.fields)
		}
		e.index = append(e.index, ix)
		var ids []int32
		for _, c := range rt.conds {
			ids = append(ids, e.fields.id(c.field))
		}
		e.condIDs = append(e.condIDs, ids)
		for from, to := range rt.FieldMap {
			e.fields.id(from)
			e.fields.id(to)
		}
	}
	e.dispatch = buildDispatch(e.routes, e.routeRules, e.fields)
	// Every name is interned now.
	for _, rt := range e.routes {
		e.routeMaps = append(e.routeMaps, e.fields.mapTable(rt.FieldMap))
	}
	return e, rejected, warnings
}

func lsString(l Logsource) string {
	var parts []string
	for _, kv := range [][2]string{{"product", l.Product}, {"category", l.Category}, {"service", l.Service}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

// routesFor returns the most specific routes whose log source the rule's
// log source has: every key the route names must equal the rule's.
func routesFor(l Logsource, routes []*Route) []*Route {
	best, out := 0, []*Route(nil)
	for _, rt := range routes {
		n := 0
		ok := true
		for _, kv := range [][2]string{{rt.Logsource.Product, l.Product}, {rt.Logsource.Category, l.Category}, {rt.Logsource.Service, l.Service}} {
			if kv[0] == "" {
				continue
			}
			if !strings.EqualFold(kv[0], kv[1]) {
				ok = false
				break
			}
			n++
		}
		if !ok || n == 0 {
			continue
		}
		switch {
		case n > best:
			best, out = n, []*Route{rt}
		case n == best:
			out = append(out, rt)
		}
	}
	return out
}

// Rules returns the compiled rules.
func (e *Engine) Rules() []*CompiledRule { return e.rules }

func (e *Engine) ctx(ev Event) *evalCtx {
	c, _ := e.pool.Get().(*evalCtx)
	if c == nil {
		c = &evalCtx{}
	}
	c.fired = c.fired[:0]
	c.kw, c.kwReady, c.depth = c.kw[:0], false, 0
	c.ev = ev
	c.startEvent(e.fields.names)
	return c
}

// release returns a context to the pool, without references to the event.
func (e *Engine) release(c *evalCtx) {
	c.endEvent()
	c.ev, c.fmap = nil, nil
	c.buf = c.buf[:0] // the lowered strings of this event are dead now
	clear(c.kw)       // drop references to the event's strings
	c.kw = c.kw[:0]
	c.slots = [len(c.slots)]fieldValue{}
	e.pool.Put(c)
}

// Match calls fn once for each rule that matches the event.
func (e *Engine) Match(ev Event, fn func(*CompiledRule)) {
	c := e.ctx(ev)
	defer e.release(c)
	c.onRoutes = e.dispatch.routes(c, c.onRoutes[:0])
	for _, i := range c.onRoutes {
		rules := e.routeRules[i]
		if !e.onRoute(c, int(i)) {
			continue
		}
		c.fmap = e.routeMaps[i]
		if cap(c.got) < len(rules) {
			c.got = make([]uint8, len(rules))
		}
		c.cand = e.index[i].candidates(c, c.got[:len(rules)], c.cand[:0])
		// In the route's order, as evaluating every rule would report them.
		slices.Sort(c.cand)
		for _, pos := range c.cand {
			if r := rules[pos]; r.eval(c) && !slices.Contains(c.fired, r.idx) {
				c.fired = append(c.fired, r.idx)
				fn(r)
			}
		}
	}
	c.fmap = nil
	for _, r := range e.ungated {
		if r.eval(c) && !slices.Contains(c.fired, r.idx) {
			c.fired = append(c.fired, r.idx)
			fn(r)
		}
	}
}

// onRoute reports whether the event meets route i's conditions (as
// Route.matches, reading fields through the context).
func (e *Engine) onRoute(c *evalCtx, i int) bool {
	for j := range e.routes[i].conds {
		rc := &e.routes[i].conds[j]
		id := e.condIDs[i][j]
		v, ok := c.value(id)
		if !ok {
			return false
		}
		switch v.(type) {
		case []any, []string:
			if !rc.holds(v) {
				return false
			}
			continue
		}
		fv := c.prepared(id)
		if !fv.ok || !slices.Contains(rc.values, fv.ls) {
			return false
		}
	}
	return true
}

// Routes returns the routes rules run on, in evaluation order (for tools
// and benchmarks that apply the same gating).
func (e *Engine) Routes() []*Route { return e.routes }

// RouteRules returns the rules routed to a route.
func (e *Engine) RouteRules(rt *Route) []*CompiledRule { return e.byRoute[rt] }

// Matches reports whether the route's conditions hold for an event.
func (r *Route) Matches(ev Event) bool { return r.matches(ev) }
