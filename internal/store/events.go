package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// eventColumns is the explicit column list of every events INSERT, in the
// order eventBlock.appendTo appends them.
const eventColumns = "event_id, received_at, ts, collector, oisc, org, object, sector, asset, criticality, egov, " +
	"input, source_type, kind, category, action, outcome, severity, source_ip, source_port, destination_ip, " +
	"destination_port, transport, user_name, host_name, process_name, rule_name, observer_vendor, observer_product, " +
	"message, doc, search"

// EventRow is one row of the events table: the columns queries filter on,
// the event's full JSON in Doc, and its text as a reader sees it in Search.
type EventRow struct {
	ID     uuid.UUID
	Ev     *event.Event
	Doc    []byte
	Search string
}

// NewEventRow checks an event's id and pairs it with its JSON form and its
// search text.
func NewEventRow(ev *event.Event, doc []byte) (EventRow, error) {
	id, err := event.ParseID(ev.Kuzet.EventID)
	if err != nil {
		return EventRow{}, err
	}
	return EventRow{ID: id, Ev: ev, Doc: doc, Search: SearchText(doc)}, nil
}

// SearchText returns what q searches in a JSON document: its values as a
// reader sees them (strings unescaped, numbers as written), one per line,
// without key names or JSON syntax. doc must be valid JSON.
func SearchText(doc []byte) string {
	// At most one byte per byte of doc: escapes only shrink, and each
	// value's newline takes the place of its closing quote or delimiter.
	b := make([]byte, 0, len(doc))
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case c == '"':
			j, esc := i+1, false
			for j < len(doc) && doc[j] != '"' {
				if doc[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j >= len(doc) {
				return bytesString(b)
			}
			k := j + 1
			for k < len(doc) && (doc[k] == ' ' || doc[k] == '\t' || doc[k] == '\n' || doc[k] == '\r') {
				k++
			}
			if k == len(doc) || doc[k] != ':' { // a value, not a key
				if esc {
					b = appendUnquoted(b, doc[i+1:j])
				} else {
					b = append(b, doc[i+1:j]...)
				}
				b = append(b, '\n')
			}
			i = j
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(doc) && numberByte[doc[j]] {
				j++
			}
			b = append(b, doc[i:j]...)
			b = append(b, '\n')
			i = j - 1
		}
	}
	return bytesString(b)
}

// bytesString returns b as a string without copying; b must not be
// changed afterwards.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

var numberByte = func() (t [256]bool) {
	for _, c := range []byte("+-.eE0123456789") {
		t[c] = true
	}
	return t
}()

// appendUnquoted appends the JSON string body s (between its quotes, with
// escapes) unescaped as encoding/json unescapes it: a lone or broken
// surrogate becomes U+FFFD. A body holding invalid UTF-8 (which
// encoding/json would also replace) or a malformed escape is left to
// encoding/json, so the text is always what it reads.
func appendUnquoted(b, s []byte) []byte {
	start := len(b)
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				b = append(b, c)
				i++
				continue
			}
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return appendUnquotedSlow(b[:start], s)
			}
			b = append(b, s[i:i+n]...)
			i += n
			continue
		}
		var reason string
		if b, i, reason, _ = jsonl.AppendEscape(b, s, i); reason != "" {
			return appendUnquotedSlow(b[:start], s)
		}
	}
	return b
}

// appendUnquotedSlow is appendUnquoted by encoding/json, for bodies it
// would not take as they are.
func appendUnquotedSlow(b, s []byte) []byte {
	var u string
	q := make([]byte, 0, len(s)+2)
	q = append(append(append(q, '"'), s...), '"')
	if json.Unmarshal(q, &u) == nil {
		b = append(b, u...)
	}
	return b
}

func clampPort(p int) uint16 {
	if p < 0 || p > 65535 {
		return 0
	}
	return uint16(p)
}

// eventBlock holds one block of an events INSERT as columns, in the order
// of eventColumns: rows are appended as typed slices, one call per column,
// without a boxed value per field and row. Its slices are reused from
// block to block.
type eventBlock struct {
	ids              []uuid.UUID
	received, ts     []time.Time
	crit, egov       []uint8
	severity         []int32
	srcPort, dstPort []uint16
	category         [][]string
	str              [nStrCols][]string
}

