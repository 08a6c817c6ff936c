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

// BenchmarkReadCookie reads the session cookie from a browser's usual
// header: a few other cookies around it.
func BenchmarkReadCookie(b *testing.B) {
	c := mustCodec(b, secretA)
	v := c.Encode("sid", newID(), 0)
	h := http.Header{"Cookie": {"_ga=GA1.2.345678.901234; theme=dark; sid=" + v + "; lang=en-GB; consent=yes"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, s := c.ReadCookie(h, "sid"); s != oneSession {
			b.Fatal(s)
		}
	}
}
