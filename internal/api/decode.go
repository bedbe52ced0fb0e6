package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// Error codes of request bodies (with CodeInvalidBody and
// CodeUnknownField).
const (
	CodeTooDeep      = "too_deep"
	CodeInvalidField = "invalid_field"
)

// maxJSONDepth bounds the nesting of request bodies.
const maxJSONDepth = 16

// decodeBody decodes a JSON request body strictly into v: an object, valid
// UTF-8, no deeper than maxJSONDepth, no unknown field, nothing after it.
// The body limit is Fiber's (BodyLimit).
func decodeBody(c *fiber.Ctx, v any) error {
	if err := decodeBodyE(c, v); err != nil {
		return err
	}
	return nil
}

func decodeBodyE(c *fiber.Ctx, v any) *Error {
	body := c.Body()
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		return &Error{Status: fiber.StatusUnsupportedMediaType, Code: CodeInvalidBody, Message: "send application/json"}
	}
	return decodeJSON(body, v)
}

// decodeStrict is decodeJSON of a body of at most max bytes.
func decodeStrict(body []byte, max int, v any) *Error {
	if len(body) > max {
		return &Error{Status: fiber.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("the body exceeds %d bytes", max)}
	}
	return decodeJSON(body, v)
}

func decodeJSON(body []byte, v any) *Error {
	bad := func(code, field, format string, args ...any) *Error {
		return &Error{Status: fiber.StatusBadRequest, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return bad(CodeInvalidBody, "", "a JSON object is required")
	}
	if !utf8.Valid(body) {
		return bad(CodeInvalidBody, "", "the body is not valid UTF-8")
	}
	if d := jsonDepth(body); d > maxJSONDepth {
		return bad(CodeTooDeep, "", "the body nests deeper than %d levels", maxJSONDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.ToValidUTF8(truncate(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), 64), "")
			return bad(CodeUnknownField, f, "unknown field %q", f)
		case errors.As(err, &te) && te.Field == "":
			return bad(CodeInvalidBody, "", "the body must be a JSON object")
		case errors.As(err, &te):
			f := jsonPath(te.Field)
			return bad(CodeInvalidField, f, "%s must be %s", f, te.Type)
		case errors.As(err, &se):
			return bad(CodeInvalidBody, "", "invalid JSON at byte %d", se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return bad(CodeInvalidBody, "", "the body is not valid JSON")
		}
		var fe *fieldError
		if errors.As(err, &fe) {
			return bad(CodeInvalidField, fe.field, "%s", fe.msg)
		}
		return bad(CodeInvalidBody, "", "the body is not a valid request: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad(CodeInvalidBody, "", "data after the JSON object")
	}
	return nil
}

// fieldError is a field's value refused while decoding (a time that does
// not parse, say).
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// jsonDepth is the deepest nesting of objects and arrays in b (strings
// skipped), without decoding it.
func jsonDepth(b []byte) int {
	depth, deepest, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// jsonPath is a decoding error's field path as the body names it: Go's
// path also names embedded structs (triageFields.reason), whose names
// are capitalised, unlike the API's snake_case keys.
func jsonPath(p string) string {
	parts := strings.Split(p, ".")
	out := parts[:0]
	for _, s := range parts {
		if strings.ToLower(s) == s {
			out = append(out, s)
		}
	}
	return truncate(strings.Join(out, "."), 64)
}
