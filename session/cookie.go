package session

import (
	"net/http"
	"net/textproto"
	"strings"
)

// cookieState is what a request's cookies say about its session.
type cookieState uint8

const (
	// noCookie: the request carries no cookie of the name.
	noCookie cookieState = iota
	// badCookie: it carries cookies of the name, and none verifies.
	badCookie
	// oneSession: the cookies of the name that verify all name one session
	// (usually there is one such cookie); those that do not verify are
	// ignored.
	oneSession
	// manySessions: cookies of the name that verify name different
	// sessions. Cookies are sent without their Domain and Path, so the
	// server cannot tell its own from one that a sibling subdomain set for
	// the parent domain (a session of the attacker's, planted to sign the
	// victim in as the attacker): none may be used.
	manySessions
)

// ReadCookie finds the cookies named name in the request's Cookie headers,
// verifies each, and returns the session they name. A browser sends more
// than one cookie of a name when cookies of different Domain or Path
// attributes match the request; which comes first says nothing about whose
// it is. So: cookies that do not verify are noise (a garbage duplicate
// cannot sign anybody out); the cookies that verify must all carry the same
// sessionID, or the request has no session (manySessions). id, flags and stale
// are those of the first cookie that verifies; stale also when any of them
// is stale.
//
// It reads the headers in place, without making a Cookie of every cookie
// the browser sent: the session cookie is read on every request. Quotes
// around a value are dropped, as net/http does. Request.CookiesNamed would
// do the parsing at twice the time, with a slice and a *Cookie per cookie
// of the name (two allocations, 272 bytes, for one session cookie):
// BenchmarkCookieHeader compares the two. Unlike net/http, it does not
// drop a cookie whose value has bytes RFC 6265 forbids: Decode refuses
// such a value (only 88 base64url characters verify), so it counts as a
// bad cookie, and is expired.
func (c *codec) ReadCookie(h http.Header, name string) (id sessionID, flags cookieFlags, stale bool, state cookieState) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			n, v, ok := strings.Cut(textproto.TrimString(part), "=")
			if !ok || n != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if state == noCookie {
				state = badCookie
			}
			i, f, s, err := c.Decode(name, v)
			if err != nil {
				continue
			}
			if state != oneSession {
				id, flags, stale, state = i, f, s, oneSession
				continue
			}
			if !id.Equal(i) {
				return sessionID{}, 0, false, manySessions
			}
			stale = stale || s
		}
	}
	return id, flags, stale, state
}
