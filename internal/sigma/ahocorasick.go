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
	// out[s] are the patterns ending at s; dict[s] is the nearest state on
	// s's fail chain with patterns (-1: none).
	out  [][]int32
	dict []int32
}

type acEdge struct {
	b  byte
	to int32
}

func (m *acMachine) step(s int32, b byte) int32 {
	for {
		if s == 0 {
			return m.root[b]
		}
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
}

func newACMachine(patterns []string) *acMachine {
	m := &acMachine{edges: [][]acEdge{nil}, fail: []int32{0}, out: [][]int32{nil}}
	child := func(s int32, b byte) int32 {
		for _, e := range m.edges[s] {
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
				n = int32(len(m.edges))
				m.edges = append(m.edges, nil)
				m.fail = append(m.fail, 0)
				m.out = append(m.out, nil)
				m.edges[s] = append(m.edges[s], acEdge{p[i], n})
			}
			s = n
		}
		m.out[s] = append(m.out[s], int32(pid))
	}
	for s := range m.edges {
		sort.Slice(m.edges[s], func(i, j int) bool { return m.edges[s][i].b < m.edges[s][j].b })
	}
	for _, e := range m.edges[0] {
		m.root[e.b] = e.to
	}
	// Breadth-first: fail links.
	queue := []int32{}
	for _, e := range m.edges[0] {
		queue = append(queue, e.to)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range m.edges[s] {
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
	m.dict = make([]int32, len(m.edges))
	// States in BFS order have their fail targets' dict links computed first.
	order := []int32{0}
	for i := 0; i < len(order); i++ {
		for _, e := range m.edges[order[i]] {
			order = append(order, e.to)
		}
	}
	for _, s := range order {
		if s == 0 {
			m.dict[s] = -1
			continue
		}
		f := m.fail[s]
		if len(m.out[f]) > 0 {
			m.dict[s] = f
		} else {
			m.dict[s] = m.dict[f]
		}
	}
	return m
}

// scan calls fn with the id of each pattern occurrence in s.
func (m *acMachine) scan(s string, fn func(pid int32)) {
	st := int32(0)
	for i := 0; i < len(s); i++ {
		st = m.step(st, s[i])
		for o := st; o > 0; o = m.dict[o] {
			for _, p := range m.out[o] {
				fn(p)
			}
		}
	}
}
