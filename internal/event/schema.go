package event

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of the event JSON form. Tests
// enforce that Event marshals to documents it accepts.
//
//go:embed schema.json
var Schema []byte
