package sigma

import "sort"

// acMachine is an Aho-Corasick automaton over bytes: Scan reports every
// pattern that occurs in a text in one pass over it.
type acMachine struct {
	// edges[s] are state s's transitions, sorted by byte.
	edges [][]acEdge
	// root transitions are dense for speed.
	root [256]int32
	fail []int32
	// outs[outLo[s]:outLo[s+1]] are the patterns ending at s; dict[s] is
	// the nearest state on s's fail chain with patterns (-1: none), emit[s]
	// s itself if it has patterns, else dict[s]: one load tells whether
	// anything ends at a text position.
	outs  []int32
	outLo []int32
	dict  []int32
	emit  []int32
}

type acEdge struct {
	b  byte
	to int32
}

func (m *acMachine) step(s int32, b byte) int32 {
	for s != 0 {
		e := m.edges[s]
		if len(e) <= 8 {
			// Most states have one or two children.
			for _, x := range e {
				if x.b == b {
					return x.to
				}
				if x.b > b {
					break
				}
			}
		} else {
			lo, hi := 0, len(e)
			for lo < hi {
				h := int(uint(lo+hi) >> 1)
				if e[h].b < b {
					lo = h + 1
				} else {
					hi = h
				}
			}
			if lo < len(e) && e[lo].b == b {
				return e[lo].to
			}
		}
		s = m.fail[s]
	}
	return m.root[b]
}

func newACMachine(patterns []string) *acMachine {
	m := &acMachine{fail: []int32{0}}
	edges, out := [][]acEdge{nil}, [][]int32{nil}
	child := func(s int32, b byte) int32 {
		for _, e := range edges[s] {
			if e.b == b {
				return e.to
			}
		}
		return -1
	}
	for pid, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			n := child(s, p[i])
			if n < 0 {
				n = int32(len(edges))
				edges = append(edges, nil)
				m.fail = append(m.fail, 0)
				out = append(out, nil)
				edges[s] = append(edges[s], acEdge{p[i], n})
			}
			s = n
		}
		out[s] = append(out[s], int32(pid))
	}
	for s := range edges {
		sort.Slice(edges[s], func(i, j int) bool { return edges[s][i].b < edges[s][j].b })
	}
	for _, e := range edges[0] {
		m.root[e.b] = e.to
	}
	// Breadth-first: fail links.
	queue := []int32{}
	for _, e := range edges[0] {
		queue = append(queue, e.to)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range edges[s] {
			f := m.fail[s]
			for {
				if n := child(f, e.b); n >= 0 && n != e.to {
					m.fail[e.to] = n
					break
				}
				if f == 0 {
					m.fail[e.to] = 0
					break
				}
				f = m.fail[f]
			}
			queue = append(queue, e.to)
		}
	}
	m.dict = make([]int32, len(edges))
	// States in BFS order have their fail targets' dict links computed first.
	order := []int32{0}
	for i := 0; i < len(order); i++ {
		for _, e := range edges[order[i]] {
			order = append(order, e.to)
		}
	}
	for _, s := range order {
		if s == 0 {
			m.dict[s] = -1
			continue
		}
		f := m.fail[s]
		if len(out[f]) > 0 {
			m.dict[s] = f
		} else {
			m.dict[s] = m.dict[f]
		}
	}
	m.edges = edges
	m.emit = make([]int32, len(edges))
	for s := range edges {
		m.outLo = append(m.outLo, int32(len(m.outs)))
		m.outs = append(m.outs, out[s]...)
		m.emit[s] = m.dict[s]
		if len(out[s]) > 0 {
			m.emit[s] = int32(s)
		}
	}
	m.outLo = append(m.outLo, int32(len(m.outs)))
	return m
}

// scan calls fn with the id of each pattern occurrence in s.
func (m *acMachine) scan(s string, fn func(pid int32)) {
	st := int32(0)
	for i := 0; i < len(s); i++ {
		if st == 0 {
			st = m.root[s[i]]
		} else {
			st = m.step(st, s[i])
		}
		for o := m.emit[st]; o > 0; o = m.dict[o] {
			for _, p := range m.outs[m.outLo[o]:m.outLo[o+1]] {
				fn(p)
			}
		}
	}
}
