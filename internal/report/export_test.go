package report

import (
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
