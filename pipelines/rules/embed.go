// Package rules embeds kuzet's own Sigma rule pack, loaded by the ncc next
// to the rule directories it is configured with.
package rules

import "embed"

// FS holds the rules (*.yml).
//
//go:embed *.yml
var FS embed.FS
