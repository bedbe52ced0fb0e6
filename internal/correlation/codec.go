package correlation

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// Signals are JSON as encoding/json writes a correlate.Signal (without its
// HTML escaping), so any version reads any other's messages. They are
// written and read here without reflection: encoding/json's Marshal and
// Unmarshal of signals were 7.6 % of the ncc's CPU at 4,700 events/s.

// appendSignal appends s as json.Marshal writes it, but with <, > and &
// unescaped.
func appendSignal(b []byte, s *correlate.Signal) ([]byte, error) {
	if y := s.Time.Year(); y < 0 || y > 9999 {
		data, err := json.Marshal(s) // its error, as before
		return append(b, data...), err
	}
	b = append(b, `{"Correlation":`...)
	b = jsonl.AppendString(b, s.Correlation)
	b = append(b, `,"Rule":`...)
	b = jsonl.AppendString(b, s.Rule)
	b = append(b, `,"EventID":`...)
	b = jsonl.AppendString(b, s.EventID)
	b = append(b, `,"Time":"`...)
	b, err := s.Time.AppendText(b)
	if err != nil {
		return b, err
	}
	b = append(b, `","Group":`...)
	b = jsonl.AppendStrings(b, s.Group)
	b = append(b, `,"Value":`...)
	b = jsonl.AppendString(b, s.Value)
	b = append(b, `,"Share":{`...)
	sep := false
	for _, f := range [...]struct{ k, v string }{{"org", s.Share.Org}, {"object", s.Share.Object}, {"sector", s.Share.Sector}, {"oisc", s.Share.OISC}} {
		if f.v == "" {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(append(append(b, '"'), f.k...), `":`...)
		b = jsonl.AppendString(b, f.v)
	}
	return append(b, "}}"...), nil
}

// decodeSignals reads a signal message: an array of signals, or one. The
// result is json.Unmarshal's: the fast path takes the messages signals are
// (valid UTF-8, the fields' names as written, no field twice, no null
// where encoding/json would keep an earlier value) and leaves anything
// else, errors included, to encoding/json.
func decodeSignals(data []byte) ([]correlate.Signal, error) {
	if utf8.Valid(data) {
		if sigs, err := decodeSignalsFast(data); err == nil {
			return sigs, nil
		}
	}
	return jsonSignals(data)
}

// jsonSignals is decodeSignals by encoding/json alone.
func jsonSignals(data []byte) ([]correlate.Signal, error) {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) > 0 && data[0] == '[' {
		var sigs []correlate.Signal
		err := json.Unmarshal(data, &sigs)
		return sigs, err
	}
	var sig correlate.Signal
	if err := json.Unmarshal(data, &sig); err != nil {
		return nil, err
	}
	return []correlate.Signal{sig}, nil
}

// errSlow sends a message to encoding/json.
var errSlow = errors.New("correlation: signal left to encoding/json")

// signalDecoder reads signals from a view of a message's bytes; every
// string it keeps is copied out of them (the engine keeps signals' strings
// for as long as their groups live, and a shared one would keep the whole
// message). Repeated values (the correlation and rule ids, the owner) are
// copied once per message.
type signalDecoder struct {
	d    *jsonl.Decoder
	data string
	seen map[string]string
}

var signalStart = []byte(`{"Correlation":`)

func decodeSignalsFast(data []byte) ([]correlate.Signal, error) {
	s := unsafe.String(unsafe.SliceData(data), len(data))
	sd := signalDecoder{d: jsonl.NewValidDecoder(s), data: s}
	var sigs []correlate.Signal
	switch sd.d.Peek() {
	case '{':
		sigs = make([]correlate.Signal, 1)
		if err := sd.signal(&sigs[0]); err != nil {
			return nil, err
		}
	case '[':
		if err := sd.d.OpenArray(); err != nil {
			return nil, err
		}
		// Sized for the signals as written (a guess: a string holding
		// the text has its quotes escaped).
		sigs = make([]correlate.Signal, 0, bytes.Count(data, signalStart))
		for {
			more, err := sd.d.Elem()
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			if sd.d.Peek() != '{' {
				return nil, errSlow
			}
			sigs = append(sigs, correlate.Signal{})
			if err := sd.signal(&sigs[len(sigs)-1]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errSlow
	}
	if err := sd.d.End(); err != nil {
		return nil, err
	}
	return sigs, nil
}

// signalFields are Signal's JSON names, in the order of the bits of a
// signal's seen fields.
var signalFields = [...]string{"Correlation", "Rule", "EventID", "Time", "Group", "Value", "Share"}

var shareFields = [...]string{"org", "object", "sector", "oisc"}

// field returns k's index in names; -1 for a name encoding/json ignores;
// errSlow for one it would match ignoring case.
func field(names []string, k string) (int, error) {
	for i, n := range names {
		if k == n {
			return i, nil
		}
	}
	for _, n := range names {
		if strings.EqualFold(k, n) {
			return 0, errSlow
		}
	}
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return 0, errSlow // folding beyond ASCII: encoding/json's own
		}
	}
	return -1, nil
}

