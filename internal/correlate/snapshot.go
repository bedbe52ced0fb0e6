package correlate

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
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

// Snapshot returns the engine's whole state as JSON (snapState's). The
// same state always gives the same bytes. It is written straight into one
// buffer, sized by the last snapshot: encoding/json built a copy of every
// entry, a growing buffer and a final copy of it, three times the state
// at once for each partition being checkpointed.
func (e *Engine) Snapshot() ([]byte, error) {
	b := make([]byte, 0, e.snapSize+e.snapSize/8+4096)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, snapshotVersion, 10)
	b = appendInt(append(b, `,"watermark":`...), e.watermark)
	b = appendInt(append(b, `,"max_seen":`...), e.maxSeen)
	b = strconv.AppendUint(append(b, `,"seq":`...), e.seq, 10)
	c := e.c
	b = appendInt(append(b, `,"counters":{"applied":`...), c.Applied)
	b = appendInt(append(b, `,"duplicates":`...), c.Duplicates)
	b = appendInt(append(b, `,"late":`...), c.Late)
	b = appendInt(append(b, `,"invalid":`...), c.Invalid)
	b = appendInt(append(b, `,"evicted":`...), c.Evicted)
	b = appendInt(append(b, `,"trimmed":`...), c.Trimmed)
	b = appendInt(append(b, `,"opened":`...), c.Opened)
	b = appendInt(append(b, `,"closed":`...), c.Closed)
	b = append(b, `},"groups":`...)
	if e.head == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
	}
	var err error
	for g := e.head; g != nil; g = g.next {
		if g != e.head {
			b = append(b, ',')
		}
		b = jsonl.AppendString(append(b, `{"correlation":`...), g.corr.ID)
		b = jsonl.AppendStrings(append(b, `,"values":`...), g.values)
		b = append(b, `,"entries":[`...)
		for i := range g.entries {
			en := &g.entries[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = appendInt(append(b, `{"t":`...), en.t)
			b = strconv.AppendUint(append(b, `,"seq":`...), en.seq, 10)
			b = jsonl.AppendString(append(b, `,"id":`...), en.id)
			b = strconv.AppendInt(append(b, `,"input":`...), int64(en.input), 10)
			if en.value != "" {
				b = jsonl.AppendString(append(b, `,"value":`...), en.value)
			}
			b = appendShare(append(b, `,"share":`...), e.shares[en.share])
			b = append(b, '}')
		}
		b = append(b, ']')
		if ep := g.ep; ep != nil {
			if b, err = appendEpisode(append(b, `,"episode":`...), ep); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	if e.head != nil {
		b = append(b, ']')
	}
	b = append(b, '}')
	e.snapSize = len(b)
	return b, nil
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// appendShare writes a Share as its JSON tags say (empty fields omitted).
func appendShare(b []byte, s Share) []byte {
	b = append(b, '{')
	n := len(b)
	field := func(name, v string) {
		if v == "" {
			return
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = jsonl.AppendString(append(append(append(b, '"'), name...), `":`...), v)
	}
	field("org", s.Org)
	field("object", s.Object)
	field("sector", s.Sector)
	field("oisc", s.OISC)
	return append(b, '}')
}

func appendEpisode(b []byte, ep *episode) ([]byte, error) {
	if math.IsNaN(ep.metric) || math.IsInf(ep.metric, 0) {
		return nil, fmt.Errorf("correlate: snapshot: episode %s: metric %v", ep.id, ep.metric)
	}
	b = append(b, `{"id":"`...)
	b = append(b, ep.id.String()...)
	b = strconv.AppendUint(append(b, `","version":`...), ep.version, 10)
	b = appendInt(append(b, `,"fired":`...), ep.fired)
	b = appendInt(append(b, `,"window_start":`...), ep.windowStart)
	b = appendInt(append(b, `,"first":`...), ep.first)
	b = appendInt(append(b, `,"last":`...), ep.last)
	b = strconv.AppendInt(append(b, `,"count":`...), int64(ep.count), 10)
	b = jsonl.AppendStrings(append(b, `,"ids":`...), ep.ids)
	b = append(b, `,"shares":`...)
	if ep.shares == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, sh := range ep.shares {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendShare(append(b, `{"share":`...), sh.Share)
			b = strconv.AppendInt(append(b, `,"count":`...), int64(sh.Count), 10)
			b = jsonl.AppendStrings(append(b, `,"event_ids":`...), sh.EventIDs)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(ep.values) > 0 {
		b = jsonl.AppendStrings(append(b, `,"values":`...), ep.values)
	}
	b = jsonl.AppendFloat(append(b, `,"metric":`...), ep.metric)
	return append(b, '}'), nil
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