// The String columns of eventBlock.str, in their order in eventColumns
// (with the other columns between them as eventBlock.appendTo writes them).
const (
	colCollector = iota
	colOISC
	colOrg
	colObject
	colSector
	colAsset
	colInput
	colSourceType
	colKind
	colAction
	colOutcome
	colSourceIP
	colDestinationIP
	colTransport
	colUserName
	colHostName
	colProcessName
	colRuleName
	colObserverVendor
	colObserverProduct
	colMessage
	colDoc
	colSearch
	nStrCols
)

// add appends one row.
func (b *eventBlock) add(r EventRow) {
	ev := r.Ev
	var src, dst event.Endpoint
	if ev.Source != nil {
		src = *ev.Source
	}
	if ev.Destination != nil {
		dst = *ev.Destination
	}
	egov := uint8(0)
	if ev.Kuzet.EGov {
		egov = 1
	}
	cat := ev.Event.Category
	if cat == nil {
		cat = []string{}
	}
	ts := ev.Timestamp
	if ts.IsZero() || ts.Year() > 2105 || ts.Year() < 1970 {
		ts = ev.Kuzet.ReceivedAt // DateTime spans 1970..2105
	}
	var transport, user, host, process, rule, vendor, product string
	if ev.Network != nil {
		transport = ev.Network.Transport
	}
	if ev.User != nil {
		user = ev.User.Name
	}
	if ev.Host != nil {
		host = ev.Host.Name
	}
	if ev.Process != nil {
		process = ev.Process.Name
	}
	if ev.Rule != nil {
		rule = ev.Rule.Name
	}
	if ev.Observer != nil {
		vendor, product = ev.Observer.Vendor, ev.Observer.Product
	}
	b.ids = append(b.ids, r.ID)
	b.received = append(b.received, ev.Kuzet.ReceivedAt.UTC())
	b.ts = append(b.ts, ts.UTC())
	b.crit = append(b.crit, uint8(ev.Kuzet.Criticality))
	b.egov = append(b.egov, egov)
	b.category = append(b.category, cat)
	b.severity = append(b.severity, int32(ev.Event.Severity))
	b.srcPort = append(b.srcPort, clampPort(src.Port))
	b.dstPort = append(b.dstPort, clampPort(dst.Port))
	for i, v := range [nStrCols]string{
		colCollector: ev.Kuzet.Collector, colOISC: ev.Kuzet.OISC, colOrg: ev.Kuzet.Org, colObject: ev.Kuzet.Object,
		colSector: ev.Kuzet.Sector, colAsset: ev.Kuzet.Asset, colInput: ev.Kuzet.Input, colSourceType: ev.Kuzet.SourceType,
		colKind: ev.Event.Kind, colAction: ev.Event.Action, colOutcome: ev.Event.Outcome,
		colSourceIP: src.IP, colDestinationIP: dst.IP, colTransport: transport, colUserName: user, colHostName: host,
		colProcessName: process, colRuleName: rule, colObserverVendor: vendor, colObserverProduct: product,
		colMessage: ev.Message, colDoc: bytesString(r.Doc), colSearch: r.Search, // Doc never changes
	} {
		b.str[i] = append(b.str[i], v)
	}
}

// appendTo appends the block's rows to batch, column by column in the
// order of eventColumns, and empties the block.
func (b *eventBlock) appendTo(batch driver.Batch) error {
	cols := []any{
		b.ids, b.received, b.ts, b.str[colCollector], b.str[colOISC], b.str[colOrg], b.str[colObject],
		b.str[colSector], b.str[colAsset], b.crit, b.egov, b.str[colInput], b.str[colSourceType],
		b.str[colKind], b.category, b.str[colAction], b.str[colOutcome], b.severity, b.str[colSourceIP], b.srcPort,
		b.str[colDestinationIP], b.dstPort, b.str[colTransport], b.str[colUserName],
		b.str[colHostName], b.str[colProcessName], b.str[colRuleName],
		b.str[colObserverVendor], b.str[colObserverProduct], b.str[colMessage], b.str[colDoc], b.str[colSearch],
	}
	for i, c := range cols {
		if err := batch.Column(i).Append(c); err != nil {
			return err
		}
	}
	b.reset()
	return nil
}

// freeBlock keeps an eventBlock between INSERTs (the ncc has one writer),
// so that its columns do not grow again from nothing for every batch. A
// sync.Pool would not do: the garbage collector, which runs several times
// per batch, empties it.
var freeBlock = make(chan *eventBlock, 1)

