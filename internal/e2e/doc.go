// Package e2e holds end-to-end tests that run kuzet's real binaries as
// processes against a real NATS JetStream and a real ClickHouse: events sent
// to a collector process come out of the API process, `kuzet run` serves its
// demo feed and stops cleanly, and bad configurations exit with status 2.
// It has no code of its own.
package e2e
