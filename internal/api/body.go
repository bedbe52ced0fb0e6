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

// maxJSONDepth bounds the nesting of a request body's JSON: kuzet's
// request bodies are at most three levels deep.
const maxJSONDepth = 8

// decodeJSON decodes body, one JSON object, into v strictly: a body over
// max bytes is 413 request_too_large; an empty body, invalid UTF-8, JSON
// nested deeper than maxJSONDepth, a syntax error, a wrong type or data after
// the object are 400 invalid_body; a field v does not have is 400
// unknown_field naming it.
func decodeJSON(body []byte, max int, v any) *Error {
	if len(body) > max {
		return &Error{Status: fiber.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("the body exceeds %d bytes", max)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidBody, Message: "a JSON object is required"}
	}
	if !utf8.Valid(body) {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidBody, Message: "the body is not valid UTF-8"}
	}
	if jsonDepth(body) > maxJSONDepth {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidBody, Message: fmt.Sprintf("the JSON is nested deeper than %d levels", maxJSONDepth)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			f := truncate(te.Field, 64)
			return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidBody, Field: f, Message: "wrong JSON type for " + f}
		case errors.As(err, &se):
			return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidBody, Message: fmt.Sprintf("invalid JSON at byte %d", se.Offset)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := truncate(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), 64)
			return &Error{Status: fiber.StatusBadRequest, Code: CodeUnknownField, Field: f, Message: "unknown field " + strings.ToValidUTF8(f, "")}
		}
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidBody, Message: "the body is not a JSON object of the expected form"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidBody, Message: "data after the JSON object"}
	}
	return nil
}

// jsonDepth returns the deepest nesting of objects and arrays in data,
// outside strings (data need not be valid JSON).
func jsonDepth(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			deepest = max(deepest, depth)
		case b == '}' || b == ']':
			depth--
		}
	}
	return deepest
}
