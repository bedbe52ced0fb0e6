package collector

import (
	"bufio"
	"bytes"
	"os"
)

// journal appends the ids of accepted events to a file, one per line, for
// `kuzet verify`. Lines are buffered and flushed when a batch is sealed;
// after a crash, the spool's recovered events are journaled again, so every
// accepted id reaches the journal (some twice: verify reads it as a set).
// A nil journal does nothing.
type journal struct {
	f *os.File
	w *bufio.Writer
}

func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &journal{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

var idKey = []byte(`"event_id":"`)

// add journals the id found in an event document.
func (j *journal) add(doc []byte) {
	if j == nil {
		return
	}
	i := bytes.Index(doc, idKey)
	if i < 0 || len(doc) < i+len(idKey)+36 {
		return
	}
	j.w.Write(doc[i+len(idKey) : i+len(idKey)+36])
	j.w.WriteByte('\n')
}

func (j *journal) flush() error {
	if j == nil {
		return nil
	}
	return j.w.Flush()
}

func (j *journal) close() error {
	if j == nil {
		return nil
	}
	if err := j.w.Flush(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}
