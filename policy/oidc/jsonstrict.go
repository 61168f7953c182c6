package oidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// maxJSONDepth bounds nesting in token JSON; real tokens nest two or three
// levels (cnf, santedb, extensions.ihe_iua).
const maxJSONDepth = 16

// decodeObject decodes one JSON object that must be the whole of b, with no
// member name repeated at any level, not even in another letter case:
// encoding/json keeps the last duplicate and matches struct fields
// case-insensitively, so {"iss":"a","ISS":"b"} could mean one issuer to us
// and another to go-oidc.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := checkValue(dec, 0, true); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return m, nil
}

// checkValue reads one JSON value from dec, refusing duplicate member names.
func checkValue(dec *json.Decoder, depth int, mustBeObject bool) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("%w: JSON nested deeper than %d", ErrMalformed, maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	delim, isDelim := tok.(json.Delim)
	if mustBeObject && delim != '{' {
		return fmt.Errorf("%w: JSON is not an object", ErrMalformed)
	}
	if !isDelim {
		return nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			name, _ := tok.(string)
			folded := strings.ToLower(name)
			if seen[folded] {
				return fmt.Errorf("%w: %q", ErrDuplicateKey, name)
			}
			seen[folded] = true
			if err := checkValue(dec, depth+1, false); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1, false); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: unexpected %v", ErrMalformed, delim)
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