// reset empties the block, keeping its slices; their elements are cleared
// so that the rows' memory is not held.
func (b *eventBlock) reset() {
	b.ids, b.received, b.ts = b.ids[:0], b.received[:0], b.ts[:0]
	b.crit, b.egov, b.severity = b.crit[:0], b.egov[:0], b.severity[:0]
	b.srcPort, b.dstPort = b.srcPort[:0], b.dstPort[:0]
	clear(b.category)
	b.category = b.category[:0]
	for i := range b.str {
		clear(b.str[i])
		b.str[i] = b.str[i][:0]
	}
}

// insertBlockBytes is the size of the blocks an INSERT is sent in: rows
// are encoded and compressed one block at a time, so the client's buffers
// stay this small whatever the batch.
const insertBlockBytes = 4 << 20

// InsertEvents writes rows in one INSERT, sent in blocks of about 4 MiB.
// Writing the same event id again is harmless: the table keeps one row per id (reads with FINAL see one).
// Errors wrap ErrUnavailable when the server could not be reached.
func (s *Store) InsertEvents(ctx context.Context, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := s.conn.PrepareBatch(s.insertContext(ctx), "INSERT INTO "+s.writeTable("events")+" ("+eventColumns+")")
	if err != nil {
		return classify("prepare events insert", err)
	}
	defer func() { _ = b.Abort() }()
	var blk *eventBlock
	select {
	case blk = <-freeBlock:
		blk.reset() // an insert that failed may have left rows in it
	default:
		blk = new(eventBlock)
	}
	defer func() {
		select {
		case freeBlock <- blk:
		default:
		}
	}()
	size := 0
	for i, r := range rows {
		blk.add(r)
		if size += len(r.Doc) + len(r.Ev.Message); size >= insertBlockBytes || i == len(rows)-1 {
			if err := blk.appendTo(b); err != nil {
				return fmt.Errorf("store: append events: %w", err)
			}
			if i == len(rows)-1 {
				break // Send sends the last block
			}
			if err := b.Flush(); err != nil {
				return classify("insert events", err)
			}
			size = 0
		}
	}
	if err := b.Send(); err != nil {
		return classify("insert events", err)
	}
	return nil
}

// classify wraps failures to reach the server in ErrUnavailable; an error
// the server answered with (a ClickHouse exception) is returned as it is.
// Some exceptions are transient too (too many parts, memory limit, shutting
// down); they count as unavailable, so writers retry them.
func classify(op string, err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 202, 241, 252, 159, 209, 210, 425: // too many queries, memory, too many parts, timeouts, network, system
			return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
		}
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
}

// EventQuery selects events. Empty fields do not restrict.
type EventQuery struct {
	// From (inclusive) and To (exclusive) bound kuzet.received_at.
	From, To time.Time
	Sectors  []string
	Orgs     []string
	Objects  []string
	OISCs    []string
	// Text is searched case-insensitively (UTF-8) in the event's text as a
	// reader sees it: its message and field values (SearchText), not its
	// JSON syntax or key names.
	Text string
	// Limit is the page size (1..MaxLimit).
	Limit int
	// MaxBytes ends a page early once its events reach this many bytes (at
	// least one event per page); 0 does not bound.
	MaxBytes int
	// Cursor continues a previous page (EventPage.Next).
	Cursor string
	// Scope is the caller's restriction, applied inside the query.
	Scope access.EventScope
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events []json.RawMessage
	// Next is the cursor of the following page, "" on the last page.
	Next string
}

// The range of times the store's DateTime columns hold and the range
// queries accept: DateTime is UInt32 seconds, and ClickHouse 18.16's date
// tables end with 2105, so the range is whole years 1970..2105 (the writer
// clamps event times to the same range).
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
)

// ValidTime reports whether t is within MinTime..MaxTime.
func ValidTime(t time.Time) bool { return !t.Before(MinTime) && !t.After(MaxTime) }

// ErrBadCursor is returned for a cursor that did not come from this API.
var ErrBadCursor = errors.New("invalid cursor")

type cursor struct {
	at time.Time
	id uuid.UUID
}

func (c cursor) String() string {
	raw := strconv.FormatInt(c.at.Unix(), 10) + "." + c.id.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) > 80 {
		return cursor{}, ErrBadCursor
	}
	secs, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return cursor{}, ErrBadCursor
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || n < MinTime.Unix() || n > MaxTime.Unix() {
		return cursor{}, ErrBadCursor
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return cursor{}, ErrBadCursor
	}
	return cursor{at: time.Unix(n, 0).UTC(), id: u}, nil
}

