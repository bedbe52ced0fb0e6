package spool_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/spool"
)

func open(t *testing.T, dir string, seg int64) *spool.Spool {
	t.Helper()
	s, err := spool.Open(spool.Options{Dir: dir, SegmentBytes: seg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendN(t *testing.T, s *spool.Spool, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := s.Append([]byte(fmt.Sprintf(`{"n":"%s-%d"}`, prefix, i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecoverUnconfirmedAndUnsealed(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	appendN(t, s, "a", 3)
	startA, _, err := s.Seal("c1/1")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "b", 2)
	if _, _, err := s.Seal("c1/2"); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "c", 4) // accepted, not sealed: then the process dies
	if err := s.Confirm(startA); err != nil {
		t.Fatal(err)
	}
	// No Close: a crash.
	s2 := open(t, dir, 0)
	rec := s2.Recovered()
	if len(rec) != 2 {
		t.Fatalf("recovered %d batches, want 2: %+v", len(rec), rec)
	}
	if rec[0].ID != "c1/2" || len(rec[0].Docs) != 2 || string(rec[0].Docs[1]) != `{"n":"b-1"}` {
		t.Errorf("batch 2: %+v", rec[0])
	}
	if rec[1].ID != "" || len(rec[1].Docs) != 4 {
		t.Errorf("unsealed tail: %+v", rec[1])
	}
	if err := s2.Reseal(&rec[1], "c1/3"); err != nil {
		t.Fatal(err)
	}
	appendN(t, s2, "d", 1)
	for _, b := range rec {
		if err := s2.Confirm(b.Start); err != nil {
			t.Fatal(err)
		}
	}
	s2.Close()
	s3 := open(t, dir, 0)
	rec = s3.Recovered()
	if len(rec) != 1 || rec[0].ID != "" || len(rec[0].Docs) != 1 || string(rec[0].Docs[0]) != `{"n":"d-0"}` {
		t.Errorf("after confirming: %+v", rec)
	}
}

func TestOutOfOrderConfirm(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	var starts []int64
	for i := 1; i <= 3; i++ {
		appendN(t, s, fmt.Sprint(i), 1)
		st, _, err := s.Seal(fmt.Sprintf("c1/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, st)
	}
	// 3 and 2 confirmed, 1 not: all three come back? No: only 1 is unconfirmed,
	// but the checkpoint cannot pass it, so 2 and 3 are recovered too and their
	// republish is dropped by JetStream's duplicate window (same batch ids).
	_ = s.Confirm(starts[2])
	_ = s.Confirm(starts[1])
	if _, n := s.Pending(); n != 3 {
		t.Errorf("in flight %d, want 3", n)
	}
	s2 := open(t, dir, 0)
	if got := len(s2.Recovered()); got != 3 {
		t.Errorf("recovered %d", got)
	}
	_ = s.Confirm(starts[0])
	if b, n := s.Pending(); n != 0 || b != 0 {
		t.Errorf("pending %d bytes, %d batches after all confirmed", b, n)
	}
	s3 := open(t, dir, 0)
	if got := len(s3.Recovered()); got != 0 {
		t.Errorf("recovered %d after all confirmed", got)
	}
}

func TestTornTailCutOff(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	appendN(t, s, "a", 2)
	_, end, _ := s.Seal("c1/1")
	appendN(t, s, "b", 1)
	s.Close()
	// A crash in the middle of a write: garbage after the last record.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0x20, 0, 0, 0, 1, 2})
	f.Close()
	s2 := open(t, dir, 0)
	rec := s2.Recovered()
	if len(rec) != 2 || len(rec[1].Docs) != 1 {
		t.Fatalf("recovered %+v", rec)
	}
	st, _ := os.Stat(segs[0])
	if st.Size() != rec[1].End {
		t.Errorf("torn tail not cut: size %d, end %d (seal end %d)", st.Size(), rec[1].End, end)
	}
	// A flipped bit in a record is caught by its checksum.
	data, _ := os.ReadFile(segs[0])
	data[len(data)-3] ^= 0xff
	os.WriteFile(segs[0], data, 0o640)
	s3 := open(t, dir, 0)
	if rec := s3.Recovered(); len(rec) != 1 || rec[0].ID != "c1/1" {
		t.Errorf("after corruption: %+v", rec)
	}
}

func TestSegmentsRotateAndAreDeleted(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 200)
	var starts []int64
	for i := 0; i < 20; i++ {
		appendN(t, s, fmt.Sprint(i), 3)
		st, _, err := s.Seal(fmt.Sprintf("c1/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, st)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 5 {
		t.Fatalf("%d segments, want rotation", len(segs))
	}
	for _, st := range starts[:15] {
		if err := s.Confirm(st); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(after) >= len(segs) {
		t.Errorf("confirmed segments not deleted: %d -> %d", len(segs), len(after))
	}
	s2 := open(t, dir, 200)
	rec := s2.Recovered()
	if len(rec) != 5 || rec[0].ID != "c1/15" {
		t.Errorf("recovered %d batches from %q", len(rec), rec[0].ID)
	}
}

func BenchmarkAppend(b *testing.B) {
	s, err := spool.Open(spool.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	doc := make([]byte, 700)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Append(doc); err != nil {
			b.Fatal(err)
		}
		if i%500 == 499 {
			st, _, _ := s.Seal("x")
			_ = s.Confirm(st)
		}
	}
}

func TestMarksSurviveCrashAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for i := 1; i <= 3; i++ {
		if err := s.AppendMarked([]byte(fmt.Sprintf(`{"n":%d}`, i)), "file:1:2", fmt.Sprint(i*100)); err != nil {
			t.Fatal(err)
		}
	}
	st, _, _ := s.Seal("c1/1")
	if err := s.AppendMarked([]byte(`{"n":4}`), "file:9:9", "50"); err != nil {
		t.Fatal(err)
	}
	// Crash before anything is confirmed: the marks come from the records.
	s2 := open(t, dir, 0)
	if m := s2.Marks(); m["file:1:2"] != "300" || m["file:9:9"] != "50" {
		t.Errorf("marks after crash: %v", m)
	}
	rec := s2.Recovered()
	if len(rec) != 2 || len(rec[0].Docs) != 3 || len(rec[1].Docs) != 1 {
		t.Fatalf("recovered %+v", rec)
	}
	// Confirmed and deleted: the marks come from the checkpoint.
	if err := s.Confirm(st); err != nil {
		t.Fatal(err)
	}
	s.ForgetMark("file:9:9")
	if err := s.Confirm(st); err == nil {
		t.Error("confirming twice")
	}
	_, _, _ = s.Seal("c1/2")
	s3 := open(t, dir, 0)
	if m := s3.Marks(); m["file:1:2"] != "300" {
		t.Errorf("marks after checkpoint: %v", m)
	}
}

func TestResealAfterMarkedTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	if err := s.AppendMarked([]byte(`{"n":1}`), "file:1:1", "10"); err != nil {
		t.Fatal(err)
	}
	// Crash: the tail is unsealed and ends with a mark record.
	s2 := open(t, dir, 0)
	rec := s2.Recovered()
	if len(rec) != 1 || rec[0].ID != "" {
		t.Fatalf("recovered %+v", rec)
	}
	if err := s2.Reseal(&rec[0], "c1/9"); err != nil {
		t.Fatalf("reseal of a marked tail: %v", err)
	}
	if err := s2.Confirm(rec[0].Start); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, dir, 0)
	if len(s3.Recovered()) != 0 || s3.Marks()["file:1:1"] != "10" {
		t.Errorf("after confirm: %+v %v", s3.Recovered(), s3.Marks())
	}
}
