// Package sigmapipelines embeds the Sigma processing pipelines: log-source
// routing, field mappings and placeholder values (internal/sigma loads
// them).
package sigmapipelines

import "embed"

// FS holds the pipelines (*.yaml).
//
//go:embed *.yaml
var FS embed.FS
