package sessionstore

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// fastUnmarshalBody reads a body in exactly the form MarshalBody writes:
// the fields in the order of body's, no white space, strings without
// escapes, times in their canonical RFC 3339 form. It reports false,
// having changed nothing the caller relies on, for anything else, which
// encoding/json then reads. Strings of the record are slices of data.
func fastUnmarshalBody(data string, r *Record) bool {
	p := parser{s: data}
	if !p.byte('{') || !p.key("v") {
		return false
	}
	if v, ok := p.int(); !ok || v < 1 || v > RecordVersion {
		return false
	}
	var rec Record
	var values map[string]Value
	fields := [...]string{"uid", "created", "deadline", "ip", "ua", "persist", "cred", "auth", "values"}
	next := 0
	seenCreated := false
	for p.byte(',') {
		name, ok := p.str()
		if !ok || !p.byte(':') {
			return false
		}
		for next < len(fields) && fields[next] != name {
			next++
		}
		if next == len(fields) {
			return false // unknown, repeated or out of order
		}
		next++
		switch name {
		case "uid":
			rec.UserID, ok = p.str()
		case "created":
			rec.CreatedAt, ok = p.time()
			seenCreated = true
		case "deadline":
			rec.Deadline, ok = p.time()
		case "ip":
			rec.IPAddress, ok = p.str()
		case "ua":
			rec.UserAgent, ok = p.str()
		case "persist": // omitted when false
			ok = p.lit("true")
			rec.Persistent = ok
		case "cred":
			rec.Credential, ok = p.str()
		case "auth":
			rec.Auth, ok = p.str()
		case "values":
			values, ok = p.values()
		}
		if !ok {
			return false
		}
	}
	if !p.byte('}') || p.i != len(p.s) || !seenCreated {
		return false
	}
	if len(values) == 0 {
		values = nil
	}
	r.Meta.UserID, r.CreatedAt, r.Deadline = rec.UserID, rec.CreatedAt, rec.Deadline
	r.IPAddress, r.UserAgent, r.Persistent, r.Credential, r.Auth = rec.IPAddress, rec.UserAgent, rec.Persistent, rec.Credential, rec.Auth
	r.Values = values
	return true
}

// parser scans a string that is expected to be MarshalBody's JSON.
type parser struct {
	s string
	i int
}

func (p *parser) byte(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) lit(word string) bool {
	if len(p.s)-p.i >= len(word) && p.s[p.i:p.i+len(word)] == word {
		p.i += len(word)
		return true
	}
	return false
}

// key reads "name": for the expected name.
func (p *parser) key(name string) bool {
	s, ok := p.str()
	return ok && s == name && p.byte(':')
}

// str reads a string without escapes, control characters or invalid
// UTF-8 (what json.Marshal writes for a string that needs none).
func (p *parser) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			s := p.s[start:p.i]
			p.i++
			return s, utf8.ValidString(s)
		case c == '\\' || c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// int reads a small non-negative integer without a sign, fraction or
// leading zero.
func (p *parser) int() (int, bool) {
	start, n := p.i, 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' && p.i-start < 6 {
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
	}
	if p.i == start || (p.s[start] == '0' && p.i-start > 1) {
		return 0, false
	}
	return n, true
}

// time reads a time in the form json.Marshal gives a UTC time: it is
// accepted only when formatting the parsed time gives the same text back.
func (p *parser) time() (time.Time, bool) {
	s, ok := p.str()
	if !ok || !canonicalUTC(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// canonicalUTC reports whether s has the shape MarshalBody gives a UTC time
// (RFC 3339 as Time.MarshalJSON writes it: 2006-01-02T15:04:05, then a
// fraction without trailing zeros, if any, and Z). A string of that shape
// that time.Parse accepts formats back to itself, so nothing the scanner
// reads differs from what encoding/json reads; any other string goes to
// encoding/json.
func canonicalUTC(s string) bool {
	n := len(s)
	if n != 20 && (n < 22 || n > 30) {
		return false
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n-1] != 'Z' {
		return false
	}
	return n == 20 || (s[19] == '.' && s[n-2] != '0')
}

// object reads a JSON object whose names have no escapes, handing each
// member's name to member, which reads the value.
func (p *parser) object(member func(name string) bool) bool {
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return true
	}
	for {
		name, ok := p.str()
		if !ok || !p.byte(':') || !member(name) {
			return false
		}
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

// values reads the object of values, each value's JSON kept as it is (and
// checked with json.Valid).
func (p *parser) values() (map[string]Value, bool) {
	m := make(map[string]Value)
	ok := p.object(func(name string) bool {
		start := p.i
		if !p.skip(0) {
			return false
		}
		raw := json.RawMessage(p.s[start:p.i])
		if !json.Valid(raw) {
			return false
		}
		m[name] = Value{JSON: raw}
		return true
	})
	return m, ok
}

// skip moves past one JSON value, to find where it ends (json.Valid
// checks it afterwards). It gives up on nesting deeper than a JSON document
// sensibly has.
func (p *parser) skip(depth int) bool {
	if depth > 100 || p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		p.i++
		for p.i < len(p.s) {
			switch p.s[p.i] {
			case '\\':
				p.i += 2
				continue
			case '"':
				p.i++
				return true
			}
			p.i++
		}
		return false
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		if p.byte(closer) {
			return true
		}
		for {
			if c == '{' {
				if !p.skip(depth+1) || !p.byte(':') {
					return false
				}
			}
			if !p.skip(depth + 1) {
				return false
			}
			if p.byte(closer) {
				return true
			}
			if !p.byte(',') {
				return false
			}
		}
	default: // a number, true, false or null: up to the next delimiter
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '}' && p.s[p.i] != ']' && p.s[p.i] != ':' {
			p.i++
		}
		return p.i > start
	}
}
