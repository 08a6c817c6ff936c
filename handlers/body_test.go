package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkDecodeJSON measures the strict reader of the prebuilt routes'
// JSON bodies (decodeJSON), the token reader it replaced
// (decodeJSONTokens), and json.Unmarshal into a struct, which is not
// strict (it keeps the last of repeated members, matches names whatever
// their case and reads null as the zero value), on a login body and on the
// worst body an anonymous client can send: DefaultBodyLimit of unknown
// members. The prebuilt routes check a password (a quarter of a second at
// bcrypt's default cost) after reading the body.
func BenchmarkDecodeJSON(b *testing.B) {
	login := `"username":"alice@example.com","password":"correct horse battery staple","remember":true,"returnTo":"/account/orders?page=2"`
	var hostile strings.Builder
	hostile.WriteString("{" + login)
	for i := 0; hostile.Len() < DefaultBodyLimit-20; i++ {
		fmt.Fprintf(&hostile, `,"%x":0`, i)
	}
	hostile.WriteString("}")
	for _, tc := range []struct{ name, body string }{
		{"login", "{" + login + "}"},
		{"64KiB", hostile.String()},
	} {
		body := []byte(tc.body)
		for _, r := range []struct {
			name   string
			decode func([]byte, []field) error
		}{{"strict", decodeJSON}, {"tokens", decodeJSONTokens}} {
			b.Run(tc.name+"/"+r.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var username, password, returnTo string
					var remember bool
					err := r.decode(body, []field{
						{name: "username", str: &username, required: true},
						{name: "password", str: &password, required: true},
						{name: "remember", flag: &remember},
						{name: "returnTo", str: &returnTo},
					})
					if err != nil || username == "" || !remember {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(tc.name+"/unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var in struct {
					Username string `json:"username"`
					Password string `json:"password"`
					Remember bool   `json:"remember"`
					ReturnTo string `json:"returnTo"`
				}
				if err := json.Unmarshal(body, &in); err != nil || in.Username == "" || !in.Remember {
					b.Fatal(err)
				}
			}
		})
	}
}

// What decodeJSON refuses and json.Unmarshal into a struct accepts: the
// reason decodeJSON is hand-written.
func TestDecodeJSONRefusesWhatUnmarshalAccepts(t *testing.T) {
	for _, body := range []string{
		`{"username":"eve","username":"alice","password":"pw"}`, // json.Unmarshal keeps the last
		`{"USERNAME":"alice","password":"pw"}`,                  // json.Unmarshal matches any case
		`{"username":"alice","password":"pw","remember":null}`,  // json.Unmarshal reads null as false
	} {
		var in struct {
			Username string `json:"username"`
			Password string `json:"password"`
			Remember bool   `json:"remember"`
		}
		if err := json.Unmarshal([]byte(body), &in); err != nil || in.Username != "alice" {
			t.Errorf("json.Unmarshal(%s) = %+v, %v: the comparison is out of date", body, in, err)
		}
		var username, password string
		var remember bool
		err := decodeJSON([]byte(body), []field{
			{name: "username", str: &username, required: true},
			{name: "password", str: &password, required: true},
			{name: "remember", flag: &remember},
		})
		if err == nil {
			t.Errorf("decodeJSON accepted %s", body)
		}
	}
}

// decodeJSONTokens is decodeJSON as it was, on json.Decoder's tokens,
// kept as FuzzLoginBody's oracle: the two must accept and refuse the same
// bodies, and read the same fields. BenchmarkDecodeJSON measures it too.
func decodeJSONTokens(data []byte, fields []field) error {
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
