package leef

import (
	"strconv"
	"strings"
	"time"
)

// javaLayouts maps SimpleDateFormat letters to Go layout elements.
var javaLayouts = []struct{ java, goLayout string }{
	{"yyyy", "2006"}, {"yy", "06"}, {"MMMM", "January"}, {"MMM", "Jan"}, {"MM", "01"}, {"dd", "02"}, {"d", "2"},
	{"HH", "15"}, {"hh", "03"}, {"mm", "04"}, {"ss", "05"}, {"SSS", "000"}, {"a", "PM"}, {"zzz", "MST"},
	{"z", "MST"}, {"Z", "-0700"}, {"XXX", "-07:00"},
}

// JavaLayout converts a SimpleDateFormat pattern to a Go time layout.
func JavaLayout(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); {
		matched := false
		for _, jl := range javaLayouts {
			if strings.HasPrefix(p[i:], jl.java) {
				b.WriteString(jl.goLayout)
				i += len(jl.java)
				matched = true
				break
			}
		}
		if !matched {
			if p[i] == '\'' {
				i++
				continue
			}
			b.WriteByte(p[i])
			i++
		}
	}
	return b.String()
}

// LayoutHasZone reports whether a Go time layout has a zone element (MST,
// -0700, Z07:00, ...): a time parsed with one that has none is read in the
// location passed to time.ParseInLocation.
func LayoutHasZone(layout string) bool {
	a := time.Date(2001, 2, 3, 4, 5, 6, 0, time.FixedZone("AAA", 3600))
	b := time.Date(2001, 2, 3, 4, 5, 6, 0, time.FixedZone("BBB", 7200))
	return a.Format(layout) != b.Format(layout)
}

// DevTime interprets the devTime attribute: with devTimeFormat if given,
// else as epoch milliseconds, else as the LEEF default "MMM dd yyyy
// HH:mm:ss". Zone-less times are in loc, and local says the time had no
// zone.
func (r *Record) DevTime(loc *time.Location) (t time.Time, local, ok bool) {
	v, ok := r.Get("devTime")
	if !ok || v == "" {
		return time.Time{}, false, false
	}
	if f, ok := r.Get("devTimeFormat"); ok && f != "" {
		l := JavaLayout(f)
		t, err := time.ParseInLocation(l, v, loc)
		return t, !LayoutHasZone(l), err == nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 1e11 {
		return time.UnixMilli(ms).UTC(), false, true
	}
	for _, l := range []struct {
		layout string
		local  bool
	}{{"Jan 02 2006 15:04:05", true}, {"Jan 02 2006 15:04:05.000 MST", false}, {"Jan 02 2006 15:04:05 MST", false}, {time.RFC3339Nano, false}} {
		if t, err := time.ParseInLocation(l.layout, v, loc); err == nil {
			return t, l.local, true
		}
	}
	return time.Time{}, false, false
}
