package session

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/sessionstore"
)

var (
	secretA = []byte("codec-test-secret-A-0123456789abcdef")
	secretB = []byte("codec-test-secret-B-0123456789abcdef")
)

func mustCodec(t testing.TB, secrets ...[]byte) *codec {
	t.Helper()
	c, err := newCodec(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCodecRefusesUnsafeSecrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets [][]byte
		want    error
	}{
		{"none", nil, errNoSecret},
		{"empty list", [][]byte{}, errNoSecret},
		{"empty secret", [][]byte{{}}, errShortSecret},
		{"31 bytes", [][]byte{bytes.Repeat([]byte("x"), 31)}, errShortSecret},
		{"short old secret", [][]byte{secretA, []byte("short")}, errShortSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newCodec(tt.secrets)
			if c != nil || !errors.Is(err, tt.want) {
				t.Errorf("newCodec = %v, %v; want %v", c, err, tt.want)
			}
		})
	}
	if _, err := newCodec([][]byte{bytes.Repeat([]byte("x"), 32)}); err != nil {
		t.Errorf("a 32-byte secret was refused: %v", err)
	}
}

func TestCodecRoundTripAndRotation(t *testing.T) {
	id := newID()
	oldOnly := mustCodec(t, secretA)
	cookie := oldOnly.Encode("sid", id, flagSignedIn)
	got, flags, stale, err := oldOnly.Decode("sid", cookie)
	if err != nil || got != id || stale || flags != flagSignedIn {
		t.Fatalf("Decode = %v, %v, %v, %v", got, flags, stale, err)
	}
	rotated := mustCodec(t, secretB, secretA)
	got, _, stale, err = rotated.Decode("sid", cookie)
	if err != nil || got != id || !stale {
		t.Fatalf("after rotation Decode = %v, stale %v, %v; want the sessionID, stale", got, stale, err)
	}
	fresh := rotated.Encode("sid", id, 0)
	if _, flags, stale, err := rotated.Decode("sid", fresh); err != nil || stale || flags != 0 {
		t.Errorf("cookie from the newest secret: flags %v stale %v, %v", flags, stale, err)
	}
	newOnly := mustCodec(t, secretB)
	if _, _, _, err := newOnly.Decode("sid", cookie); !errors.Is(err, errBadCookie) {
		t.Errorf("old cookie after the old secret was removed: %v", err)
	}
	if _, _, _, err := oldOnly.Decode("other", cookie); !errors.Is(err, errBadCookie) {
		t.Errorf("cookie accepted under another name: %v", err)
	}
	if raw := id.bytes(); strings.Contains(cookie, hex.EncodeToString(raw[:])) {
		t.Error("the cookie shows the raw ID in hex")
	}
}

// No verb of fmt, and no slog handler, prints the 32 secret bytes of an
// sessionID, whether it is printed alone, through a pointer, inside a Session, or
// in an exported field of another struct.
func TestIDNeverPrintsItself(t *testing.T) {
	id := newID()
	sess := &entry{id: id, rec: &sessionstore.Record{}}
	raw := id.bytes()
	leaks := func(s string) bool {
		// The bytes in every base fmt can print them in.
		for _, form := range []string{"%x", "%X", "%v", "%d", "%o", "%b", "%q", "% x", "%c"} {
			enc := fmt.Sprintf(form, raw[:6])
			enc = strings.Trim(enc, "[]\"")
			if len(enc) >= 6 && strings.Contains(s, enc) {
				return true
			}
		}
		return strings.Contains(s, string(raw[:6]))
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%#x", "%d", "%o", "%O",
		"%b", "%c", "%U", "%e", "%E", "%f", "%F", "%g", "%G", "%t", "%p", "%10.4v", "%-40s", "%08d"}
	values := map[string]any{
		"ID": id, "*sessionID": &id, "*entry": sess, "Session in a slice": []any{sess},
		"ID in an exported field": struct{ ID sessionID }{id}, "ID in a map": map[string]sessionID{"k": id},
	}
	for name, v := range values {
		for _, verb := range verbs {
			if out := fmt.Sprintf(verb, v); leaks(out) {
				t.Errorf("%s with %s prints the secret: %s", name, verb, out)
			}
		}
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(h).Info("x", "id", id, "key", id.Key(), "session", sess, "any", any(id), "ptr", &id)
	}
	if leaks(logs.String()) {
		t.Errorf("a log line prints the secret: %s", logs.String())
	}
	if !strings.Contains(logs.String(), id.Key().Short()) {
		t.Errorf("log line lacks the short key: %s", logs.String())
	}
	j, _ := json.Marshal(struct{ ID sessionID }{id})
	if leaks(string(j)) {
		t.Errorf("JSON prints the secret: %s", j)
	}
	if got, want := fmt.Sprintf("%v|%d|%x", id, id, sess), strings.Repeat(id.String()+"|", 2)+id.String(); got != want {
		t.Errorf("prints %q, want %q", got, want)
	}
	if newID() == id {
		t.Error("two IDs are equal")
	}
	if (sessionID{}).String() != "session(none)" {
		t.Error("zero ID")
	}
}

