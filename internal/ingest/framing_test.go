package ingest_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

type frame struct {
	data   string
	reason string // "" for a frame
}

func readAll(t *testing.T, in io.Reader, mode string, max int) []frame {
	t.Helper()
	fr := ingest.NewFrameReader(in, mode, max)
	var out []frame
	for i := 0; i < 1000; i++ {
		b, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			if ingest.ReasonOf(err) == ingest.ReasonOversize {
				// An oversize line comes back with at most its first max+1
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
		out = append(out, frame{data: string(b)})
	}
	t.Fatal("no end")
	return nil
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
		"nul": {"<13>a\x00<13>b\x00", ingest.FramingLF, 100, []frame{{"<13>a", ""}, {"<13>b", ""}}},
		"octet rfc6587": {"19 <13>1 - - - - - - a12 <13>1 - - x\n", ingest.FramingOctet, 100,
			[]frame{{"<13>1 - - - - - - a", ""}, {"<13>1 - - x\n", ""}}},
		"auto mixes": {"11 <13>octet!\n<13>line\n5 hello", ingest.FramingAuto, 100,
			[]frame{{"<13>octet!\n", ""}, {"<13>line", ""}, {"hello", ""}}},
		"auto digits line": {"2026-11-24 10:00:01 fw1 deny\n", ingest.FramingAuto, 100,
			[]frame{{"2026-11-24 10:00:01 fw1 deny", ""}}},
		"oversize line skipped": {"<13>" + strings.Repeat("x", 50) + "\n<13>ok\n", ingest.FramingLF, 20,
			[]frame{{"", ingest.ReasonOversize}, {"<13>ok", ""}}},
		"oversize octet skipped": {"30 " + strings.Repeat("y", 30) + "4 okay", ingest.FramingOctet, 10,
			[]frame{{"", ingest.ReasonOversize}, {"okay", ""}}},
		"truncated octet": {"50 <13>short", ingest.FramingOctet, 100, []frame{{"<13>short", ingest.ReasonTruncated}}},
		"octet garbage":   {"<13>not octet\n", ingest.FramingOctet, 100, []frame{{"", ingest.ReasonSyntax}}},
		"exact max":       {"abcde\nabcdef\n", ingest.FramingLF, 5, []frame{{"abcde", ""}, {"", ingest.ReasonOversize}}},
		"empty":           {"", ingest.FramingAuto, 10, nil},
	} {
		t.Run(name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in)),
				iotest.HalfReader(strings.NewReader(c.in))} {
				got := readAll(t, r, c.mode, c.max)
				if len(got) != len(c.want) {
					t.Fatalf("got %q, want %q", got, c.want)
				}
				for i := range got {
					if got[i] != c.want[i] {
						t.Errorf("frame %d = %q, want %q", i, got[i], c.want[i])
					}
				}
			}
		})
	}
}

func FuzzFraming(f *testing.F) {
	for _, s := range []string{"<13>a\n<14>b\n", "10 <13>abcdef5 hello", "999999999 x", "\x00\x00\n", "12 <13>1 - - -\n"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, m uint8) {
		mode := []string{ingest.FramingAuto, ingest.FramingLF, ingest.FramingOctet}[int(m)%3]
		fr := ingest.NewFrameReader(bytes.NewReader(data), mode, 64)
		total := 0
		for i := 0; i <= len(data)+1; i++ {
			b, err := fr.Next()
			if err != nil {
				if errors.Is(err, io.EOF) || ingest.Fatal(err) {
					return
				}
				continue
			}
			if len(b) > 64 {
				t.Fatalf("frame of %d bytes over the limit", len(b))
			}
			total += len(b)
		}
		t.Fatalf("more frames than bytes in %q", data)
	})
}
