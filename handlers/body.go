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
// names and matches case: once it is not, it can do most of this.) So
// encoding/json reads the body into a map, which holds one entry per
// distinct name (escapes decoded), and countMembers counts the members:
// fewer entries than members is a repeated name. BenchmarkDecodeJSON
// measures it at three times json.Unmarshal's time into a struct on a
// login body (micro-seconds, beside a password check of a quarter of a
// second), and eight times on DefaultBodyLimit of unknown members
// (milliseconds), where reading the body token by token took eighteen.
func decodeJSON(data []byte, fields []field) error {
	var m map[string]json.RawMessage
	err := json.Unmarshal(data, &m)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return badRequest("The body is not valid JSON.")
	case err != nil || m == nil:
		return badRequest("The body must be a JSON object.")
	case len(m) != countMembers(data):
		return badRequest("A field appears twice.")
	}
	for i := range fields {
		f := &fields[i]
		raw, ok := m[f.name]
		if !ok {
			continue
		}
		if bytes.Equal(raw, []byte("null")) {
			return badRequest("The field %q must not be null.", f.name)
		}
		var dst any = f.str
		if f.str == nil {
			dst = f.flag
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return badRequest("The field %q has the wrong type.", f.name)
		}
	}
	return missing(fields)
}

// countMembers counts the members of data, a JSON object that
// json.Unmarshal has found valid: the colons outside strings at the
// object's own level.
func countMembers(data []byte) int {
	n, depth, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped character, a quote perhaps
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ':':
			if depth == 1 {
				n++
			}
		}
	}
	return n
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
