package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// File inputs tail files matched by globs, line by line.
//
// Position: a file is known by its device and inode, so a rotation by
// rename is followed (the renamed file is read to its end, the new file at
// the path from its start) and a copytruncate is noticed (the size falls
// below the position: start again at 0). The position reached by each
// accepted event is written to the spool with the event, in the same write
// (spool marks), so after a crash or a restart the input resumes exactly
// after the last accepted line: nothing accepted is read twice, nothing
// read is lost. A mark also keeps a fingerprint of the file's first bytes,
// so a new file that reuses a deleted file's inode starts from its own
// beginning.
type fileInput struct {
	listener
	open openFileRecords
	// marks are the spool's marks at start; forget drops a file's mark.
	marks  map[string]string
	forget func(key string)
	cancel context.CancelFunc
	done   chan struct{}
}

// fileRecords is the handler of one tailed file: records whose accepted
// events carry the file's position as a spool mark. *source implements it.
type fileRecords interface {
	records
	// setMark makes every event accepted from now on carry key=value; an
	// empty key stops marking.
	setMark(key, value string)
	// joining reports whether the pipeline joins lines (auditd).
	joining() bool
	// tick emits the joined events whose linger time is over.
	tick(now time.Time)
	// drain emits what a joining pipeline still holds.
	drain()
}

// openFileRecords opens the handler of a newly found file.
type openFileRecords func(ctx context.Context) (fileRecords, error)

// filePoll is how often files are looked for and read.
const filePoll = 200 * time.Millisecond

// fileIdle is how long a file that no glob matches any more (rotated away,
// deleted) stays open after its last data.
const fileIdle = 5 * time.Second

type tailed struct {
	key      string
	path     string
	f        *os.File
	offset   int64
	fp       string // fingerprint of the first fpLen bytes, "" until the file has them
	src      fileRecords
	joining  bool
	partial  []byte
	skipping bool // inside an oversize line
	lastData time.Time
	matched  bool
}

const fpLen = 64

func fileKey(st os.FileInfo) (string, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("file:%d:%d", sys.Dev, sys.Ino), true
}

func startFile(ctx context.Context, l listener, open openFileRecords, marks map[string]string, forget func(key string)) (input, error) {
	ctx, cancel := context.WithCancel(ctx)
	in := &fileInput{listener: l, open: open, marks: marks, forget: forget, cancel: cancel, done: make(chan struct{})}
	go in.run(ctx)
	return in, nil
}
func (in *fileInput) addr() string { return strings.Join(in.cfg.Paths, ",") }

