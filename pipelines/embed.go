// Package pipelines embeds kuzet's declarative pipelines: one YAML file per
// source type (internal/pipeline runs them), and in sigma/ the Sigma
// processing pipelines.
package pipelines

import "embed"

// FS holds the normalisation pipelines (*.yaml at this directory's root).
//
//go:embed *.yaml
var FS embed.FS
