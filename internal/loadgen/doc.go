// Package loadgen drives the whole pipeline with realistic records and
// measures it: `kuzet loadgen` and `make loadtest` run it.
//
// A run sends a mix of record kinds (syslog RFC 3164 and 5424 from sshd and
// sudo, CEF, LEEF and FortiGate key=value inside syslog, Windows Security
// and Sysmon events as JSON, Zeek and Suricata JSON) into the collectors'
// real inputs: syslog over TCP with octet counting, the JSON kinds as NDJSON
// over HTTP. Hosts and addresses come from the registry's objects (their
// host names and CIDRs) of the OISC each collector serves, so enrichment,
// rules, correlation and grouping do real work; a share of the
// authentication failures comes from a few attacking addresses in bursts,
// as brute force does.
//
// Every record carries a marker, kzlg-<run>-<sequence>, in a place its
// format has for it (an RFC 5424 structured-data element, an SSH key
// fingerprint, a CEF externalId, a Windows ActivityID, a Zeek uid, ...).
// The collector keeps the record in event.original, so the stored document
// holds the marker, and the run counts what it sent against what ClickHouse
// holds: stored is the number of distinct markers, lost is sent minus
// stored, duplicated is the number of distinct event ids beyond one per
// marker (a record accepted twice). Rows that are the same event id twice
// (a redelivered batch not yet merged) are not duplicates for users: exact
// queries deduplicate them.
//
// # Latency
//
// Received → queryable is measured on sampled records (every Nth sequence
// number). A poller queries the store every SamplePoll for sampled markers
// not yet seen; for each one found, latency is the start time of the query
// that first returned it minus the event's kuzet.received_at (nanoseconds,
// set by the collector at acceptance; same machine, same clock). A row a
// query returns was queryable when the query started (ClickHouse reads the
// parts present at its start), and was not when the previous poll started,
// so each figure is an upper bound, too high by at most the gap between
// polls: SamplePoll, or more when a backlog makes polls slow (they are then
// spaced out so the measurement itself costs ClickHouse little); the result
// states the longest gap as latency_resolution_ms.
// ClickHouse 18.16 records no insert time per row, so comparing received_at
// with an insert time is not possible there.
//
// # Throughput and cost
//
// The measured period runs from the first record sent to the start of the
// store query that first found every sent marker (or the deadline).
// events_per_s is stored events over that period. CPU is read from
// /proc/<pid>/stat (user + system) at both ends of the period for each
// process given (the load generator's own included), and peak RSS is the
// kernel's high-water mark (VmHWM in /proc/<pid>/status).
package loadgen
