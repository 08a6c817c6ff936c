package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeEmail(t *testing.T) {
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".org" // 254 bytes
	for _, tc := range []struct {
		in, want string // want "": refused
	}{
		{"alice@example.org", "alice@example.org"},
		{"  Alice@Example.ORG \t", "alice@example.org"},
		{"ａｌｉｃｅ@example.org", "alice@example.org"}, // fullwidth
		{"bob+tag@mail.example.co.uk", "bob+tag@mail.example.co.uk"},
		{"élodie@exemple.fr", "élodie@exemple.fr"},
		{long, long},
		{long + "x", ""},
		{"", ""},
		{"   ", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.org", ""},
		{"alice@localhost", ""},
		{"alice@.example.org", ""},
		{"alice@example.org.", ""},
		{"alice@example..org", ""},
		{"Alice <alice@example.org>", ""},
		{"<alice@example.org>", ""},
		{"alice@example.org (Alice)", ""},
		{`"alice smith"@example.org`, ""},
		{"alice smith@example.org", ""},
		{"alice@exa mple.org", ""},
		{"alice@example.org\r\nBcc: eve@example.org", ""},
		{"alice@example.org,eve@example.org", ""},
		{"alice@example.org\x00", ""},
		{"\xff@example.org", ""},
	} {
		got, err := NormalizeEmail(tc.in)
		if tc.want == "" {
			if err != ErrInvalidEmail {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzNormalizeEmail checks that any input gets an answer, never a panic,
// and that an accepted address is a fixed point of bounded length with no
// byte that could break a mail header.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"alice@example.org", "  A@B.C ", "x@y", "a <b@c.d>", "ｂ@ｃ.ｄ", "a@b..c", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || len(got) > MaxEmailBytes || strings.ContainsAny(got, "\r\n\x00<>, ") {
			t.Fatalf("NormalizeEmail(%q) = %q", s, got)
		}
		again, err := NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, but that normalizes to %q, %v", s, got, again, err)
		}
	})
}

func TestTokenForm(t *testing.T) {
	tok, hash := newToken()
	if len(tok) != TokenLength || TokenLength != 43 {
		t.Fatalf("token of %d characters, TokenLength %d; want 43", len(tok), TokenLength)
	}
	got, ok := tokenHash(tok)
	if !ok || got != hash {
		t.Fatalf("tokenHash of a new token = %x, %v; want its hash %x", got, ok, hash)
	}
	other, _ := newToken()
	if other == tok {
		t.Fatal("two new tokens are equal")
	}
	for _, bad := range []string{"", tok[:42], tok + "A", strings.Repeat("=", 43), tok[:42] + "+", tok[:42] + "/", tok[:42] + ".", tok[:42] + "B"} {
		if bad == tok {
			continue
		}
		if h, ok := tokenHash(bad); ok && bad[:42] == tok[:42] && h == hash {
			t.Errorf("tokenHash(%q) matches the token's hash", bad)
		}
		if _, ok := tokenHash(bad); ok && (len(bad) != 43 || strings.ContainsAny(bad, "=+/.")) {
			t.Errorf("tokenHash(%q) accepted a malformed token", bad)
		}
	}
}
