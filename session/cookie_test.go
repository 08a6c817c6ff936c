package session

import (
	"net/http"
	"testing"
)

func TestReadCookie(t *testing.T) {
	c := mustCodec(t, secretA, secretB)
	old := mustCodec(t, secretB)
	one, other := newID(), newID()
	enc := func(c *codec, id sessionID) string { return c.Encode("sid", id, flagSignedIn) }
	a, aOld, b := enc(c, one), enc(old, one), enc(c, other)
	tampered := b[:len(b)-2] + "AA"
	tests := []struct {
		name    string
		headers []string
		want    cookieState
		stale   bool
	}{
		{"none", nil, noCookie, false},
		{"others only", []string{"a=1; sid2=" + a + "; xsid=" + a}, noCookie, false},
		{"garbage", []string{"sid=garbage"}, badCookie, false},
		{"empty", []string{"sid="}, badCookie, false},
		{"one", []string{"sid=" + a}, oneSession, false},
		{"quoted", []string{`sid="` + a + `"`}, oneSession, false},
		{"spaces", []string{"  a=1 ;  sid=" + a + "  ; b=2"}, oneSession, false},
		{"garbage first", []string{"sid=x; sid=" + a}, oneSession, false},
		{"tampered last", []string{"sid=" + a + "; sid=" + tampered}, oneSession, false},
		{"same twice", []string{"sid=" + a + "; sid=" + a}, oneSession, false},
		{"same sessionID, old and new secret", []string{"sid=" + a + "; sid=" + aOld}, oneSession, true},
		{"old secret", []string{"sid=" + aOld}, oneSession, true},
		{"two sessions", []string{"sid=" + a + "; sid=" + b}, manySessions, false},
		{"two sessions, reversed", []string{"sid=" + b + "; sid=" + a}, manySessions, false},
		{"two sessions, two headers", []string{"sid=" + b, "x=1; sid=" + a}, manySessions, false},
		{"two sessions and garbage", []string{"sid=x; sid=" + b + "; sid=y; sid=" + a}, manySessions, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Cookie": tt.headers}
			id, flags, stale, got := c.ReadCookie(h, "sid")
			if got != tt.want || stale != tt.stale {
				t.Fatalf("state %d stale %v, want %d %v", got, stale, tt.want, tt.stale)
			}
			switch got {
			case oneSession:
				if !id.Equal(one) || flags != flagSignedIn {
					t.Errorf("id %v flags %d, want %v %d", id, flags, one, flagSignedIn)
				}
			default:
				if !id.IsZero() || flags != 0 {
					t.Errorf("%d: id %v flags %d, want none", got, id, flags)
				}
			}
		})
	}
}

// The session cookie is read on every request: reading it allocates
// nothing, however many cookies the browser sends.
func TestReadCookieAllocatesNothing(t *testing.T) {
	c := mustCodec(t, secretA)
	v := c.Encode("sid", newID(), 0)
	h := http.Header{"Cookie": {"_ga=GA1.2.3; theme=dark; sid=" + v + "; lang=en"}}
	allocs := testing.AllocsPerRun(100, func() { _, _, _, _ = c.ReadCookie(h, "sid") })
	if allocs != 0 && !raceEnabled {
		t.Errorf("ReadCookie allocates %.0f times", allocs)
	}
}

// browserCookies is the Cookie header of a signed-in browser on a site with
// analytics: Google Analytics (two), Meta's pixel, Hotjar, a consent
// banner, two preferences, a CSRF cookie and the session cookie, as Chrome
// sends them (one header, "; " between cookies).
func browserCookies(sid string) string {
	return "_ga=GA1.1.1894736251.1716212345" +
		"; _ga_7XK2Q9HZ3M=GS1.1.1716212345.4.1.1716213021.0.0.0" +
		"; _fbp=fb.1.1716212345678.1234567890" +
		"; _hjSessionUser_3512345=eyJpZCI6ImY0ZjNkNmQ3LWE5YjItNWM4ZC1iNmQ2LWE4ZTdmNjA5YjJkMyIsImNyZWF0ZWQiOjE3MTYyMTIzNDU2NzgsImV4aXN0aW5nIjp0cnVlfQ==" +
		"; cookieconsent_status=dismiss" +
		"; theme=dark; lang=en-GB" +
		"; csrftoken=Jq3bT9xWc2LmZpR8sV1nYk6HdF0gAeU4" +
		"; sid=" + sid
}

// readCookieStd is ReadCookie done the standard library's way: parse the
// cookies of the name with Request.CookiesNamed, then decode each.
func (c *codec) readCookieStd(r *http.Request, name string) (id sessionID, flags cookieFlags, stale bool, state cookieState) {
	for _, ck := range r.CookiesNamed(name) {
		if state == noCookie {
			state = badCookie
		}
		i, f, s, err := c.Decode(name, ck.Value)
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
	return id, flags, stale, state
}

// BenchmarkCookieHeader compares reading the session cookie in place
// (ReadCookie) with the standard library's parser (CookiesNamed), on the
// headers a browser sends: a signed-in one's, an anonymous visitor's (the
// same cookies, no session cookie), and one with two session cookies (the
// application's and one a sibling subdomain set for the parent domain,
// signed with another secret: both are parsed, one verifies).
func BenchmarkCookieHeader(b *testing.B) {
	c := mustCodec(b, secretA)
	other := mustCodec(b, secretB)
	v := c.Encode("sid", newID(), flagSignedIn)
	cases := []struct {
		name   string
		header string
		want   cookieState
	}{
		{"browser", browserCookies(v), oneSession},
		{"anonymous", browserCookies("")[:len(browserCookies(""))-len("; sid=")], noCookie},
		{"duplicate", browserCookies(other.Encode("sid", newID(), flagSignedIn)) + "; sid=" + v, oneSession},
	}
	for _, tc := range cases {
		r, _ := http.NewRequest(http.MethodGet, "/me", nil)
		r.Header.Set("Cookie", tc.header)
		b.Run(tc.name+"/inplace", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, s := c.ReadCookie(r.Header, "sid"); s != tc.want {
					b.Fatal(s)
				}
			}
		})
		b.Run(tc.name+"/stdlib", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, s := c.readCookieStd(r, "sid"); s != tc.want {
					b.Fatal(s)
				}
			}
		})
	}
}
