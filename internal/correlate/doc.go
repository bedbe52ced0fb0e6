// Package correlate evaluates Sigma correlation rules (specification
// v2.1, with pySigma's value_median) over the matches of the rules they
// reference. It is pure: no I/O, no clock, no transport. The ncc feeds it
// signals and stores what it returns; `kuzet sigma scan` runs it over a file.
//
// # Rules
//
// Compile resolves each correlation's rules by id or by name (detection
// rules and other correlations, for chains), its aliases and its group-by
// fields, and rejects what cannot run (unknown references, cycles, a chain
// whose group-by field the referenced correlation does not group by). Set
// answers which correlations a rule feeds and whether the rule still
// raises alerts of its own: a rule referenced only by correlations with
// generate: false (the default) does not.
//
// Types: event_count counts events; value_count counts distinct values of
// condition.field; temporal counts the distinct referenced rules that
// matched; temporal_ordered counts the longest prefix of the rules list
// whose matches occur in that order (ties in time keep arrival order);
// value_sum and value_avg add and average condition.field as a number;
// value_percentile is the percentile (0 to 100) by linear interpolation
// between closest ranks (numpy's default), value_median the same at 50.
// Temporal rules without a condition need every rule (gte: len(rules)).
// Every operator of the condition must hold: gt and lte make a range.
//
// # Windows
//
// Time is the event time carried by each Signal, never the wall clock. The
// window of a signal at time t is (t - timespan, t]: an event exactly one
// timespan older is outside, one at t itself inside. A group (one
// correlation, one tuple of group-by values) fires when the window of one of
// its signals satisfies the condition. A signal may arrive out of order by
// up to Options.Lateness: the watermark is the latest event time seen
// minus Lateness, a signal older than the watermark is rejected with
// ErrLate and counted (Counters.Late), never folded in silently, and a signal
// within the lateness is placed at its own time: the windows of later
// signals that now contain it are evaluated again.
//
// # Episodes
//
// A group fires once per episode. Its first firing opens an episode
// (StatusOpened) with the events of the window that fired; every further
// signal of the group updates it (StatusUpdated: count, last seen, event
// ids up to Options.MaxEventIDs, distinct values) and raises nothing new.
// The episode closes (StatusClosed) once one timespan has passed without a
// signal of the group (ReasonQuiet: the watermark, or a signal's own time,
// reaches last seen + timespan), when a count-type condition's upper bound
// (lt, lte, eq) is exceeded so that the window can no longer satisfy it
// (ReasonBound), or when its group is evicted (ReasonEvicted). The next
// firing opens a new episode. The alert id is a UUIDv5 (SHA-1) of the
// correlation id, the group values and the time of the first event of the
// window that fired; each event id counts once per correlation and group
// (a redelivery carries the event's own time, which is where the engine
// looks for it), so replaying the same signals in the same order gives the
// same updates. Only one episode per group is open at a time; a signal more
// than one timespan before an open episode's first event is kept for later
// windows but does not join it.
// Version grows by one with every update of an alert, for
// ReplacingMergeTree(version).
//
// # Chains
//
// When a correlation's episode opens, each correlation referencing it
// receives one signal: Rule is the upstream correlation's id, EventID the
// upstream alert id, Time the time of the signal whose window fired, the
// group-by and condition.field values are taken by name from the upstream
// group, and Share is the upstream episode's first share. The engine applies
// these itself unless Options.NoChain is set; with several partitions, set
// NoChain and route Set.Chained(update) to Partition(signal...) instead.
//
// # State and ownership
//
// An Engine holds the state of one partition: Partition(correlation id,
// group values, n) says which. It is not safe for concurrent use: one
// goroutine owns it. Its state is bounded by Options.MaxGroups and
// Options.MaxBytes (an estimate of the bytes of kept ids, values and
// shares): the least recently updated groups are evicted first, counted in
// Counters.Evicted, their open episodes closed with ReasonEvicted. Snapshot
// serialises the whole state deterministically; Restore into an engine of
// the same Set continues exactly where the snapshot was taken.
package correlate
