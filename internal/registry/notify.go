package registry

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// Notification channels of an endpoint.
const (
	ChannelNATS    = "nats"
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Languages a notification can be written in; ru is the default.
var Languages = []string{"kk", "ru", "en"}

// Notify is where a center or an organisation receives the notifications
// of the legal clocks (DOMAIN.md, "Recipients"), and in which language.
// The NATS channel publishes to kuzet.notify.<kind>.<id> (kind: the
// center's kind, or org); a webhook posts the payload signed with HMAC-SHA256;
// email sends it through the ncc's SMTP relay.
type Notify struct {
	// Channel is nats (the default), webhook or email.
	Channel string `yaml:"channel,omitempty" json:"channel,omitempty"`
	// URL is the webhook's http(s) address.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Secret names the webhook's HMAC key by reference, never by value:
	// env:NAME (an environment variable of the ncc) or file:PATH.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// Email are the addresses of the email channel.
	Email []string `yaml:"email,omitempty" json:"email,omitempty"`
	// Language is kk, ru or en (default ru).
	Language string `yaml:"language,omitempty" json:"language,omitempty"`
}

// ChannelOrDefault is the endpoint's channel (nats when unset or n is nil).
func (n *Notify) ChannelOrDefault() string {
	if n == nil || n.Channel == "" {
		return ChannelNATS
	}
	return n.Channel
}

// LanguageOrDefault is the endpoint's language (ru when unset or n is nil).
func (n *Notify) LanguageOrDefault() string {
	if n == nil || n.Language == "" {
		return "ru"
	}
	return n.Language
}

// validate returns the endpoint's problems, each naming its field.
func (n *Notify) validate(where string) []error {
	if n == nil {
		return nil
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", where, field, fmt.Sprintf(format, args...)))
	}
	if n.Language != "" && !slices.Contains(Languages, n.Language) {
		bad("language", "must be one of %s, not %q", strings.Join(Languages, ", "), n.Language)
	}
	switch n.ChannelOrDefault() {
	case ChannelNATS:
	case ChannelWebhook:
		u, err := url.Parse(n.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("url", "a webhook needs an http(s) URL, not %q", n.URL)
		}
		if kind, rest, ok := strings.Cut(n.Secret, ":"); !ok || (kind != "env" && kind != "file") || rest == "" {
			bad("secret", "a webhook needs its HMAC secret by reference, env:NAME or file:PATH (never the value)")
		}
	case ChannelEmail:
		if len(n.Email) == 0 {
			bad("email", "the email channel needs at least one address")
		}
		for _, a := range n.Email {
			if _, err := mail.ParseAddress(a); err != nil {
				bad("email", "%q: %v", a, err)
			}
		}
	default:
		bad("channel", "must be nats, webhook or email, not %q", n.Channel)
	}
	return errs
}