// where accumulates conditions and their bound arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	w.add("has(?, "+col+")", vals) // a bound slice is an Array literal
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func scopeConds(w *where, sc access.EventScope) {
	if sc.OISC != "" {
		w.add("oisc = ?", sc.OISC)
	}
	if sc.Org != "" {
		w.add("org = ?", sc.Org)
	}
	if len(sc.Sectors) > 0 {
		w.add("has(?, sector)", sc.Sectors)
	}
}

// listConds adds the conditions every listing shares: the scope, the
// received_at range and the registry filters.
func listConds(w *where, sc access.EventScope, from, to time.Time, sectors, orgs, objects, oiscs []string) {
	scopeConds(w, sc)
	if !from.IsZero() {
		w.add("received_at >= ?", from.UTC())
	}
	if !to.IsZero() {
		w.add("received_at < ?", to.UTC())
	}
	w.in("sector", sectors)
	w.in("org", orgs)
	w.in("object", objects)
	w.in("oisc", oiscs)
}

// readPage streams a page of a table's docs matching w to emit, newest
// first by received_at then idCol, each id once (FINAL), continuing after
// cur, and returns the cursor of the next page ("" on the last).
//
// A page holds at most limit rows and, past its first row, at most maxBytes
// of docs (0: no byte bound); a page that reaches the byte bound ends early
// with a next cursor. It is read in two steps, so that neither ClickHouse
// nor this process holds more than the page: the first selects the page's
// ids and doc sizes, the second reads those docs in order. ctx's deadline
// reaches the server as max_execution_time. An error from emit ends the
// page and is returned as it is.
func (s *Store) readPage(ctx context.Context, table, idCol string, w *where, limit, maxBytes int, cur string,
	emit func(doc []byte) error) (string, error) {
	return s.readPageBy(ctx, table, "received_at", idCol, w, limit, maxBytes, cur, emit)
}

// readPageBy is readPage ordered by timeCol (newest first) and idCol.
func (s *Store) readPageBy(ctx context.Context, table, timeCol, idCol string, w *where, limit, maxBytes int, cur string,
	emit func(doc []byte) error) (string, error) {
	return s.readPageDocs(ctx, table, timeCol, idCol, nil, w, limit, maxBytes, cur, emit)
}

// pageDocs changes how readPageDocs reads a page's documents: expr is
// selected instead of doc, from the table joined by join(the chunk's ids).
type pageDocs struct {
	expr string
	join func(ids []string) (string, []any)
}

// readPageDocs is readPageBy reading the documents as docs says (nil: the
// doc column).
func (s *Store) readPageDocs(ctx context.Context, table, timeCol, idCol string, docs *pageDocs, w *where, limit, maxBytes int, cur string,
	emit func(doc []byte) error) (string, error) {
	if limit <= 0 {
		return "", errors.New("store: limit must be positive")
	}
	if cur != "" {
		c, err := parseCursor(cur)
		if err != nil {
			return "", err
		}
		w.add("("+timeCol+" < ? OR ("+timeCol+" = ? AND "+idCol+" < ?))", c.at, c.at, c.id)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sql := "SELECT " + idCol + ", " + timeCol + ", length(doc) FROM " + s.table(table) + " FINAL" + w.String() +
		" ORDER BY " + timeCol + " DESC, " + idCol + " DESC LIMIT ?"
	rows, err := s.conn.Query(withDeadline(ctx), sql, append(w.args, limit+1)...)
	if err != nil {
		return "", classify("query "+table, err)
	}
	var (
		keys  []cursor
		total int
		next  string
	)
	for rows.Next() {
		var (
			id   uuid.UUID
			at   time.Time
			size uint64
		)
		if err := rows.Scan(&id, &at, &size); err != nil {
			rows.Close()
			return "", fmt.Errorf("store: scan %s: %w", table, err)
		}
		if len(keys) == limit || len(keys) > 0 && maxBytes > 0 && total+int(size) > maxBytes {
			next = keys[len(keys)-1].String()
			break
		}
		keys = append(keys, cursor{at: at, id: id})
		total += int(size)
	}
	rows.Close() // at most one more row of ids and sizes to drain
	if err := rows.Err(); err != nil {
		return "", classify("read "+table, err)
	}
	// The docs, in the same order, docChunk ids per query (a query's text
	// stays far below ClickHouse's max_query_size).
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), docChunk)]
		keys = keys[len(chunk):]
		ids := make([]string, len(chunk))
		for i, k := range chunk {
			ids[i] = k.id.String()
		}
		cw := where{conds: slices.Clip(w.conds), args: slices.Clip(w.args)}
		cw.add(timeCol+" <= ? AND "+timeCol+" >= ? AND has(?, toString("+idCol+"))", chunk[0].at, chunk[len(chunk)-1].at, ids)
		expr, join, args := "doc", "", cw.args
		if docs != nil {
			var jargs []any
			expr = docs.expr
			join, jargs = docs.join(ids)
			args = append(jargs, cw.args...)
		}
		sql := "SELECT " + expr + " FROM " + s.table(table) + " FINAL" + join + cw.String() + " ORDER BY " + timeCol + " DESC, " + idCol + " DESC"
		if err := s.emitDocs(ctx, table, sql, args, emit); err != nil {
			return "", err
		}
	}
	return next, nil
}

