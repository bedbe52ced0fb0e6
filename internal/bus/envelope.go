package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
)

// Batch is the envelope of one message: events of one collector, each in
// its JSON form, with the identity they were given at acceptance.
type Batch struct {
	// ID is "<collector>/<sequence>", also the Nats-Msg-Id.
	ID        string            `json:"id"`
	Collector string            `json:"collector"`
	OISC      string            `json:"oisc"`
	Seq       uint64            `json:"seq"`
	CreatedAt time.Time         `json:"created_at"`
	Events    []json.RawMessage `json:"events"`
}

// BatchID formats a batch id.
func BatchID(collector string, seq uint64) string {
	return collector + "/" + strconv.FormatUint(seq, 10)
}

// EncodeBatch returns the message for b (without subject), S2-compressed
// when compress is set.
func EncodeBatch(b *Batch, compress bool) (*nats.Msg, error) {
	body, err := encodeBody(b)
	if err != nil {
		return nil, fmt.Errorf("bus: encode batch %s: %w", b.ID, err)
	}
	msg := nats.NewMsg("")
	msg.Header.Set(HeaderSchema, SchemaHeader)
	msg.Header.Set(HeaderCount, strconv.Itoa(len(b.Events)))
	if compress {
		msg.Header.Set(HeaderEncoding, "s2")
		body = s2.Encode(nil, body)
	}
	msg.Data = body
	return msg, nil
}

// MaxDecoded bounds the decompressed size of an envelope (64 MiB).
const MaxDecoded = 64 << 20

// ErrTooLarge is returned for an envelope whose body decompresses to more
// than MaxDecoded bytes.
var ErrTooLarge = errors.New("envelope too large")

// DecodeBatch parses a message body with its headers. It fails for an
// unknown schema version or encoding, a body that does not decode (or
// decodes to more than MaxDecoded bytes: ErrTooLarge), or a batch without id.
// The events are slices of one decompressed body, which stays allocated
// while any of them is referenced.
func DecodeBatch(h nats.Header, data []byte) (*Batch, error) {
	b, _, err := DecodeBatchSize(h, data)
	return b, err
}

// DecodeBatchSize is DecodeBatch that also returns the size of the
// decompressed body the events refer to.
func DecodeBatchSize(h nats.Header, data []byte) (*Batch, int, error) {
	if v := h.Get(HeaderSchema); v != SchemaHeader {
		return nil, 0, fmt.Errorf("bus: %w %q", ErrSchema, v)
	}
	switch enc := h.Get(HeaderEncoding); enc {
	case "":
	case "s2":
		n, err := s2.DecodedLen(data)
		if err != nil {
			return nil, 0, fmt.Errorf("bus: s2 body: %w", err)
		}
		if n > MaxDecoded {
			return nil, 0, fmt.Errorf("bus: s2 body decodes to %d bytes, over %d: %w", n, MaxDecoded, ErrTooLarge)
		}
		if data, err = s2.Decode(nil, data); err != nil {
			return nil, 0, fmt.Errorf("bus: s2 body: %w", err)
		}
	default:
		return nil, 0, fmt.Errorf("bus: unknown encoding %q", enc)
	}
	b, err := decodeBody(data)
	if err != nil {
		return nil, 0, fmt.Errorf("bus: batch body: %w", err)
	}
	if b.ID == "" {
		return nil, 0, fmt.Errorf("bus: batch without id")
	}
	return b, len(data), nil
}
