package access

import (
	"fmt"
	"strings"
)

// TLP 2.0 labels, lowest to highest, without "TLP:".
var tlpLabels = []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}

// TLPRank orders TLP labels: CLEAR 0, GREEN 1, AMBER 2, AMBER+STRICT 3,
// RED 4; an unknown label is -1. WHITE (TLP 1.0) is CLEAR.
func TLPRank(label string) int {
	l := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(label)), "TLP:")
	if l == "WHITE" {
		l = "CLEAR"
	}
	for i, x := range tlpLabels {
		if x == l {
			return i
		}
	}
	return -1
}

// TLPAtOrBelow lists the labels at or below ceiling, lowest first.
func TLPAtOrBelow(ceiling string) []string {
	r := TLPRank(ceiling)
	if r < 0 {
		return nil
	}
	return append([]string(nil), tlpLabels[:r+1]...)
}

// DefaultTLPCeiling is a role's ceiling when its key names none: the
// NCC's analysts AMBER+STRICT; OISC, sector analysts and owners AMBER;
// regulators GREEN; admins CLEAR (they read no incident data). TLP:RED is
// never a ceiling: a RED record is read by its named recipients only.
func DefaultTLPCeiling(r Role) string {
	switch r {
	case NCCAnalyst:
		return "AMBER+STRICT"
	case OISCAnalyst, SectorAnalyst, Owner:
		return "AMBER"
	case Regulator:
		return "GREEN"
	}
	return "CLEAR"
}

// ValidTLPCeiling checks a configured ceiling: a TLP label below RED.
func ValidTLPCeiling(s string) error {
	if r := TLPRank(s); r < 0 || r >= TLPRank("RED") {
		return fmt.Errorf("TLP ceiling %q: want CLEAR, GREEN, AMBER or AMBER+STRICT (RED goes to named recipients only)", s)
	}
	return nil
}

// Ceiling is the principal's TLP ceiling: its own, else its role's.
func (p Principal) Ceiling() string {
	if p.TLP != "" {
		return strings.ToUpper(p.TLP)
	}
	return DefaultTLPCeiling(p.Role)
}

// MayRead reports whether a record labelled tlp, with recipients named
// for TLP:RED, is within what the scope may read.
func (sc EventScope) MayRead(tlp string, recipients []string) bool {
	if sc.TLPMax == "" {
		return true
	}
	r := TLPRank(tlp)
	if r < 0 {
		r = TLPRank("AMBER") // unlabelled: the default label
	}
	if r == TLPRank("RED") {
		for _, n := range recipients {
			if n == sc.Reader && n != "" {
				return true
			}
		}
		return false
	}
	return r <= TLPRank(sc.TLPMax)
}