// docChunk is the most ids one query of docs names.
var docChunk = 1000

func (s *Store) emitDocs(ctx context.Context, table, sql string, args []any, emit func(doc []byte) error) error {
	docs, err := s.conn.Query(withDeadline(ctx), sql, args...)
	if err != nil {
		return classify("query "+table, err)
	}
	defer docs.Close()
	for docs.Next() {
		var doc string
		if err := docs.Scan(&doc); err != nil {
			return fmt.Errorf("store: scan %s: %w", table, err)
		}
		if err := emit(unsafeBytes(doc)); err != nil {
			return err
		}
	}
	if err := docs.Err(); err != nil {
		return classify("read "+table, err)
	}
	return nil
}

// unsafeBytes views s as bytes without a copy; emit must not keep or
// modify them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// collect returns an emit function that appends copies of docs to page.
func collect(page *EventPage) func([]byte) error {
	return func(doc []byte) error {
		page.Events = append(page.Events, json.RawMessage(slices.Clone(doc)))
		return nil
	}
}

// QueryEvents returns a page of events matching q, newest first by
// received_at then event id, each event once (FINAL).
func (s *Store) QueryEvents(ctx context.Context, q EventQuery) (EventPage, error) {
	var page EventPage
	next, err := s.StreamEvents(ctx, q, collect(&page))
	if err != nil {
		return EventPage{}, err
	}
	page.Next = next
	return page, nil
}

// StreamEvents is QueryEvents handing each event's JSON to emit as it is
// read (the bytes are valid only during the call), and returning the next
// cursor. It holds no more than one page of q.MaxBytes in memory.
func (s *Store) StreamEvents(ctx context.Context, q EventQuery, emit func(doc []byte) error) (string, error) {
	var w where
	listConds(&w, q.Scope, q.From, q.To, q.Sectors, q.Orgs, q.Objects, q.OISCs)
	if q.Text != "" {
		w.add("positionCaseInsensitiveUTF8(search, ?) > 0", q.Text)
	}
	return s.readPage(ctx, "events", "event_id", &w, q.Limit, q.MaxBytes, q.Cursor, emit)
}

// CountEvents counts distinct stored events matching the scope and time range
// (exact: duplicates in unmerged parts are counted once).
func (s *Store) CountEvents(ctx context.Context, q EventQuery) (uint64, error) {
	var w where
	scopeConds(&w, q.Scope)
	if !q.From.IsZero() {
		w.add("received_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		w.add("received_at < ?", q.To.UTC())
	}
	w.in("sector", q.Sectors)
	w.in("org", q.Orgs)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var n uint64
	err := s.conn.QueryRow(withDeadline(ctx), "SELECT uniqExact(event_id) FROM "+s.table("events")+w.String(), w.args...).Scan(&n)
	if err != nil {
		return 0, classify("count events", err)
	}
	return n, nil
}

// EventIDs returns the stored ids with the number of rows each has in
// unmerged parts (for kuzet verify and tests: a count above one is a
// duplicate only if FINAL also shows it, which ReplacingMergeTree prevents).
func (s *Store) EventIDs(ctx context.Context, collector string) (map[uuid.UUID]uint64, error) {
	var w where
	if collector != "" {
		w.add("collector = ?", collector)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(withDeadline(ctx), "SELECT event_id, count() FROM "+s.table("events")+" FINAL"+w.String()+" GROUP BY event_id", w.args...)
	if err != nil {
		return nil, classify("event ids", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]uint64{}
	for rows.Next() {
		var id uuid.UUID
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}
