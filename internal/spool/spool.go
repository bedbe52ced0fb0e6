// Package spool is the collector's write-ahead log of accepted events. An
// event is appended to the spool when the collector accepts it, before it is
// published; a batch is sealed in the spool under its batch id; a published
// batch is confirmed. After a crash (even SIGKILL: appends are written
// through to the operating system at once), Open recovers every sealed batch
// not yet confirmed, with its original batch id, so JetStream's duplicate
// window drops what had in fact been published, and the events that were
// accepted but not yet sealed, so nothing accepted is lost and every event
// keeps its id and received_at.
//
// # Format
//
// The log is a sequence of segment files named by the logical byte position
// of their first record (%020d.seg). A record is: payload length (uint32
// little endian), CRC-32C of kind and payload (uint32), kind (1 byte: 1 an
// event document, 2 a seal with the batch id, 3 a source mark "key\0value"
// written with the event before it), payload. The file "checkpoint" holds the
// position before which every record is confirmed, then the marks ("key\t
// value" lines); segments wholly before it are deleted. A torn record at the end of the log
// (a crash during a write) is cut off at recovery.
//
// Set Fsync to survive power loss too; without it, records survive a crash
// of the process but not of the machine.
package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Record kinds.
const (
	kindEvent byte = 1
	kindSeal  byte = 2
	// kindMark records a source position (a file offset) reached by the
	// event written just before it, in the same write.
	kindMark byte = 3
)

const headerLen = 9

// MaxRecord bounds one record's payload.
const MaxRecord = 16 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Options configure a spool.
type Options struct {
	Dir string
	// SegmentBytes is the size at which a new segment starts; default 64 MiB.
	SegmentBytes int64
	// Fsync syncs every seal and checkpoint to stable storage.
	Fsync bool
}

// Batch is a group of recovered events.
type Batch struct {
	// ID is the batch id it was sealed with, "" for events accepted but not
	// sealed before the crash (seal them again under a new id).
	ID   string
	Docs [][]byte
	// Start and End delimit the batch's records in the log.
	Start, End int64
}

// Spool is an open write-ahead log. Append and Seal are serialised by the
// caller's batcher; Confirm may be called concurrently.
type Spool struct {
	opts Options

	mu        sync.Mutex
	segs      []int64 // segment start positions, ascending
	f         *os.File
	end       int64 // logical position of the end of the log
	segStart  int64
	batchFrom int64 // position where the open (unsealed) batch starts
	// inflight maps a sealed batch's start to its end and whether it is
	// confirmed; the checkpoint advances over confirmed batches in order.
	inflight   map[int64]*span
	order      []int64
	checkpoint int64
	recovered  []Batch
	buf        []byte
	// marks holds the latest value of each source mark (see AppendMarked).
	marks map[string]string
}

type span struct {
	end       int64
	confirmed bool
}

// Open opens or creates the spool in o.Dir and recovers its unconfirmed
// batches (see Recovered).
func Open(o Options) (*Spool, error) {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, err
	}
	s := &Spool{opts: o, inflight: map[int64]*span{}, marks: map[string]string{}}
	if err := s.recover(); err != nil {
		return nil, err
	}
	return s, nil
}

func segName(pos int64) string { return fmt.Sprintf("%020d.seg", pos) }

