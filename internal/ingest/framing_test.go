package ingest_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

type frame struct {
	data   string
	reason string // "" for a frame
}

func readAll(t testing.TB, in io.Reader, mode string, max int) []frame {
	t.Helper()
	fr := ingest.NewFrameReader(in, mode, max)
	var out []frame
	for i := 0; i < 100000; i++ {
		b, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			if ingest.ReasonOf(err) == ingest.ReasonOversize {
				// An oversize frame comes back with at most its first max+1
				// bytes; the tests compare the reason only.
				if len(b) > max+1 {
					t.Errorf("oversize prefix of %d bytes", len(b))
				}
				b = nil
			}
			out = append(out, frame{string(b), ingest.ReasonOf(err)})
			if ingest.Fatal(err) {
				return out
			}
			continue
		}
		if len(b) > max {
			t.Errorf("frame of %d bytes over the limit of %d", len(b), max)
		}
		out = append(out, frame{data: string(b)})
	}
	t.Fatal("no end")
	return nil
}

// readers returns the input as one reader, byte by byte, in halves, and
// split in two reads at every byte: a frame must not depend on how TCP
// cut the stream.
func readers(in string) map[string]io.Reader {
	rs := map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
		"half":     iotest.HalfReader(strings.NewReader(in)),
	}
	for i := 1; i < len(in); i++ {
		rs[fmt.Sprintf("split at %d", i)] = io.MultiReader(strings.NewReader(in[:i]), strings.NewReader(in[i:]))
	}
	return rs
}

func TestFraming(t *testing.T) {
	for name, c := range map[string]struct {
		in   string
		mode string
		max  int
		want []frame
	}{
		"lf": {"<13>a b\n<13>c\r\n\n<14>last", ingest.FramingLF, 100,
			[]frame{{"<13>a b", ""}, {"<13>c", ""}, {"<14>last", ""}}},
		"lf keeps NUL": {"<13>a\x00<13>b\n<13>c\x00\n", ingest.FramingLF, 100,
			[]frame{{"<13>a\x00<13>b", ""}, {"<13>c\x00", ""}}},
		"nul": {"<13>a\x00<13>b\x00", ingest.FramingNUL, 100, []frame{{"<13>a", ""}, {"<13>b", ""}}},
		"nul keeps LF": {"<13>a\nb\r\n\x00\x00<13>c\n\x00", ingest.FramingNUL, 100,
			[]frame{{"<13>a\nb", ""}, {"<13>c", ""}}},
		"octet rfc6587": {"19 <13>1 - - - - - - a12 <13>1 - - x\n", ingest.FramingOctet, 100,
			[]frame{{"<13>1 - - - - - - a", ""}, {"<13>1 - - x\n", ""}}},
		"auto octet": {"11 <13>octet!\n10 <13>second\n5 <13>x", ingest.FramingAuto, 100,
			[]frame{{"<13>octet!\n", ""}, {"<13>second", ""}, {"<13>x", ""}}},
		"auto octet stays octet": {"11 <13>octet!\n<13>line\n5 <13>x", ingest.FramingAuto, 100,
			[]frame{{"<13>octet!\n", ""}, {"<13>line", ingest.ReasonSyntax}, {"<13>x", ""}}},
		"auto number and space is a line": {"70000 bytes transferred\n<13>next\n", ingest.FramingAuto, 100,
			[]frame{{"70000 bytes transferred", ""}, {"<13>next", ""}}},
		"auto zero space is a line": {"0 errors found\n0 <13>x\n", ingest.FramingAuto, 100,
			[]frame{{"0 errors found", ""}, {"0 <13>x", ""}}},
		"auto numbered lines": {"150 OK m0\n150 OK m1\n150 OK m2", ingest.FramingAuto, 100,
			[]frame{{"150 OK m0", ""}, {"150 OK m1", ""}, {"150 OK m2", ""}}},
		"auto nine digits octet": {"123456789 <13>x", ingest.FramingAuto, 100, []frame{{"<13>x", ingest.ReasonTruncated}}},
		"auto nine digits line":  {"123456789 rows\n", ingest.FramingAuto, 100, []frame{{"123456789 rows", ""}}},
		"auto ten digits line":   {"1234567890 <13>x\n", ingest.FramingAuto, 100, []frame{{"1234567890 <13>x", ""}}},
		"auto digits line":       {"2026-11-24 10:00:01 fw1 deny\n", ingest.FramingAuto, 100, []frame{{"2026-11-24 10:00:01 fw1 deny", ""}}},
		"auto lf first keeps NUL": {"<13>a\n<13>b\x00c\n", ingest.FramingAuto, 100,
			[]frame{{"<13>a", ""}, {"<13>b\x00c", ""}}},
		"auto nul first": {"\x00<13>a\x00<13>b\n\x00<13>c", ingest.FramingAuto, 100,
			[]frame{{"<13>a", ""}, {"<13>b", ""}, {"<13>c", ""}}},
		"oversize line skipped": {"<13>" + strings.Repeat("x", 50) + "\n<13>ok\n", ingest.FramingLF, 20,
			[]frame{{"", ingest.ReasonOversize}, {"<13>ok", ""}}},
		"oversize line with CR inside": {"abcde\rxyz\nok\n", ingest.FramingLF, 5,
			[]frame{{"", ingest.ReasonOversize}, {"ok", ""}}},
		"max line and CRs": {"abcde\r\r\r\nok\n", ingest.FramingLF, 5, []frame{{"abcde", ""}, {"ok", ""}}},
		"oversize octet skipped": {"30 " + strings.Repeat("y", 30) + "4 okay", ingest.FramingOctet, 10,
			[]frame{{"", ingest.ReasonOversize}, {"okay", ""}}},
		"truncated octet": {"50 <13>short", ingest.FramingOctet, 100, []frame{{"<13>short", ingest.ReasonTruncated}}},
		"truncated length": {"5 <13>x12", ingest.FramingOctet, 100,
			[]frame{{"<13>x", ""}, {"12", ingest.ReasonTruncated}}},
		"octet garbage resyncs": {"<13>not octet\n4 okay", ingest.FramingOctet, 100,
			[]frame{{"<13>not octet", ingest.ReasonSyntax}, {"okay", ""}}},
		"octet zero length": {"0 errors found\n4 okay", ingest.FramingOctet, 100,
			[]frame{{"0 errors found", ingest.ReasonSyntax}, {"okay", ""}}},
		"octet bad then LF": {"12\n4 okay", ingest.FramingOctet, 100, []frame{{"12", ingest.ReasonSyntax}, {"okay", ""}}},
		"exact max":         {"abcde\nabcdef\n", ingest.FramingLF, 5, []frame{{"abcde", ""}, {"", ingest.ReasonOversize}}},
		"empty":             {"", ingest.FramingAuto, 10, nil},
	} {
		t.Run(name, func(t *testing.T) {
			for how, r := range readers(c.in) {
				got := readAll(t, r, c.mode, c.max)
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s: got %q, want %q", how, got, c.want)
				}
			}
		})
	}
}

