package correlate

import (
	"bytes"
	"encoding/json"
)

// SnapshotReference is the engine's state as encoding/json writes snapState
// without HTML escaping: what Snapshot must write byte for byte.
func SnapshotReference(e *Engine) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.snapshotReference()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// snapshotReference builds snapState from the engine, as Snapshot once did.
func (e *Engine) snapshotReference() snapState {
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
	return st
}
