package report

import (
	"github.com/google/uuid"

	"slices"
)

// CatalogueKeys lists the keys of l's catalogue, sorted.
func CatalogueKeys(l Lang) []string {
	var ks []string
	for k := range messages[l] {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// SCOUUID is the UUIDv5 of name in STIX's observable namespace.
func SCOUUID(name string) string { return uuid.NewSHA1(scoNamespace, []byte(name)).String() }
