package api

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// rotateRequest is the body of POST /api/v1/admin/keys/{id}/rotate (the
// body may be empty).
type rotateRequest struct {
	// Grace is how long the old secret keeps working (a Go duration, 0 to
	// 168h); empty: 24h.
	Grace string `json:"grace"`
}

// decodeRotateRequest returns the grace period a rotation asks for.
func decodeRotateRequest(body []byte) (time.Duration, *Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return access.DefaultRotationGrace, nil
	}
	var r rotateRequest
	if err := decodeStrict(body, maxKeyBody, &r); err != nil {
		return 0, err
	}
	if r.Grace == "" {
		return access.DefaultRotationGrace, nil
	}
	d, err := time.ParseDuration(r.Grace)
	if err != nil {
		return 0, bodyField("grace", "must be a duration such as 24h")
	}
	if err := access.CheckGrace(d); err != nil {
		return 0, bodyField("grace", err.Error())
	}
	return d, nil
}

// rotateKey answers POST /api/v1/admin/keys/{id}/rotate: the key gets a new
// secret, shown this once (same id, name, role, scope and expiry; the store
// keeps its hash); the old secret keeps working for the grace period, then
// answers 401 (reason rotated). Rotating again within it ends the older
// secret at once: a key has at most one previous secret. Another instance
// takes the new secret within stored_keys.cache_ttl. A revoked or expired
// key cannot be rotated (409 conflict).
func (s *Server) rotateKey(c *fiber.Ctx) error {
	id := c.Params("id")
	if !access.ValidKeyID(id) {
		return badParam("id", "a key id is 32 lower-case hex digits")
	}
	grace, perr := decodeRotateRequest(c.Body())
	if perr != nil {
		return perr
	}
	setAuditDetail(c, "grace="+grace.String())
	secret, err := access.NewSecret(id)
	if err != nil {
		return err
	}
	now := s.now()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	k, err := s.st.RotateKey(ctx, id, access.HashKey(secret), now, now.Add(grace))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such key"}
	case errors.Is(err, store.ErrKeyNotActive):
		return &Error{Status: fiber.StatusConflict, Code: CodeConflict, Message: "the key is " + string(k.State(now)) + "; make a new one"}
	case err != nil:
		return err
	}
	s.ring.invalidate()
	until := now.Add(grace).UTC().Truncate(time.Second)
	if until.After(k.ExpiresAt) {
		until = k.ExpiresAt
	}
	return c.JSON(struct {
		keyView
		Key                string    `json:"key"`
		PreviousValidUntil time.Time `json:"previous_valid_until"`
	}{keyView{k, k.State(now)}, secret, until})
}
