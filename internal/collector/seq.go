package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// seqBlock is how many batch sequence numbers are reserved per write.
const seqBlock = 10000

// seqAlloc hands out batch sequence numbers that are never reused, across
// restarts and crashes: it persists the end of a reserved block before
// using any number in it, so a restart continues after the block (numbers
// left unused in a block are skipped). Batch ids must be unique because
// JetStream drops a message whose Nats-Msg-Id it has seen in the window.
type seqAlloc struct {
	mu          sync.Mutex
	path        string
	next, limit uint64
}

func openSeq(dir string) (*seqAlloc, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	s := &seqAlloc{path: filepath.Join(dir, "batch.seq")}
	data, err := os.ReadFile(s.path)
	switch {
	case err == nil:
		n, perr := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if perr != nil {
			return nil, fmt.Errorf("collector: %s is corrupt: %w", s.path, perr)
		}
		s.limit = n
	case os.IsNotExist(err):
	default:
		return nil, err
	}
	s.next = s.limit + 1
	if err := s.reserve(); err != nil {
		return nil, err
	}
	return s, nil
}

// reserve persists limit+seqBlock as the new limit.
func (s *seqAlloc) reserve() error {
	limit := s.limit + seqBlock
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strconv.FormatUint(limit, 10) + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	s.limit = limit
	return nil
}

// Next returns the next sequence number.
func (s *seqAlloc) Next() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next > s.limit {
		if err := s.reserve(); err != nil {
			return 0, fmt.Errorf("collector: reserve batch sequence: %w", err)
		}
	}
	n := s.next
	s.next++
	return n, nil
}
