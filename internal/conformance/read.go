package conformance

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// RegressionFiles returns SigmaHQ's regression event files (every .json
// under sigmahq/regression_data), sorted.
func RegressionFiles(tb testing.TB) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(Path(tb, "sigmahq", "regression_data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// JSONValues returns the JSON values one after another in the file at path
// (an evtx_dump file holds several); a file that cannot be read or decoded
// fails the test.
func JSONValues(tb testing.TB, path string) []json.RawMessage {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var m json.RawMessage
		if err := dec.Decode(&m); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

// Lines calls fn with each line (up to 1 MiB, valid only during the call)
// of the file at path, until fn returns false; a file that cannot be read
// fails the test.
func Lines(tb testing.TB, path string, fn func(line []byte) bool) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	scan(tb, path, f, fn)
}

// GzipLines is Lines of a gzip file.
func GzipLines(tb testing.TB, path string, fn func(line []byte) bool) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	scan(tb, path, zr, fn)
}

func scan(tb testing.TB, path string, r io.Reader, fn func(line []byte) bool) {
	tb.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !fn(sc.Bytes()) {
			return
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}
