// Package notify turns the legal clocks of incidents into notifications
// that go out (DOMAIN.md, "Notification" and "Recipients"): it resolves a
// stage's symbolic recipients (NCC, OWNER, ...) against the registry,
// decides which stages are released for sending, snapshots each message's
// payload in its recipient's language with its SHA-256, and delivers it by
// webhook (HMAC-signed) or SMTP e-mail. The NATS channel is the bus's
// (kuzet.notify.<kind>.<recipient>), injected as a function, so this
// package imports no transport client.
//
// The ncc's notification stage (package grouping) drives it: an outbox of
// jobs per incident partition, attempts with backoff, every attempt in the
// delivery log, sent_at and acknowledged_at written back to the incident.
package notify
