package bus

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// The hub's own check of what a site's source delivered. Sourcing through
// a site's consumer leaves the subject filter to the site's server (the
// hub resets a widened filter within seconds, InspectSite), and the hub
// stream stores whatever arrives on the site's delivery subject; so the
// ncc reads, on every sourced message, the Nats-Stream-Source header the
// hub's server wrote (a client cannot set it: the server replaces it) and
// refuses a message of a site under another OISC's subject.

// HeaderStreamSource is the header the server writes on a sourced message:
// "<source id> <sequence> <filter> <destination> <original subject>",
// where the id is the source's stream name, ":" and a hash of its
// external API prefix, and ":C=" and a hash of its consumer's name.
const HeaderStreamSource = "Nats-Stream-Source"

// ErrForeignSubject marks a sourced message under a subject its site may
// not use.
var ErrForeignSubject = errors.New("a site's message under another OISC's subject")

// SourceIndex maps the source ids of the hub stream's site sources to
// their sites.
type SourceIndex map[string]SiteSource

// NewSourceIndex indexes the sites the hub stream sources.
func NewSourceIndex(sites []SiteSource) SourceIndex {
	idx := SourceIndex{}
	for _, s := range sites {
		idx[sourceID(s.Domain)] = s
	}
	return idx
}

// sourceID is the id nats-server gives the source of a site (its
// composeIName up to the first space): the server's getHash is the first
// 8 bytes of the name's SHA-256, each mapped onto 62 digits.
func sourceID(domain string) string {
	return SiteStream + ":" + serverHash("$JS."+domain+".API") + ":C=" + serverHash(SiteSourceConsumer)
}

func serverHash(name string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(name))
	b := make([]byte, 8)
	for i := range b {
		b[i] = digits[int(sum[i]%62)]
	}
	return string(b)
}

// Check returns the site a message came from ("" when it was not sourced
// from a site) and ErrForeignSubject when that site's OISC is not the
// subject's. A message sourced from a stream that is none of the sites is
// foreign too: the hub stream sources nothing else.
func (idx SourceIndex) Check(h nats.Header, subject string) (site string, err error) {
	v := h.Get(HeaderStreamSource)
	if v == "" || len(idx) == 0 {
		return "", nil
	}
	id, _, _ := strings.Cut(v, " ")
	s, ok := idx[id]
	if !ok {
		return id, fmt.Errorf("%w: sourced from %q, none of the sites", ErrForeignSubject, id)
	}
	if s.OISC != "" && !strings.HasPrefix(subject, EventsPrefix+"."+s.OISC+".") {
		return s.Domain, fmt.Errorf("%w: site %s (%s) sent %s", ErrForeignSubject, s.Domain, s.OISC, subject)
	}
	return s.Domain, nil
}
