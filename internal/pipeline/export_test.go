package pipeline

import "github.com/kuzet-kz/kuzet/internal/ingest"

// SetProcessHook installs a hook run before each record is processed.
func SetProcessHook(h func(ingest.Record)) { processHook = h }
