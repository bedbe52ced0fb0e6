package store

import "context"

// SetDocChunk sets how many ids one query of docs names, for a test; the
// returned function restores it.
func SetDocChunk(n int) (restore func()) {
	old := docChunk
	docChunk = n
	return func() { docChunk = old }
}

// Exec runs a statement without results, for a test.
func (s *Store) Exec(ctx context.Context, sql string, args ...any) error {
	return s.conn.Exec(ctx, sql, args...)
}