// TestFramingLineNumbers: Line counts every LF, empty lines included, so
// an HTTP sender can resume at a line number.
func TestFramingLineNumbers(t *testing.T) {
	fr := ingest.NewFrameReader(strings.NewReader("a\n\nb\r\n\n\nc\n"), ingest.FramingLF, 10)
	var lines []int
	for {
		if _, err := fr.Next(); err != nil {
			break
		}
		lines = append(lines, fr.Line())
	}
	if !slices.Equal(lines, []int{1, 3, 6}) {
		t.Errorf("lines %v, want [1 3 6]", lines)
	}
}

// TestFramingPartialLineOnError: a read error inside a line returns the
// bytes read so far with the error.
func TestFramingPartialLineOnError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("one\ntw"), iotest.ErrReader(boom))
	fr := ingest.NewFrameReader(r, ingest.FramingLF, 100)
	if b, err := fr.Next(); err != nil || string(b) != "one" {
		t.Fatalf("first: %q %v", b, err)
	}
	b, err := fr.Next()
	if !errors.Is(err, boom) || string(b) != "tw" {
		t.Errorf("second: %q %v, want \"tw\" and the read error", b, err)
	}
}

// chunkReader returns its data in reads of the sizes it cycles through.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = int(c.sizes[c.i%len(c.sizes)])%16 + 1
		c.i++
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// lineModel is what line framing must make of data (one delimiter, the
// bytes trimmed at a frame's ends), written the simple way.
func lineModel(data []byte, delim byte, trim string, max int) []frame {
	var out []frame
	for _, p := range bytes.Split(data, []byte{delim}) {
		p = bytes.Trim(p, trim)
		switch {
		case len(p) == 0:
		case len(p) > max:
			out = append(out, frame{"", ingest.ReasonOversize})
		default:
			out = append(out, frame{string(p), ""})
		}
	}
	return out
}

func FuzzFraming(f *testing.F) {
	for _, s := range []string{"<13>a\n<14>b\n", "10 <13>abcdef5 <13>x", "999999999 x", "\x00\x00\n", "12 <13>1 - - -\n",
		"70000 bytes transferred\n0 errors\n", "<13>a\x00b\n", "\x00<13>a\x00<13>b\n\x00", "5 <13>x\n<13>y\n"} {
		for m := range 4 {
			f.Add([]byte(s), uint8(m), []byte{3, 1, 7})
		}
	}
	modes := []string{ingest.FramingAuto, ingest.FramingLF, ingest.FramingNUL, ingest.FramingOctet}
	f.Fuzz(func(t *testing.T, data []byte, m uint8, sizes []byte) {
		mode := modes[int(m)%len(modes)]
		whole := readAll(t, bytes.NewReader(data), mode, 64)
		chunked := readAll(t, &chunkReader{data: data, sizes: sizes}, mode, 64)
		if !slices.Equal(whole, chunked) {
			t.Fatalf("chunked reads change the frames of %q:\n%q\n%q", data, whole, chunked)
		}
		total := 0
		for _, fr := range whole {
			total += len(fr.data)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of frames from %d bytes", total, len(data))
		}
		var want []frame
		switch mode {
		case ingest.FramingLF:
			want = lineModel(data, '\n', "\r", 64)
		case ingest.FramingNUL:
			want = lineModel(data, 0, "\r\n", 64)
		case ingest.FramingAuto:
			rest := bytes.TrimLeft(data, "\r\n\x00")
			if octetStart(rest) {
				return
			}
			if i := bytes.IndexAny(rest, "\n\x00"); i >= 0 && rest[i] == 0 {
				want = lineModel(rest, 0, "\r\n", 64)
			} else {
				want = lineModel(rest, '\n', "\r", 64)
			}
		default:
			return
		}
		if !slices.Equal(whole, want) {
			t.Fatalf("frames of %q in %s:\n got %q\nwant %q", data, mode, whole, want)
		}
	})
}

// octetStart reports whether p starts with 1-9 digits, a space and '<'.
func octetStart(p []byte) bool {
	i := 0
	for i < len(p) && i < 10 && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	return i >= 1 && i <= 9 && len(p) > i+1 && p[i] == ' ' && p[i+1] == '<'
}