// signedCookie builds a format 2 cookie for raw ID bytes, correctly signed.
func signedCookie(c *codec, name string, flags cookieFlags, id []byte) string {
	var raw [signedLen]byte
	raw[0], raw[1] = formatSigned, byte(flags)
	copy(raw[2:], id)
	c.keys[0].mac(name, raw[:], raw[2+idSize:], nil)
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func TestCodecRejectsZeroIDsAndDamagedValues(t *testing.T) {
	c := mustCodec(t, secretA)
	cookies := []string{
		signedCookie(c, "sid", 0, make([]byte, idSize)),
		// The one secret whose masked form is the zero ID.
		signedCookie(c, "sid", 0, idMask[:]),
	}
	// A well-signed value of another format version.
	id := newID().bytes()
	good := []byte(signedCookie(c, "sid", 0, id[:]))
	raw, _ := base64.RawURLEncoding.DecodeString(string(good))
	raw[0] = 3
	cookies = append(cookies, base64.RawURLEncoding.EncodeToString(raw))
	// One character of the signature changed, a character outside the
	// alphabet, line breaks (which encoding/base64 skips: the genuine
	// cookie with one inserted decodes to the genuine bytes), one
	// character too few or too many, padding.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	head := string(good[:len(good)-1])
	cookies = append(cookies, head+string(alphabet[(last+1)%64]), head+"=", head+"\n", "\n"+head,
		string(good[:40])+"\r\n"+string(good[40:len(good)-2]), head,
		string(good[:44])+"\n"+string(good[44:]), string(good)+"\r\n", "\n"+string(good), string(good)+"A", string(good)+"==",
		"", strings.Repeat("A", 5000))
	for _, v := range cookies {
		if _, _, _, err := c.Decode("sid", v); !errors.Is(err, errBadCookie) {
			t.Errorf("Decode(%q) = %v; want errBadCookie", v, err)
		}
	}
}

// A cookie is 88 characters, and reading it allocates nothing.
func TestCodecFormat(t *testing.T) {
	c := mustCodec(t, secretA)
	id := newID()
	fresh := c.Encode("sid", id, flagSignedIn)
	if len(fresh) != 88 {
		t.Errorf("cookie is %d characters, want 88", len(fresh))
	}
	if got, flags, stale, err := c.Decode("sid", fresh); err != nil || got != id || flags != flagSignedIn || stale {
		t.Errorf("cookie: %v flags %v stale %v %v", got, flags, stale, err)
	}
	allocs := testing.AllocsPerRun(100, func() { _, _, _, _ = c.Decode("sid", fresh) })
	if allocs != 0 && !raceEnabled {
		t.Errorf("Decode allocates %v times per cookie, want 0", allocs)
	}
	// A cookie name longer than the stack buffer still signs and verifies.
	long := strings.Repeat("n", 300)
	v := c.Encode(long, id, 0)
	if got, _, _, err := c.Decode(long, v); err != nil || got != id {
		t.Errorf("long cookie name: %v %v", got, err)
	}
}

// BenchmarkDecode verifies a cookie, as every request with a session does.
func BenchmarkDecode(b *testing.B) {
	c := mustCodec(b, secretA)
	v := c.Encode("sid", newID(), flagSignedIn)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := c.Decode("sid", v); err != nil {
			b.Fatal(err)
		}
	}
}

// testdata/cookies (shared with TestOldCookieSurvivesAnUpgrade) holds a
// cookie signed, long ago, with a retired secret: the signing format must
// stay readable, or every user is logged out by an upgrade.
func TestCookieFormatIsStable(t *testing.T) {
	data, err := os.ReadFile("testdata/cookies/signed-with-old-secret.txt")
	if err != nil {
		t.Fatal(err)
	}
	var secret, cookie, key string
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			switch strings.TrimSpace(k) {
			case "secret":
				secret = strings.TrimSpace(v)
			case "cookie":
				cookie = strings.TrimSpace(v)
			case "key":
				key = strings.TrimSpace(v)
			}
		}
	}
	codec, err := newCodec([][]byte{[]byte("the-current-secret-0123456789abcdef"), []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	id, flags, stale, err := codec.Decode("sid", cookie)
	if err != nil || !stale || flags != flagSignedIn || id.Key().String() != key {
		t.Fatalf("fixture cookie: key %s flags %v stale %v err %v; want key %s", id.Key(), flags, stale, err, key)
	}
}

// FuzzCodecDecode feeds arbitrary cookie values to Decode: it must never
// panic, and must accept nothing that the codec did not issue.
func FuzzCodecDecode(f *testing.F) {
	c := mustCodec(f, secretA, secretB)
	// Fixed: fuzz workers rebuild this setup and must agree.
	goodID := idFromBytes([]byte("fuzz-session-id-0123456789abcdef"))
	good := c.Encode("sid", goodID, flagSignedIn)
	f.Add(good)
	f.Add(mustCodec(f, secretB).Encode("sid", goodID, 0))
	f.Add("")
	f.Add(good[:len(good)/2])
	f.Add(strings.Repeat("A", 300))
	f.Add(good[:40] + "\n" + good[41:])
	f.Fuzz(func(t *testing.T, value string) {
		id, _, _, err := c.Decode("sid", value)
		if err != nil {
			if !errors.Is(err, errBadCookie) || !id.IsZero() {
				t.Fatalf("Decode failed with %v and ID %v", err, id)
			}
			return
		}
		// Only a value carrying a valid MAC verifies: whatever the fuzzer
		// changed, an accepted value can only name the one ID we issued.
		if id != goodID {
			t.Fatalf("accepted %q as a different ID", value)
		}
		// And it is the one spelling of a cookie: 88 characters of the
		// alphabet, without the line breaks encoding/base64 skips, that
		// encode what they decode to.
		raw, derr := base64.RawURLEncoding.Strict().DecodeString(value)
		if len(value) != 88 || strings.ContainsAny(value, "\r\n") || derr != nil || base64.RawURLEncoding.EncodeToString(raw) != value {
			t.Fatalf("accepted %q, which is not a cookie's one spelling", value)
		}
	})
}
