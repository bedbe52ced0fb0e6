package api

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
)

const principalKey = "kuzet.principal"

// maxKeyLen bounds a presented key; longer ones are rejected unhashed.
const maxKeyLen = 512

// authenticate resolves the API key or OIDC token (see oidc.go) to a
// principal or answers 401, and applies the principal's request rate (429
// with Retry-After over it). An address that failed to authenticate
// limits.max_auth_failures_per_ip times within the window answers 429
// before any credential is checked (see authfail.go).
func (s *Server) authenticate(c *fiber.Ctx) error {
	addr := addrKey(s.clientAddr(c))
	if err := s.refuseFailingAddr(c, addr); err != nil {
		return err
	}
	p, err := s.credential(c)
	if err != nil {
		if ae := (*Error)(nil); errors.As(err, &ae) && ae.Status == fiber.StatusUnauthorized {
			s.fails.fail(addr)
			s.m.authAddrs.Set(float64(s.fails.tracked()))
		}
		return err
	}
	if ok, wait := s.lim.allow(p.Name); !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		return &Error{Status: fiber.StatusTooManyRequests, Code: CodeRateLimited,
			Message: "this key is over its request rate; retry after the Retry-After seconds"}
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// credential reads the request's API key or token and returns its
// principal, or the error to answer (401 for every refused credential).
func (s *Server) credential(c *fiber.Ctx) (access.Principal, error) {
	key := ""
	if auth := c.Get(fiber.HeaderAuthorization); auth != "" {
		scheme, rest, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			s.m.authFailures.WithLabelValues("malformed").Inc()
			return access.Principal{}, &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "use Authorization: Bearer <api key>"}
		}
		key = strings.TrimSpace(rest)
	} else {
		key = c.Get("X-API-Key")
	}
	if key == "" {
		s.m.authFailures.WithLabelValues("missing").Inc()
		return access.Principal{}, &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "an API key is required"}
	}
	switch {
	case len(key) > maxTokenLen:
		return access.Principal{}, s.authFailed("malformed")
	case s.oidc != nil && isJWT(key):
		return s.authenticateToken(key)
	case len(key) > maxKeyLen:
		return access.Principal{}, s.authFailed("malformed")
	}
	return s.lookupKey(key)
}

// lookupKey finds the principal of a presented key: first among the
// configured keys (by hash), then among the stored ones (by the id inside
// the key, the hash compared in constant time). An unknown, expired or
// revoked key answers the same 401, counted by reason; so does a key's
// previous secret once its rotation's grace has passed (reason rotated).
func (s *Server) lookupKey(key string) (access.Principal, error) {
	if p, ok := s.keys[access.HashKey(key)]; ok {
		return p, nil
	}
	id, ok := access.KeyID(key)
	if !ok || s.st == nil {
		return access.Principal{}, s.authFailed("unknown")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	k, prev, found, err := s.ring.lookup(ctx, s.st, id)
	if err != nil {
		s.m.authFailures.WithLabelValues("unavailable").Inc()
		return access.Principal{}, &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "API keys cannot be checked now; retry later", Err: err}
	}
	if !found {
		return access.Principal{}, s.authFailed("unknown")
	}
	now := s.now()
	if !access.KeyMatches(key, k.Hash) {
		// The secret before the key's last rotation works until its grace ends.
		if prev.Hash == "" || !access.KeyMatches(key, prev.Hash) {
			return access.Principal{}, s.authFailed("unknown")
		}
		if !now.Before(prev.ValidUntil) {
			return access.Principal{}, s.authFailed("rotated")
		}
	}
	if st := k.State(now); st != access.KeyActive {
		return access.Principal{}, s.authFailed(string(st))
	}
	return k.Principal(), nil
}

// authFailed counts a refused key by reason and returns the one 401 every
// refused key gets.
func (s *Server) authFailed(reason string) error {
	s.m.authFailures.WithLabelValues(reason).Inc()
	return &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "invalid API key"}
}

func principal(c *fiber.Ctx) access.Principal {
	p, _ := c.Locals(principalKey).(access.Principal)
	return p
}

func (s *Server) whoami(c *fiber.Ctx) error {
	p := principal(c)
	return c.JSON(fiber.Map{"name": p.Name, "role": p.Role, "oisc": p.OISC, "org": p.Org, "sectors": p.Sectors})
}
