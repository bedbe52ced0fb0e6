// Package incident holds kuzet's incident domain logic; in this branch only
// the legal clocks (regimes, working-day calendars, stages and their
// notifications).
//
// Temporary: doc.go, written on the incident-grouping branch, replaces this
// file when the branches merge; delete doc_tmp.go then.
package incident
