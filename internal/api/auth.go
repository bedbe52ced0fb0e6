package api

import (
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
)

const principalKey = "kuzet.principal"

// maxKeyLen bounds a presented key; longer ones are rejected unhashed.
const maxKeyLen = 512

// authenticate resolves the API key to a principal or answers 401, and
// applies the key's request rate (429 with Retry-After over it).
func (s *Server) authenticate(c *fiber.Ctx) error {
	key := ""
	if auth := c.Get(fiber.HeaderAuthorization); auth != "" {
		scheme, rest, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "use Authorization: Bearer <api key>"}
		}
		key = strings.TrimSpace(rest)
	} else {
		key = c.Get("X-API-Key")
	}
	if key == "" {
		return &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "an API key is required"}
	}
	if len(key) > maxKeyLen {
		return &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "invalid API key"}
	}
	p, ok := s.keys[access.HashKey(key)]
	if !ok {
		return &Error{Status: fiber.StatusUnauthorized, Code: CodeUnauthorized, Message: "invalid API key"}
	}
	if ok, wait := s.lim.allow(p.Name); !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		return &Error{Status: fiber.StatusTooManyRequests, Code: CodeRateLimited,
			Message: "this key is over its request rate; retry after the Retry-After seconds"}
	}
	c.Locals(principalKey, p)
	return c.Next()
}

func principal(c *fiber.Ctx) access.Principal {
	p, _ := c.Locals(principalKey).(access.Principal)
	return p
}

func (s *Server) whoami(c *fiber.Ctx) error {
	p := principal(c)
	return c.JSON(fiber.Map{"name": p.Name, "role": p.Role, "oisc": p.OISC, "org": p.Org, "sectors": p.Sectors})
}
