package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/console"
)

// mountConsole serves the web console (internal/console) outside /api:
// the page at / and its assets under /console/, without a key (they hold
// no data; the page signs in and calls /api/v1 with a bearer key). The
// assets are served by a prefix middleware, as static files usually are,
// so they are no API route: app.GetRoutes(true), which the Allow header
// and the OpenAPI test list, does not show them. Other methods there fall
// through to the API's 404/405. The console's Content-Security-Policy
// replaces the API's "default-src 'none'" on these responses only.
func (s *Server) mountConsole(app *fiber.App) {
	app.Get("/", s.serveConsole)
	app.Use(strings.TrimSuffix(console.Prefix, "/"), func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		return s.serveConsole(c)
	})
}

func (s *Server) serveConsole(c *fiber.Ctx) error {
	a, ok := console.Lookup(c.Path())
	if !ok {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such console file: " + c.Path()}
	}
	c.Set(fiber.HeaderContentSecurityPolicy, console.ContentSecurityPolicy)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, a.ETag)
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	if c.Get(fiber.HeaderIfNoneMatch) == a.ETag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	return c.Send(a.Body)
}
