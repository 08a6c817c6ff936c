package session

import (
	"net/http"
	"testing"
)

func TestReadCookie(t *testing.T) {
	c := mustCodec(t, secretA, secretB)
	old := mustCodec(t, secretB)
	one, other := NewID(), NewID()
	enc := func(c *Codec, id ID) string { return c.Encode("sid", id, FlagSignedIn) }
	a, aOld, b := enc(c, one), enc(old, one), enc(c, other)
	tampered := b[:len(b)-2] + "AA"
	tests := []struct {
		name    string
		headers []string
		want    CookieState
		stale   bool
	}{
		{"none", nil, NoCookie, false},
		{"others only", []string{"a=1; sid2=" + a + "; xsid=" + a}, NoCookie, false},
		{"garbage", []string{"sid=garbage"}, BadCookie, false},
		{"empty", []string{"sid="}, BadCookie, false},
		{"one", []string{"sid=" + a}, OneSession, false},
		{"quoted", []string{`sid="` + a + `"`}, OneSession, false},
		{"spaces", []string{"  a=1 ;  sid=" + a + "  ; b=2"}, OneSession, false},
		{"garbage first", []string{"sid=x; sid=" + a}, OneSession, false},
		{"tampered last", []string{"sid=" + a + "; sid=" + tampered}, OneSession, false},
		{"same twice", []string{"sid=" + a + "; sid=" + a}, OneSession, false},
		{"same ID, old and new secret", []string{"sid=" + a + "; sid=" + aOld}, OneSession, true},
		{"old secret", []string{"sid=" + aOld}, OneSession, true},
		{"two sessions", []string{"sid=" + a + "; sid=" + b}, ManySessions, false},
		{"two sessions, reversed", []string{"sid=" + b + "; sid=" + a}, ManySessions, false},
		{"two sessions, two headers", []string{"sid=" + b, "x=1; sid=" + a}, ManySessions, false},
		{"two sessions and garbage", []string{"sid=x; sid=" + b + "; sid=y; sid=" + a}, ManySessions, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Cookie": tt.headers}
			id, flags, stale, got := c.ReadCookie(h, "sid")
			if got != tt.want || stale != tt.stale {
				t.Fatalf("state %d stale %v, want %d %v", got, stale, tt.want, tt.stale)
			}
			switch got {
			case OneSession:
				if !id.Equal(one) || flags != FlagSignedIn {
					t.Errorf("id %v flags %d, want %v %d", id, flags, one, FlagSignedIn)
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
	v := c.Encode("sid", NewID(), 0)
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
	v := c.Encode("sid", NewID(), 0)
	h := http.Header{"Cookie": {"_ga=GA1.2.345678.901234; theme=dark; sid=" + v + "; lang=en-GB; consent=yes"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, s := c.ReadCookie(h, "sid"); s != OneSession {
			b.Fatal(s)
		}
	}
}