func (s *Spool) recover() error {
	if data, err := os.ReadFile(filepath.Join(s.opts.Dir, "checkpoint")); err == nil {
		// First line: the position; then one mark per line, "key\tvalue".
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		n, err := strconv.ParseInt(strings.TrimSpace(lines[0]), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("spool: corrupt checkpoint %q", lines[0])
		}
		s.checkpoint = n
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, "\t"); ok {
				s.marks[k] = v
			}
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		pos, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			return fmt.Errorf("spool: unexpected file %s", e.Name())
		}
		s.segs = append(s.segs, pos)
	}
	slices.Sort(s.segs)
	// Delete segments wholly before the checkpoint.
	for len(s.segs) > 1 && s.segs[1] <= s.checkpoint {
		if err := os.Remove(filepath.Join(s.opts.Dir, segName(s.segs[0]))); err != nil {
			return err
		}
		s.segs = s.segs[1:]
	}
	if len(s.segs) == 0 {
		s.segs = []int64{s.checkpoint}
		s.end = s.checkpoint
		return s.openSegment(s.checkpoint, true)
	}
	// Scan from the checkpoint (or the first segment) to the end.
	var cur *Batch
	pos := s.segs[0]
	for i, seg := range s.segs {
		pos = seg
		path := filepath.Join(s.opts.Dir, segName(seg))
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		torn := false
		for {
			kind, payload, n, err := readRecord(r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				torn = true
				break
			}
			if pos >= s.checkpoint {
				switch kind {
				case kindEvent:
					if cur == nil {
						cur = &Batch{Start: pos}
					}
					cur.Docs = append(cur.Docs, payload)
					cur.End = pos + n
				case kindMark:
					if k, v, ok := strings.Cut(string(payload), "\x00"); ok {
						s.marks[k] = v
					}
					if cur != nil {
						cur.End = pos + n // the mark belongs to the batch of its event
					}
				case kindSeal:
					if cur == nil {
						cur = &Batch{Start: pos}
					}
					cur.ID = string(payload)
					cur.End = pos + n
					s.recovered = append(s.recovered, *cur)
					cur = nil
				}
			}
			pos += n
		}
		f.Close()
		if torn {
			// Cut the torn tail and anything after it.
			if err := os.Truncate(path, pos-seg); err != nil {
				return err
			}
			for _, later := range s.segs[i+1:] {
				_ = os.Remove(filepath.Join(s.opts.Dir, segName(later)))
			}
			s.segs = s.segs[:i+1]
			break
		}
	}
	if cur != nil {
		s.recovered = append(s.recovered, *cur)
	}
	s.end = pos
	// Recovered batches are in flight again until confirmed. The caller
	// seals unsealed ones anew (Reseal) before confirming them.
	for _, b := range s.recovered {
		s.track(b.Start, b.End)
	}
	s.batchFrom = s.end
	return s.openSegment(s.segs[len(s.segs)-1], false)
}

func readRecord(r *bufio.Reader) (kind byte, payload []byte, n int64, err error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, 0, errors.New("torn header")
		}
		return 0, nil, 0, err
	}
	l := binary.LittleEndian.Uint32(h[0:4])
	sum := binary.LittleEndian.Uint32(h[4:8])
	kind = h[8]
	if l > MaxRecord || (kind != kindEvent && kind != kindSeal && kind != kindMark) {
		return 0, nil, 0, errors.New("bad header")
	}
	payload = make([]byte, l)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, 0, errors.New("torn payload")
	}
	c := crc32.Update(crc32.Update(0, crcTable, []byte{kind}), crcTable, payload)
	if c != sum {
		return 0, nil, 0, errors.New("checksum mismatch")
	}
	return kind, payload, int64(headerLen) + int64(l), nil
}

func (s *Spool) openSegment(start int64, create bool) error {
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			return err
		}
	}
	flags := os.O_WRONLY | os.O_APPEND
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, segName(start)), flags, 0o640)
	if err != nil {
		return err
	}
	s.f, s.segStart = f, start
	return nil
}

// Recovered returns the batches found unconfirmed at Open, oldest first.
// The caller publishes each (sealing the one without id first, with Reseal)
// and confirms it.
func (s *Spool) Recovered() []Batch { return s.recovered }

func (s *Spool) write(kind byte, payload []byte) (int64, error) {
	return s.writeRecords(kind, payload, 0, nil)
}

func appendRecord(buf []byte, kind byte, payload []byte) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	c := crc32.Update(crc32.Update(0, crcTable, []byte{kind}), crcTable, payload)
	buf = binary.LittleEndian.AppendUint32(buf, c)
	buf = append(buf, kind)
	return append(buf, payload...)
}

// writeRecords writes one record, and a second when kind2 is set, with one
// write call: a process killed in between leaves both or neither.
func (s *Spool) writeRecords(kind byte, payload []byte, kind2 byte, payload2 []byte) (int64, error) {
	if len(payload) > MaxRecord || len(payload2) > MaxRecord {
		return 0, fmt.Errorf("spool: record over %d bytes", MaxRecord)
	}
	if s.end-s.segStart >= s.opts.SegmentBytes {
		s.segs = append(s.segs, s.end)
		if err := s.openSegment(s.end, true); err != nil {
			return 0, err
		}
	}
	s.buf = appendRecord(s.buf[:0], kind, payload)
	if kind2 != 0 {
		s.buf = appendRecord(s.buf, kind2, payload2)
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return 0, fmt.Errorf("spool: write: %w", err)
	}
	start := s.end
	s.end += int64(len(s.buf))
	return start, nil
}