// object reads the object that comes next, handing each of names' fields
// to read by its index; other fields are skipped, a field twice is left
// to encoding/json.
func (sd *signalDecoder) object(names []string, read func(i int) error) error {
	d := sd.d
	if err := d.Open(); err != nil {
		return err
	}
	var seen uint
	for {
		k, more, err := d.Key()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		i, err := field(names, k)
		if err != nil {
			return err
		}
		if i < 0 {
			if _, err := d.Value(); err != nil {
				return err
			}
			continue
		}
		if seen&(1<<i) != 0 {
			return errSlow
		}
		seen |= 1 << i
		if err := read(i); err != nil {
			return err
		}
	}
}

func (sd *signalDecoder) signal(s *correlate.Signal) error {
	return sd.object(signalFields[:], func(i int) error {
		switch i {
		case 0:
			return sd.str(&s.Correlation, true)
		case 1:
			return sd.str(&s.Rule, true)
		case 2:
			return sd.str(&s.EventID, false)
		case 3:
			return sd.time(&s.Time)
		case 4:
			return sd.group(s)
		case 5:
			return sd.str(&s.Value, false)
		default:
			return sd.share(&s.Share)
		}
	})
}

// time reads the Time field: its string literal is given to
// Time.UnmarshalJSON as encoding/json gives it (escapes and all); a null
// leaves it.
func (sd *signalDecoder) time(t *time.Time) error {
	if null, err := sd.null(); null || err != nil {
		return err
	}
	d := sd.d
	if d.Peek() == '"' {
		start := d.Offset()
		if _, err := d.Str(); err != nil {
			return err
		}
		if err := t.UnmarshalJSON([]byte(sd.data[start:d.Offset()])); err != nil {
			return errSlow
		}
		return nil
	}
	return errSlow
}

// null reads the null that comes next, if one does (a null leaves a
// field as it was, with encoding/json).
func (sd *signalDecoder) null() (bool, error) {
	if sd.d.Peek() != 'n' {
		return false, nil
	}
	_, err := sd.d.Value()
	return true, err
}

// str reads a string into *dst (a null leaves it, as encoding/json does);
// repeated values are copied once per message.
func (sd *signalDecoder) str(dst *string, repeated bool) error {
	if null, err := sd.null(); null || err != nil {
		return err
	}
	v, err := sd.d.Str()
	if err != nil {
		return errSlow // not a string: encoding/json's error
	}
	if !repeated {
		*dst = strings.Clone(v)
		return nil
	}
	if c, ok := sd.seen[v]; ok {
		*dst = c
		return nil
	}
	if sd.seen == nil {
		sd.seen = make(map[string]string, 8)
	}
	c := strings.Clone(v)
	sd.seen[c] = c
	*dst = c
	return nil
}

func (sd *signalDecoder) group(s *correlate.Signal) error {
	if null, err := sd.null(); null || err != nil {
		s.Group = nil // a null slice is nil, with encoding/json
		return err
	}
	d := sd.d
	if d.Peek() != '[' {
		return errSlow
	}
	if err := d.OpenArray(); err != nil {
		return err
	}
	g := make([]string, 0, 2)
	for {
		more, err := d.Elem()
		if err != nil {
			return err
		}
		if !more {
			s.Group = g
			return nil
		}
		if d.Peek() != '"' {
			return errSlow
		}
		g = append(g, "")
		if err := sd.str(&g[len(g)-1], false); err != nil {
			return err
		}
	}
}

func (sd *signalDecoder) share(sh *correlate.Share) error {
	if null, err := sd.null(); null || err != nil {
		return err
	}
	if sd.d.Peek() != '{' {
		return errSlow
	}
	dst := [...]*string{&sh.Org, &sh.Object, &sh.Sector, &sh.OISC}
	return sd.object(shareFields[:], func(i int) error { return sd.str(dst[i], true) })
}
