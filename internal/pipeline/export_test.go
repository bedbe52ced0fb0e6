package pipeline

import (
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// SetProcessHook installs a hook run before each record is processed.
func SetProcessHook(h func(ingest.Record)) { processHook = h }

// RunOne normalises one record as the pipeline examples do (runOne).
func (s *Set) RunOne(name string, data []byte) (*event.Event, error) { return s.runOne(name, data) }