// Append writes an accepted event's document to the log.
func (s *Spool) Append(doc []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.write(kindEvent, doc)
	return err
}

// AppendMarked writes an event's document and a source mark (key and
// value, such as a file and the offset after the line the event came from)
// in one write: after a crash, Marks gives the position reached by the
// events the spool holds, so the source resumes exactly after them.
func (s *Spool) AppendMarked(doc []byte, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.writeRecords(kindEvent, doc, kindMark, []byte(key+"\x00"+value)); err != nil {
		return err
	}
	s.marks[key] = value
	return nil
}

// Marks returns the latest value of every source mark.
func (s *Spool) Marks() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.marks))
	for k, v := range s.marks {
		out[k] = v
	}
	return out
}

// ForgetMark drops a mark (a file that no longer exists) from the next
// checkpoint.
func (s *Spool) ForgetMark(key string) {
	s.mu.Lock()
	delete(s.marks, key)
	s.mu.Unlock()
}

// Seal closes the open batch under id and returns its extent. The batch is
// in flight until Confirm(start).
func (s *Spool) Seal(id string) (start, end int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.write(kindSeal, []byte(id)); err != nil {
		return 0, 0, err
	}
	if s.opts.Fsync {
		if err := s.f.Sync(); err != nil {
			return 0, 0, err
		}
	}
	start, end = s.batchFrom, s.end
	s.batchFrom = s.end
	s.track(start, end)
	return start, end, nil
}

// Reseal seals a recovered batch that had no id: it appends a seal for it
// (the seal is found at the next recovery after the batch's events and the
// records written since, which recovery then attributes to the batch too; so
// Reseal must be called before any Append).
func (s *Spool) Reseal(b *Batch, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end != s.batchFrom || b.End != s.end {
		return errors.New("spool: Reseal after Append, or of a batch that is not the last")
	}
	if _, err := s.write(kindSeal, []byte(id)); err != nil {
		return err
	}
	delete(s.inflight, b.Start)
	s.order = slices.DeleteFunc(s.order, func(p int64) bool { return p == b.Start })
	b.ID, b.End = id, s.end
	s.batchFrom = s.end
	s.track(b.Start, b.End)
	return nil
}

func (s *Spool) track(start, end int64) {
	s.inflight[start] = &span{end: end}
	s.order = append(s.order, start)
}

// Confirm records that the batch starting at start is published. The
// checkpoint advances over every confirmed batch at the front of the log,
// and segments wholly before it are deleted.
func (s *Spool) Confirm(start int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.inflight[start]
	if !ok {
		return fmt.Errorf("spool: no batch in flight at %d", start)
	}
	sp.confirmed = true
	advanced := false
	for len(s.order) > 0 {
		front := s.inflight[s.order[0]]
		if !front.confirmed {
			break
		}
		s.checkpoint = front.end
		delete(s.inflight, s.order[0])
		s.order = s.order[1:]
		advanced = true
	}
	if !advanced {
		return nil
	}
	return s.saveCheckpoint()
}

func (s *Spool) saveCheckpoint() error {
	tmp := filepath.Join(s.opts.Dir, "checkpoint.tmp")
	// The marks saved are those of events already in the spool, so they
	// stay valid when the records that carried them are deleted.
	var b strings.Builder
	b.WriteString(strconv.FormatInt(s.checkpoint, 10) + "\n")
	for k, v := range s.marks {
		b.WriteString(k + "\t" + v + "\n")
	}
	if err := os.WriteFile(tmp, []byte(b.String()), 0o640); err != nil {
		return err
	}
	if s.opts.Fsync {
		if f, err := os.Open(tmp); err == nil {
			_ = f.Sync()
			f.Close()
		}
	}
	if err := os.Rename(tmp, filepath.Join(s.opts.Dir, "checkpoint")); err != nil {
		return err
	}
	for len(s.segs) > 1 && s.segs[1] <= s.checkpoint {
		if err := os.Remove(filepath.Join(s.opts.Dir, segName(s.segs[0]))); err != nil {
			return err
		}
		s.segs = s.segs[1:]
	}
	return nil
}

// Pending returns the bytes in the log after the checkpoint, and the number
// of batches in flight.
func (s *Spool) Pending() (bytes int64, batches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end - s.checkpoint, len(s.order)
}

// Close closes the log file. Unconfirmed batches are recovered at the next
// Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