func (in *fileInput) close(ctx context.Context) error {
	in.cancel()
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (in *fileInput) run(ctx context.Context) {
	defer close(in.done)
	files := map[string]*tailed{}
	defer func() {
		for _, t := range files {
			t.f.Close()
		}
	}()
	marks := in.marks
	t := time.NewTicker(filePoll)
	defer t.Stop()
	for {
		in.discover(ctx, files, marks)
		for _, tf := range sortedFiles(files) {
			if ctx.Err() != nil {
				return
			}
			in.read(ctx, tf)
			if !tf.matched && time.Since(tf.lastData) > fileIdle {
				// Rotated away or deleted, and read to its end.
				in.flushStream(tf)
				tf.f.Close()
				delete(files, tf.key)
				in.forget(tf.key)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sortedFiles(m map[string]*tailed) []*tailed {
	out := make([]*tailed, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// discover opens files newly matched by the globs.
func (in *fileInput) discover(ctx context.Context, files map[string]*tailed, marks map[string]string) {
	for _, t := range files {
		t.matched = false
	}
	for _, g := range in.cfg.Paths {
		paths, _ := filepath.Glob(g)
		for _, p := range paths {
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				continue
			}
			key, ok := fileKey(st)
			if !ok {
				continue
			}
			if t := files[key]; t != nil {
				t.matched, t.path = true, p
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				in.log.Warn("file input: open", "input", in.cfg.Name, "path", p, "err", err)
				continue
			}
			src, err := in.open(ctx)
			if err != nil {
				f.Close()
				in.log.Error("file input: pipeline", "input", in.cfg.Name, "err", err)
				continue
			}
			t := &tailed{key: key, path: p, f: f, src: src, matched: true, lastData: time.Now()}
			t.joining = src.joining()
			t.offset = in.startOffset(t, marks[key], st.Size())
			files[key] = t
			in.log.Info("file input: reading", "input", in.cfg.Name, "path", p, "offset", t.offset)
		}
	}
}

// startOffset is where to read a file from: its mark, unless the file is
// not the one the mark was made on; else the configured start.
func (in *fileInput) startOffset(t *tailed, mark string, size int64) int64 {
	if mark != "" {
		offStr, fp, _ := strings.Cut(mark, "|")
		off, err := strconv.ParseInt(offStr, 10, 64)
		if err == nil && off <= size && (fp == "" || fp == fingerprint(t.f)) {
			t.fp = fp
			return off
		}
		return 0 // truncated, or another file on a reused inode
	}
	if in.cfg.StartAt == "end" {
		return size
	}
	return 0
}

func fingerprint(f *os.File) string {
	b := make([]byte, fpLen)
	n, _ := f.ReadAt(b, 0)
	if n < fpLen {
		return ""
	}
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 16)
}

// read reads what the file has after the offset and hands complete lines
// to the pipeline.
func (in *fileInput) read(ctx context.Context, t *tailed) {
	st, err := t.f.Stat()
	if err != nil {
		return
	}
	if st.Size() < t.offset {
		in.log.Info("file input: truncated, reading from the start", "input", in.cfg.Name, "path", t.path)
		t.offset, t.partial, t.skipping = 0, t.partial[:0], false
	}
	if st.Size() == t.offset {
		if t.joining {
			t.src.setMark(t.key, t.markValue(t.offset))
			t.src.tick(time.Now())
			t.src.setMark("", "")
		}
		return
	}
	if t.fp == "" && st.Size() >= fpLen {
		t.fp = fingerprint(t.f)
	}
	max := maxRecord(in.cfg)
	buf := make([]byte, 64<<10)
	for ctx.Err() == nil {
		n, err := t.f.ReadAt(buf, t.offset+int64(len(t.partial)))
		if n > 0 {
			t.lastData = time.Now()
			in.lines(t, buf[:n], max)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				in.log.Warn("file input: read", "input", in.cfg.Name, "path", t.path, "err", err)
			}
			return
		}
	}
}

// lines splits data (following t.partial) into lines and pushes them.
func (in *fileInput) lines(t *tailed, data []byte, max int) {
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			if !t.skipping {
				t.partial = append(t.partial, data...)
				if len(t.partial) > max {
					in.oversize(t)
				}
			} else {
				t.offset += int64(len(data))
			}
			return
		}
		if t.skipping {
			// The end of an oversize line: skip it.
			t.offset += int64(nl + 1)
			t.skipping = false
			data = data[nl+1:]
			continue
		}
		line := append(t.partial, data[:nl]...)
		start := t.offset
		end := start + int64(len(line)) + 1
		data = data[nl+1:]
		t.partial = t.partial[:0]
		rec := bytes.TrimRight(line, "\r")
		if len(rec) > max {
			t.src.reject(ingest.Record{Data: rec[:max], Input: in.cfg.Name, Pipeline: in.cfg.Pipeline, File: t.path, ReceivedAt: in.now().UTC()},
				ingest.Errorf(ingest.ReasonOversize, "line of %d bytes over the limit of %d", len(rec), max))
			t.offset = end
			continue
		}
		if len(bytes.TrimSpace(rec)) > 0 {
			in.push(t, rec, start, end)
		}
		t.offset = end
	}
}

// oversize quarantines the start of a line over the limit and skips the
// rest of it.
func (in *fileInput) oversize(t *tailed) {
	max := maxRecord(in.cfg)
	in.m.received.WithLabelValues(in.cfg.Name).Inc()
	t.src.reject(ingest.Record{Data: t.partial[:min(len(t.partial), max)], Input: in.cfg.Name, Pipeline: in.cfg.Pipeline,
		File: t.path, ReceivedAt: in.now().UTC()},
		ingest.Errorf(ingest.ReasonOversize, "line over the limit of %d bytes", max))
	t.offset += int64(len(t.partial))
	t.partial = t.partial[:0]
	t.skipping = true
}

func (t *tailed) markValue(off int64) string {
	return strconv.FormatInt(off, 10) + "|" + t.fp
}

// push normalises one line. The events it completes are marked with the
// position up to which every line is accepted: the line's end, or for a
// stream that joins lines (auditd) the start of the lines it still holds.
func (in *fileInput) push(t *tailed, line []byte, start, end int64) {
	rec := ingest.Record{Data: line, Input: in.cfg.Name, Pipeline: in.cfg.Pipeline, File: t.path, ReceivedAt: in.now().UTC()}
	mark := end
	if t.joining {
		// Events a joining stream completes on this line are made of the
		// lines before it; this line itself is held.
		mark = start
	}
	t.src.setMark(t.key, t.markValue(mark))
	_, _ = t.src.handle(rec) // counted and, if rejected, quarantined; a stopping collector ends the read loop
	t.src.setMark("", "")
}

// flushStream emits what a joining stream still holds (the file is done).
func (in *fileInput) flushStream(t *tailed) {
	t.src.setMark(t.key, t.markValue(t.offset))
	t.src.drain()
	t.src.setMark("", "")
}
