// Package sigma is kuzet's Sigma engine: it parses Sigma rules (detection
// and correlation rules, multi-document files, action: global/repeat),
// compiles detection rules and runs them on events.
//
// # Specification
//
// Detection rules follow the Sigma specification v2: every modifier
// (contains, startswith, endswith, all, exists, cased, neq, windash, re with
// i/m/s, base64, base64offset, utf16le/utf16be/utf16/wide, lt/lte/gt/gte,
// cidr, expand, fieldref, minute/hour/day/week/month/year), wildcards and
// escapes ('*', '?', '\*', '\?', '\\'), case-insensitive matching by default,
// null, keyword searches, numbers versus numeric strings, and the condition
// grammar (not > and > or, parentheses, "N of", "all of", "them" without
// "_"-prefixed identifiers, condition lists OR-ed). Unknown top-level
// attributes are kept in Rule.Custom. Constructs the specification removed
// (aggregations after "|", near) are errors wrapping ErrLegacy.
// Placeholders (%name%, expand) take values from the pipelines; an unfilled
// one makes its item match nothing and is reported as a warning.
//
// # Log sources
//
// Pipelines (pipelines/sigma/*.yaml, DefaultPipelines) route a rule's log
// source to the events it describes: a Route holds field conditions
// (Channel and EventID for Windows, as SigmaHQ's thor.yml; kuzet.source_type
// and the Zeek log for kuzet's collectors) and field renames (Image <-
// NewProcessName for Security 4688). A rule runs on the events of its most
// specific matching routes.
//
// # Use
//
//	rules, errs := sigma.LoadDir("rules")
//	ps, _ := sigma.DefaultPipelines()
//	eng, rejected, warnings := sigma.Compile(rules, sigma.Options{Pipelines: ps})
//	eng.Match(sigma.MapEvent(flatEvent), func(r *sigma.CompiledRule) { ... })
//
// For kuzet's normalised events use NestedEvent with the source namespace
// ("winlog", "zeek", "auditd", ...). An Engine is immutable and safe for
// concurrent use; build a new one to reload rules.
//
// The package is pure: no I/O beyond reading rule files, no transport.
package sigma
