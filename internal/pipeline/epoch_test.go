package pipeline

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseEpochRef is parseEpoch as it was before it checked the digits
// itself: the reference the shortcut must agree with.
func parseEpochRef(s string, shift int) (time.Time, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 19 || strings.HasPrefix(whole, "-") {
		return time.Time{}, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	for _, c := range frac {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
	}
	frac = (frac + "000000000")[:shift]
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
	}
	mul := int64(math.Pow10(shift))
	if w > math.MaxInt64/max(mul, 1) {
		return time.Time{}, false
	}
	return time.Unix(0, w*mul+f).UTC(), true
}

func FuzzParseEpoch(f *testing.F) {
	for _, s := range []string{"1521911720.865716", "+1521911720", "-5", "+", "", "2018-03-24T17:15:20.865716Z", "9223372036854775807",
		"9223372036854775808", "1795500001000000000", "12.x", "1_000", "٣"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		shift := []int{0, 3, 6, 9}[which%4]
		got, gok := parseEpoch(s, shift)
		want, wok := parseEpochRef(s, shift)
		if gok != wok || !got.Equal(want) {
			t.Fatalf("parseEpoch(%q, %d) = %v, %v; want %v, %v", s, shift, got, gok, want, wok)
		}
	})
}
