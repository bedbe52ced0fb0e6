// Package report makes the report of one incident (Build) in Kazakh,
// Russian or English, and renders it as HTML, CSV, PDF or a STIX 2.1
// bundle, and the NCC's periodic digests (BuildDigest, DigestHTML,
// DigestPDF). It is pure: the incident, the registry, the figures and the
// time come in as values; no transport, no storage.
//
// # Contents
//
// A [Report] carries the fields DOMAIN.md lists for an incident
// notification that kuzet has: the reporter (organisation, BIN, contacts),
// the detecting center, objects with their sector and criticality class,
// the timestamps (in UTC and in Asia/Almaty with the offset shown), the
// RSIT class and type, determination, status, description, impacts,
// measures taken, the incident's entity values as indicators, and each
// notification stage with its due, sent and acknowledged times. Words come
// from message catalogues (messages.go), one per language, with the same
// keys.
//
// # TLP
//
// A report is marked with its incident's TLP, never lower, and records it
// as the source TLP. Callers check the reader's ceiling before they build
// one; this package does not know who reads.
//
// # Renderers
//
//   - [HTML]: html/template, escaped, one self-contained page with a print
//     stylesheet and no external assets.
//   - [CSV]: encoding/csv, one row per field (section, key, label, value);
//     a cell starting with = + - @, a tab or a carriage return is prefixed
//     with ' so spreadsheets do not run it as a formula.
//   - [PDF]: go-pdf/fpdf with DejaVu Sans embedded (fonts/, its licence
//     beside it), which covers Kazakh Cyrillic (ә ғ қ ң ө ұ ү һ і).
//   - [STIX]: a STIX 2.1 bundle: the incident with the Incident Core
//     extension, identities (owner, OISC, NCC), a sighting where the owner
//     saw it, the entities as observables, TLP 2.0 markings on every
//     object, deterministic ids (UUIDv5), so the same incident version
//     exports the same bytes.
//
// # Digests
//
// A [Digest] is one period's aggregates (daily or monthly in
// Asia/Almaty; national or one sector's), TLP:GREEN, built from
// [DigestFigures] the store computes: counts by category, severity and
// sector, response times, timeliness, national incidents apart; rows of
// fewer than [DigestK] organisations withheld. It names no incident. Its
// id ([DigestSpec.ID]) is the UUIDv5 of kind, scope, period start and
// language.
package report
