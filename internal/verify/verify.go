// Package verify compares the events collectors accepted with those the
// event store holds, for `kuzet verify`: after a test run, or after an
// incident on the pipeline itself, it tells how many accepted events were
// lost and how many are visible more than once.
package verify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/store"
)

// Report is the outcome of a verification.
type Report struct {
	// Accepted is the number of distinct ids in the journals.
	Accepted int
	// Stored is the number of those ids the store holds.
	Stored int
	// Lost lists accepted ids the store does not hold.
	Lost []uuid.UUID
	// Duplicated lists ids that exact queries show more than once.
	Duplicated []uuid.UUID
	// Extra counts stored events of the collectors that no journal lists
	// (events from before journaling started, or from another run).
	Extra int
}

// OK reports whether nothing was lost or duplicated.
func (r Report) OK() bool { return len(r.Lost) == 0 && len(r.Duplicated) == 0 }

// Print writes the report for people.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "accepted %d\nstored %d\nlost %d\nduplicated %d\nextra %d\n",
		r.Accepted, r.Stored, len(r.Lost), len(r.Duplicated), r.Extra)
	for i, id := range r.Lost {
		if i == 20 {
			fmt.Fprintf(w, "  ... %d more lost\n", len(r.Lost)-20)
			break
		}
		fmt.Fprintf(w, "  lost %s\n", id)
	}
	for i, id := range r.Duplicated {
		if i == 20 {
			fmt.Fprintf(w, "  ... %d more duplicated\n", len(r.Duplicated)-20)
			break
		}
		fmt.Fprintf(w, "  duplicated %s\n", id)
	}
}

// ReadJournals reads accepted ids from journal files, or from every
// accepted.ids file under directories.
func ReadJournals(paths []string) (ids map[uuid.UUID]bool, collectors []string, err error) {
	ids = map[uuid.UUID]bool{}
	seen := map[string]bool{}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() == "accepted.ids" {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no accepted.ids journal under %s (enable journal: true in the collector)", strings.Join(paths, ", "))
	}
	for _, f := range files {
		c := filepath.Base(filepath.Dir(f))
		if !seen[c] {
			seen[c] = true
			collectors = append(collectors, c)
		}
		if err := readJournal(f, ids); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return ids, collectors, nil
}

func readJournal(path string, ids map[uuid.UUID]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		id, err := uuid.Parse(line)
		if err != nil {
			// A torn last line after a crash; anything else is corruption.
			continue
		}
		ids[id] = true
	}
	return sc.Err()
}

// Compare checks the accepted ids against the store, for the collectors'
// events.
func Compare(ctx context.Context, st *store.Store, accepted map[uuid.UUID]bool, collectors []string) (Report, error) {
	r := Report{Accepted: len(accepted)}
	stored := map[uuid.UUID]uint64{}
	for _, c := range collectors {
		m, err := st.EventIDs(ctx, c)
		if err != nil {
			return r, err
		}
		for id, n := range m {
			stored[id] += n
		}
	}
	for id := range accepted {
		n, ok := stored[id]
		if !ok {
			r.Lost = append(r.Lost, id)
			continue
		}
		r.Stored++
		if n > 1 {
			r.Duplicated = append(r.Duplicated, id)
		}
	}
	for id, n := range stored {
		if !accepted[id] {
			r.Extra++
			if n > 1 {
				r.Duplicated = append(r.Duplicated, id)
			}
		}
	}
	return r, nil
}
