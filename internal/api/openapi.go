package api

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDocument is the OpenAPI 3.1 document of this API, written by hand
// (openapi.json). Tests load and validate it, check that it lists every
// route Fiber registers and no other, and validate real requests and
// answers against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the API's OpenAPI 3.1 document (JSON). The caller must
// not modify it.
func OpenAPI() []byte { return openAPIDocument }

// openAPI answers GET /api/v1/openapi.json: public, no key needed.
func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDocument)
}
