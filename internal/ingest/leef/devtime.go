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

// DevTime interprets the devTime attribute: with devTimeFormat if given,
// else as epoch milliseconds, else as the LEEF default "MMM dd yyyy
// HH:mm:ss". Zone-less times are in loc.
func (r *Record) DevTime(loc *time.Location) (time.Time, bool) {
	v, ok := r.Get("devTime")
	if !ok || v == "" {
		return time.Time{}, false
	}
	if f, ok := r.Get("devTimeFormat"); ok && f != "" {
		t, err := time.ParseInLocation(JavaLayout(f), v, loc)
		return t, err == nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 1e11 {
		return time.UnixMilli(ms).UTC(), true
	}
	for _, l := range []string{"Jan 02 2006 15:04:05", "Jan 02 2006 15:04:05.000 MST", "Jan 02 2006 15:04:05 MST", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
