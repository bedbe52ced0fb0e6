package sigma

import "strings"

// lower lower-cases s, without allocating when it has no upper-case ASCII
// and is ASCII.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
