package correlate

import (
	"container/heap"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// snapshotVersion is the format of Snapshot; Restore refuses others.
const snapshotVersion = 1

type snapState struct {
	Version   int         `json:"v"`
	Watermark int64       `json:"watermark"`
	MaxSeen   int64       `json:"max_seen"`
	Seq       uint64      `json:"seq"`
	Counters  Counters    `json:"counters"`
	Groups    []snapGroup `json:"groups"` // least recently updated first
}

type snapGroup struct {
	Correlation string       `json:"correlation"`
	Values      []string     `json:"values"`
	Entries     []snapEntry  `json:"entries"`
	Episode     *snapEpisode `json:"episode,omitempty"`
}

type snapEntry struct {
	T     int64  `json:"t"`
	Seq   uint64 `json:"seq"`
	ID    string `json:"id"`
	Input int    `json:"input"`
	Value string `json:"value,omitempty"`
	Share Share  `json:"share"`
}

type snapEpisode struct {
	ID          uuid.UUID     `json:"id"`
	Version     uint64        `json:"version"`
	Fired       int64         `json:"fired"`
	WindowStart int64         `json:"window_start"`
	First       int64         `json:"first"`
	Last        int64         `json:"last"`
	Count       int           `json:"count"`
	IDs         []string      `json:"ids"`
	Shares      []ShareEvents `json:"shares"`
	Values      []string      `json:"values,omitempty"`
	Metric      float64       `json:"metric"`
}

// Snapshot returns the engine's whole state as JSON. The same state always
// gives the same bytes.
func (e *Engine) Snapshot() ([]byte, error) {
	st := snapState{Version: snapshotVersion, Watermark: e.watermark, MaxSeen: e.maxSeen, Seq: e.seq, Counters: e.c}
	for g := e.head; g != nil; g = g.next {
		sg := snapGroup{Correlation: g.corr.ID, Values: g.values, Entries: make([]snapEntry, len(g.entries))}
		for i, en := range g.entries {
			sg.Entries[i] = snapEntry{T: en.t, Seq: en.seq, ID: en.id, Input: int(en.input), Value: en.value, Share: e.shares[en.share]}
		}
		if ep := g.ep; ep != nil {
			sg.Episode = &snapEpisode{ID: ep.id, Version: ep.version, Fired: ep.fired, WindowStart: ep.windowStart,
				First: ep.first, Last: ep.last, Count: ep.count, IDs: ep.ids, Shares: ep.shares, Values: ep.values, Metric: ep.metric}
		}
		st.Groups = append(st.Groups, sg)
	}
	return json.Marshal(st)
}

// Restore replaces the engine's state with a snapshot taken from an engine
// of the same Set. Groups of correlations the set no longer has are
// dropped and counted as evicted. On error the engine is unchanged.
func (e *Engine) Restore(data []byte) error {
	var st snapState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("correlate: restore: %w", err)
	}
	if st.Version != snapshotVersion {
		return fmt.Errorf("correlate: restore: snapshot format %d, want %d", st.Version, snapshotVersion)
	}
	n := NewEngine(e.set, e.o)
	n.watermark, n.maxSeen, n.seq, n.c = st.Watermark, st.MaxSeen, st.Seq, st.Counters
	for _, sg := range st.Groups {
		c := e.set.byID[sg.Correlation]
		if c == nil || len(sg.Values) != len(c.GroupBy) || len(sg.Entries) == 0 && sg.Episode == nil {
			n.c.Evicted++
			continue
		}
		key := groupKey(c.ID, sg.Values)
		if n.groups[key] != nil {
			return fmt.Errorf("correlate: restore: group %q twice", key)
		}
		g := &group{key: key, corr: c, values: sg.Values}
		g.bytes = groupCost(g)
		n.bytes += g.bytes
		for _, se := range sg.Entries {
			if se.Input < 0 || se.Input >= len(c.Inputs) {
				return fmt.Errorf("correlate: restore: group %q: input %d", key, se.Input)
			}
			en := entry{t: se.T, seq: se.Seq, id: se.ID, input: int32(se.Input), value: se.Value, share: n.intern(se.Share)}
			if c.numeric() {
				v, err := parseNumber(se.Value)
				if err != nil {
					return fmt.Errorf("correlate: restore: group %q: %w", key, err)
				}
				en.num = v
			}
			g.entries = append(g.entries, en)
			n.grow(g, entryCost(&en))
		}
		if se := sg.Episode; se != nil {
			ep := &episode{id: se.ID, version: se.Version, fired: se.Fired, windowStart: se.WindowStart, first: se.First,
				last: se.Last, count: se.Count, ids: se.IDs, shares: se.Shares, values: se.Values, metric: se.Metric}
			if len(ep.values) > 0 {
				ep.valueSet = map[string]struct{}{}
				for _, v := range ep.values {
					ep.valueSet[v] = struct{}{}
				}
			}
			g.ep = ep
			n.grow(g, n.episodeBytes(ep))
		}
		last := int64(0)
		if len(g.entries) > 0 {
			last = g.entries[len(g.entries)-1].t
		}
		if g.ep != nil && g.ep.last > last {
			last = g.ep.last
		}
		g.deadline = last + int64(c.Span)
		g.buf = g.entries
		n.groups[key] = g
		n.touch(g)
		g.queued = true
		heap.Push(&n.dl, deadline{g.deadline, g})
	}
	*e = *n
	return nil
}
