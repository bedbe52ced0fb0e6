package store

// SetDocChunk sets how many ids one query of docs names, for a test; the
// returned function restores it.
func SetDocChunk(n int) (restore func()) {
	old := docChunk
	docChunk = n
	return func() { docChunk = old }
}
