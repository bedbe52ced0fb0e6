// Package incident is kuzet's incident domain: it turns alerts into
// incidents and gives incidents a lifecycle. It is pure: no transport, no
// storage, no goroutines, no clock of its own. Callers pass the time in.
//
// # Grouping (local incidents)
//
// A [Grouper] groups the alerts of one partition of organisations into
// incidents, as Alertmanager groups alerts: the first [Route] whose matchers
// match an alert takes it; the route's group_by keys (rule, object, entity
// fields such as source.ip) make the group key; the group's incident is
// reported group_wait after its first alert, then at most every
// group_interval while alerts arrive, and again every repeat_interval while
// the incident is open. The step API is [Grouper.Add] (an alert at now)
// and [Grouper.Tick] (the updates due at now); both are deterministic: the
// same alerts, closes and ticks in the same order give the same incidents,
// ids and updates, so a replay after a takeover is exact.
//
// Incident ids are UUIDv5 of (organisation, route, group key, epoch); the
// epoch of a key advances when its incident is closed ([Grouper.Closed]),
// so later activity opens a new incident; [Grouper.Reopened] makes the
// closed one the key's current incident again.
//
// # Entity linking
//
// Within one organisation, incidents sharing an entity value (see
// [LinkOptions]) merge: the earliest opened (by opening order, so a replay
// at other processing times merges alike) survives, the other is closed
// as a system transition with resolution duplicate and duplicate_of set,
// and its alerts and entities move over. Stop values never link; a value
// carried by more than MaxCardinality distinct group keys stops linking
// (a shared NAT address, a DNS server, a domain controller).
//
// # National stage
//
// [National] is a second stage partitioned by entity value
// ([EntityPartition]): it counts, per entity value and sliding window, the
// organisations and sectors whose local incidents carry it, and opens a
// national incident (origin ncc_detected) at MinOrgs organisations or
// MinSectors sectors, linking the local incidents while the window lasts.
//
// # Lifecycle
//
// [Transitions] is the one table of allowed status changes; [Apply]
// checks a [Change] against it and against the incident's version
// (compare-and-set: a stale version gives a [*ConflictError]) and returns
// the log entry of the change.
//
// # State, partitions and bounds
//
// Grouping state is partitioned by organisation ([Partition]); one
// Grouper holds one partition and is not safe for concurrent use (the
// ncc drives it from its consumer loop). [Grouper.Snapshot] and
// [Grouper.Restore] checkpoint it; a restored grouper continues exactly
// as the one that took the snapshot. State is bounded by MaxGroups and
// MaxBytes (an estimate that tracks the heap), evicting the least
// recently active groups whose alerts are all reported (counted), by
// MaxPending unreported alerts per incident and MaxEntityValues per field;
// the national stage by MaxValues. Tick costs the due incidents (a timer
// heap), not all of them.
//
// # Updates and alert links
//
// Every alert [Grouper.Add] accepts is in the NewAlerts of exactly one
// [Update]; a merged incident's later alerts are its survivor's. An
// alert a silence mutes, or one rejected (an [*InputError], counted by
// reason), is in none. The package counts through a [CountFunc] over
// [Metrics], so it imports no metrics library.
//
// # Configuration
//
// [Config] is the strict YAML form of the options, with defaults
// ([DefaultConfig]) and errors naming the field ("incidents.routes[0]...").
//
// There are no locks in this package except [Ledger]'s single mutex.
package incident
