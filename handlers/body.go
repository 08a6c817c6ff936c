package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/middleware"
)

// field is one expected field of a request body.
type field struct {
	name     string
	str      *string // a string field, or
	flag     *bool   // a boolean one
	required bool
}

// readBody fills fields from a JSON object or a urlencoded form, strictly:
// a malformed body, a field of the wrong type, a repeated field or trailing
// data is ErrBadRequest; an oversized body ErrPayloadTooLarge; another
// content type ErrUnsupportedMedia. form reports a urlencoded body (a
// browser's form post).
func readBody(c *gin.Context, fields ...field) (form bool, err error) {
	ct, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch {
	case ct == "application/json" || strings.HasSuffix(ct, "+json"):
		data, err := io.ReadAll(c.Request.Body)
		if err != nil {
			return false, readErr(err)
		}
		return false, decodeJSON(data, fields)
	case ct == "application/x-www-form-urlencoded":
		data, err := io.ReadAll(c.Request.Body)
		if err != nil {
			return true, readErr(err)
		}
		return true, decodeForm(data, fields)
	case ct == "" && c.Request.ContentLength == 0:
		return false, missing(fields)
	}
	return false, middleware.ErrUnsupportedMedia
}

func readErr(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return middleware.ErrPayloadTooLarge
	}
	return middleware.BadRequest("The request body could not be read.")
}

func badRequest(format string, args ...any) error {
	return middleware.BadRequest(fmt.Sprintf(format, args...))
}

// decodeJSON reads a JSON object into fields, strictly: a repeated member,
// a known field of the wrong type or null, or anything but one object is
// refused; names match exactly; unknown members are read and ignored.
//
// json.Unmarshal into a struct cannot do this: it keeps the last of
// repeated members (a proxy or WAF that reads the first would see another
// username than the one that signs in), matches names whatever their case
// and reads null as the zero value (TestDecodeJSONRefusesWhatUnmarshalAccepts).
// (encoding/json/v2, an experiment in Go 1.25 and 1.26, refuses repeated
// names and matches case: once it is not, it can do most of this.)
// So the body is read token by token. BenchmarkDecodeJSON measures the
// cost: about four times json.Unmarshal's on a login body (micro-seconds,
// beside a password check of a quarter of a second).
func decodeJSON(data []byte, fields []field) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return badRequest("The body must be a JSON object.")
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return badRequest("The body is not valid JSON.")
		}
		key := tok.(string) // object keys are always strings
		if seen[key] {
			return badRequest("The field %q appears twice.", key)
		}
		seen[key] = true
		var dst any = new(json.RawMessage) // unknown fields are read and ignored
		var f *field
		for i := range fields {
			if fields[i].name == key {
				f = &fields[i]
			}
		}
		if f != nil {
			if f.str != nil {
				dst = f.str
			} else {
				dst = f.flag
			}
		}
		raw := json.RawMessage{}
		if err := dec.Decode(&raw); err != nil {
			return badRequest("The body is not valid JSON.")
		}
		if f != nil && bytes.Equal(raw, []byte("null")) {
			return badRequest("The field %q must not be null.", key)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return badRequest("The field %q has the wrong type.", key)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return badRequest("The body is not valid JSON.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("Unexpected data after the JSON object.")
	}
	return missing(fields)
}

func decodeForm(data []byte, fields []field) error {
	vals, err := url.ParseQuery(string(data))
	if err != nil {
		return badRequest("The form is malformed.")
	}
	for i := range fields {
		f := &fields[i]
		vs, ok := vals[f.name]
		if !ok {
			continue
		}
		if len(vs) > 1 {
			return badRequest("The field %q appears twice.", f.name)
		}
		if f.str != nil {
			*f.str = vs[0]
			continue
		}
		switch strings.ToLower(vs[0]) {
		case "on", "true", "1", "yes":
			*f.flag = true
		case "", "off", "false", "0", "no":
			*f.flag = false
		default:
			return badRequest("The field %q must be true or false.", f.name)
		}
	}
	return missing(fields)
}

func missing(fields []field) error {
	var names []string
	for _, f := range fields {
		if f.required && f.str != nil && *f.str == "" {
			names = append(names, f.name)
		}
	}
	if len(names) > 0 {
		return badRequest("Required: %s.", strings.Join(names, ", "))
	}
	return nil
}
