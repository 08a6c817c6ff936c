package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

type nopUsers struct{ models.UserStore[*models.User] }

func validConfig() Config[*models.User] {
	return Config[*models.User]{
		Store:   memstore.New(memstore.Options{SweepInterval: -1}),
		Users:   nopUsers{},
		Secrets: [][]byte{[]byte("auth-test-secret-0123456789abcdef!!")},
	}
}

// The cookie is named __Host-sid whenever it can be, unless the
// application opts out.
func TestCookieWireName(t *testing.T) {
	tests := []struct {
		name   string
		cookie Cookie
		want   string
	}{
		{"zero value", Cookie{}, "sid"},
		{"Secure", Cookie{Secure: true}, "__Host-sid"},
		{"Secure, own name", Cookie{Secure: true, Name: "app"}, "__Host-app"},
		{"Secure, Path /", Cookie{Secure: true, Path: "/"}, "__Host-sid"},
		{"Secure, Domain", Cookie{Secure: true, Domain: "example.com"}, "sid"},
		{"Secure, Path /app", Cookie{Secure: true, Path: "/app"}, "sid"},
		{"Secure, opted out", Cookie{Secure: true, HostPrefix: HostPrefixOff}, "sid"},
		{"required", Cookie{Secure: true, HostPrefix: HostPrefixRequired}, "__Host-sid"},
		{"__Secure- name", Cookie{Secure: true, Name: "__Secure-sid"}, "__Secure-sid"},
		{"__Secure- name, Domain", Cookie{Secure: true, Name: "__Secure-sid", Domain: "example.com"}, "__Secure-sid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.Cookie = tt.cookie
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.cfg.cookieName; got != tt.want {
				t.Errorf("cookie name %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config[*models.User])
	}{
		{"no store", func(c *Config[*models.User]) { c.Store = nil }},
		{"no users", func(c *Config[*models.User]) { c.Users = nil }},
		{"no secret", func(c *Config[*models.User]) { c.Secrets = nil }},
		{"short secret", func(c *Config[*models.User]) { c.Secrets = [][]byte{[]byte("too short")} }},
		{"short old secret", func(c *Config[*models.User]) { c.Secrets = append(c.Secrets, []byte("old")) }},
		{"SameSite=None without Secure", func(c *Config[*models.User]) { c.Cookie.SameSite = http.SameSiteNoneMode }},
		{"Partitioned without Secure", func(c *Config[*models.User]) { c.Cookie.Partitioned = true }},
		{"__Host- without Secure", func(c *Config[*models.User]) { c.Cookie.HostPrefix = HostPrefixRequired }},
		{"__Host- with Domain", func(c *Config[*models.User]) {
			c.Cookie.HostPrefix, c.Cookie.Secure, c.Cookie.Domain = HostPrefixRequired, true, "example.com"
		}},
		{"__Host- with Path", func(c *Config[*models.User]) {
			c.Cookie.HostPrefix, c.Cookie.Secure, c.Cookie.Path = HostPrefixRequired, true, "/app"
		}},
		{"unknown HostPrefix", func(c *Config[*models.User]) { c.Cookie.HostPrefix = 7 }},
		{"__Host- spelled in the name", func(c *Config[*models.User]) { c.Cookie.Name, c.Cookie.Secure = "__host-sid", true }},
		{"__Secure- name without Secure", func(c *Config[*models.User]) { c.Cookie.Name = "__Secure-sid" }},
		{"bad cookie name", func(c *Config[*models.User]) { c.Cookie.Name = "s id;" }},
		{"negative idle", func(c *Config[*models.User]) { c.IdleTimeout = -time.Minute }},
		{"touch >= idle", func(c *Config[*models.User]) { c.IdleTimeout, c.TouchInterval = time.Minute, time.Minute }},
		{"idle > absolute", func(c *Config[*models.User]) { c.IdleTimeout, c.AbsoluteTimeout = 2*time.Hour, time.Hour }},
		{"weak bcrypt", func(c *Config[*models.User]) { c.BcryptCost = 8 }},
		{"invalid bcrypt", func(c *Config[*models.User]) { c.BcryptCost, c.AllowLowBcryptCost = 2, true }},
		{"short passwords", func(c *Config[*models.User]) { c.MinPasswordLength = 6 }},
		{"bad proxy", func(c *Config[*models.User]) { c.TrustedProxies = []string{"not-an-ip"} }},
		{"negative anonymous timeout", func(c *Config[*models.User]) { c.AnonymousTimeout = -time.Minute }},
		{"bad trusted origin", func(c *Config[*models.User]) { c.TrustedOrigins = []string{"::not a url"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.edit(&cfg)
			a, err := New(cfg)
			if a != nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("New = %v, %v; want an ErrConfig", a, err)
			}
			// One line, one prefix.
			msg := err.Error()
			if strings.Contains(msg, "\n") || strings.Count(msg, ": ") < 1 || !strings.HasPrefix(msg, "auth: unsafe configuration: ") ||
				strings.Contains(msg[len("auth: unsafe configuration: "):], "auth:") || strings.Contains(msg, "sessionstore:") {
				t.Errorf("error %q: want one line, one prefix", msg)
			}
		})
	}
	a, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	// OWASP defaults.
	c := a.cfg
	if c.idle != 30*time.Minute || c.absolute != 24*time.Hour || a.hasher.cost != 12 ||
		c.cookie.SameSite != http.SameSiteLaxMode || c.cookie.Name != "sid" || c.minPassword != 8 ||
		a.policy.TouchInterval != time.Minute || c.cookie.MaxAge != 24*time.Hour || c.anonymous != time.Hour {
		t.Errorf("defaults: %+v, cost %d", c, a.hasher.cost)
	}
	if a.cache == nil {
		t.Error("no user cache by default")
	}
}

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"  Alice ", "alice", true},
		{"ＡＬＩＣＥ", "alice", true}, // fullwidth
		{"ﬁona", "fiona", true},  // ligature
		{"bob.smith+tag@example.org", "bob.smith+tag@example.org", true},
		{"Ĵosé", "ĵosé", true},
		{"jose\u0301", "josé", true}, // decomposed accent composes
		{"дмитрий", "дмитрий", true},
		{"山田", "山田", true},
		{"", "", false},
		{"   ", "", false},
		{"a b", "", false},
		{"a\x00b", "", false},
		{"bad\xffutf8", "", false},
		{"semi;colon", "", false},
		{"slash/", "", false},
		{"pаypal", "", false}, // Cyrillic а among Latin letters
		{"αlpha", "", false},  // Greek with Latin
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), "", false},
		{strings.Repeat("山", 64), "", false}, // 192 bytes
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidUsername) {
			t.Errorf("error %v is not ErrInvalidUsername", err)
		}
	}
}

// New names must also be valid under RFC 8265's UsernameCaseMapped; names
// accepted before that check still normalize (and so sign in).
func TestNormalizeNewUsername(t *testing.T) {
	for in, want := range map[string]string{
		"Alice": "alice", "ｊｏｓé": "josé", "user.name+tag@example.org": "user.name+tag@example.org",
		"abʹ": "", "abˆ": "", "a\u034fb": "",
	} {
		got, err := normalizeNewUsername(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("normalizeNewUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, err := NormalizeUsername("abʹ"); err != nil || got != "abʹ" {
		t.Errorf("a name registered before the PRECIS check no longer normalizes: %q, %v", got, err)
	}
}

func TestCheckNewPassword(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"12345678", nil},
		{"1234567", ErrWeakPassword},
		{"", ErrWeakPassword},
		{"ééééééé", ErrWeakPassword}, // 7 characters, 14 bytes
		{"éééééééé", nil},
		{strings.Repeat("x", 72), nil},
		{strings.Repeat("x", 73), ErrPasswordTooLong},
		{strings.Repeat("é", 37), ErrPasswordTooLong}, // 74 bytes: never truncated
		{"bad\xffutf8 pw", ErrBadRequest},
		{"ﷺ", ErrWeakPassword},                       // one character as typed, 18 after NFKC
		{"ﬃﬃﬃﬃ", ErrWeakPassword},                    // four ligatures, twelve letters after NFKC
		{strings.Repeat("ﷺ", 8), ErrPasswordTooLong}, // long enough as typed, over 72 bytes hashed
		{"ｐａｓｓｗｏｒｄ", nil},                            // 8 fullwidth characters
	}
	for _, tt := range tests {
		_, err := checkNewPassword(tt.in, 8)
		if !errors.Is(err, tt.want) && (err != nil || tt.want != nil) {
			t.Errorf("checkNewPassword(%q) = %v, want %v", tt.in, err, tt.want)
		}
	}
	// Composed and decomposed spellings are one password.
	a, _ := checkNewPassword("caf\u00e9 au lait", 8)
	b, _ := checkNewPassword("cafe\u0301 au lait", 8)
	if a != b {
		t.Errorf("NFKC: %q != %q", a, b)
	}
}

func TestDummyHashCostsAsMuchAsARealOne(t *testing.T) {
	for _, cost := range []int{4, 10, 12} {
		d := dummyHash(cost)
		if c, err := bcrypt.Cost(d); err != nil || c != cost {
			t.Errorf("dummy hash cost = %d, %v; want %d", c, err, cost)
		}
		// A well-formed hash: the comparison runs bcrypt and fails on the
		// result, not on the format.
		if err := bcrypt.CompareHashAndPassword(d, []byte("anything")); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			t.Errorf("comparing with the dummy: %v", err)
		}
	}
	h := newHasher(4)
	for _, pw := range []string{"", "x", strings.Repeat("y", 100)} {
		if h.compare("", pw) {
			t.Errorf("compare against no hash of %q matched", pw)
		}
	}
	good, _ := h.hash("right password")
	if !h.compare(good, "right password") {
		t.Error("right password refused")
	}
	if h.compare("$2a$04$garbage", "right password") {
		t.Error("a malformed stored hash matched")
	}
}

func TestGateBoundsConcurrentHashing(t *testing.T) {
	g := newGate(2, 5*time.Millisecond, noMetrics{})
	ctx := context.Background()
	r1, err1 := g.enter(ctx, "a")
	r2, err2 := g.enter(ctx, "a")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, err := g.enter(ctx, "a")
	var p *Problem
	if !errors.As(err, &p) || !errors.Is(err, ErrBusy) || p.RetryAfter <= 0 || p.Status != http.StatusServiceUnavailable {
		t.Fatalf("third hash while two run = %v; want ErrBusy with Retry-After", err)
	}
	r1()
	r3, err := g.enter(ctx, "b")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
}

func TestClientIPAndScheme(t *testing.T) {
	px, err := parseProxies([]string{"10.0.0.0/8", "192.168.1.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer, xff, proto string
		tls                    bool
		ip                     string
		https                  bool
	}{
		{"direct", "203.0.113.5:1234", "", "", false, "203.0.113.5", false},
		{"untrusted peer's headers are ignored", "203.0.113.5:1234", "1.2.3.4", "https", false, "203.0.113.5", false},
		{"trusted proxy", "10.1.2.3:80", "198.51.100.7", "https", false, "198.51.100.7", true},
		{"spoofed hop before the real client", "10.1.2.3:80", "6.6.6.6, 198.51.100.7", "https", false, "198.51.100.7", true},
		{"chain of trusted proxies", "10.1.2.3:80", "198.51.100.7, 192.168.1.1, 10.9.9.9", "https", false, "198.51.100.7", true},
		{"garbage hop", "10.1.2.3:80", "junk, 10.9.9.9", "http", false, "10.9.9.9", false},
		{"no header from a trusted proxy", "10.1.2.3:80", "", "", false, "10.1.2.3", false},
		{"IPv6 loopback proxy", "[::1]:80", "2001:db8::1", "https", false, "2001:db8::1", true},
		{"direct TLS", "203.0.113.5:1234", "", "", true, "203.0.113.5", true},
		{"XFP: the nearest proxy's value wins over the client's", "10.1.2.3:80", "198.51.100.7", "https, http", false, "198.51.100.7", false},
		{"XFP appended by the nearest proxy", "10.1.2.3:80", "198.51.100.7", "http, https", false, "198.51.100.7", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := px.clientIP(r); got != tt.ip {
			t.Errorf("%s: clientIP = %q, want %q", tt.name, got, tt.ip)
		}
		if got := px.https(r); got != tt.https {
			t.Errorf("%s: https = %v, want %v", tt.name, got, tt.https)
		}
	}
	var none proxies
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:80"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := none.clientIP(r); got != "10.1.2.3" {
		t.Errorf("with no trusted proxies clientIP = %q", got)
	}
}

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/account?x=1#y": true, "/a/b": true,
		"": false, "account": false, "//evil.example": false, "/\\evil.example": false,
		"https://evil.example": false, "/a\nb": false, "/a\\b": false, "/" + strings.Repeat("a", 3000): false,
	} {
		if LocalPath(p) != want {
			t.Errorf("LocalPath(%q) = %v", p, !want)
		}
	}
}

func TestProblems(t *testing.T) {
	p := ErrTooManyAttempts.WithRetry(3 * time.Second)
	if !errors.Is(p, ErrTooManyAttempts) || errors.Is(p, ErrBusy) {
		t.Error("WithRetry broke errors.Is")
	}
	if !errors.Is(ErrBadRequest.With("x"), ErrBadRequest) || errors.Is(ErrBadRequest.With("x"), ErrInvalidUsername) {
		t.Error("With broke errors.Is")
	}
	if AsProblem(sessionstore.Unavailable(errors.New("down"))).Status != 503 {
		t.Error("store failures are not 503")
	}
	if AsProblem(errors.New("boom")).Status != 500 {
		t.Error("unknown errors are not 500")
	}
}

func TestAddressBlock(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"":                     "",
		"not an address":       "not an address",
	} {
		if got := addressBlock(in); got != want {
			t.Errorf("addressBlock(%q) = %q, want %q", in, got, want)
		}
	}
	cfg := validConfig()
	cfg.AbsoluteTimeout = 10 * time.Minute
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("a short absolute timeout with the default idle timeout: %v", err)
	}
	if a.cfg.idle != 10*time.Minute {
		t.Errorf("idle = %v, want the absolute timeout", a.cfg.idle)
	}
}

// foldingUsers is a user store whose lookups ignore the name, as a
// collation that folds accents and case would for look-alikes: it answers
// its one user for every name, or its error.
type foldingUsers struct {
	nopUsers
	user *models.User
	err  error
}

func (f foldingUsers) FindByUsername(context.Context, string) (*models.User, error) {
	return f.user, f.err
}

// FindUser, like a login, takes only the user whose name is exactly the
// normalized one, whatever the store returns.
func TestFindUserMatchesExactly(t *testing.T) {
	alice := &models.User{ID: 1, Username: "alice"}
	down := errors.New("connection refused")
	tests := []struct {
		name    string
		users   foldingUsers
		lookup  string
		want    *models.User
		wantErr error
	}{
		{"same name", foldingUsers{user: alice}, "alice", alice, nil},
		{"another spelling of the name", foldingUsers{user: alice}, " ＡＬＩＣＥ ", alice, nil},
		{"an accented look-alike", foldingUsers{user: alice}, "âlice", nil, models.ErrUserNotFound},
		{"a combining accent", foldingUsers{user: alice}, "alice\u0301", nil, models.ErrUserNotFound},
		{"a malformed name", foldingUsers{user: alice}, "al ice!", nil, models.ErrUserNotFound},
		{"no such user", foldingUsers{err: models.ErrUserNotFound}, "bob", nil, models.ErrUserNotFound},
		{"the store is down", foldingUsers{err: down}, "alice", nil, ErrStoreUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.Users = tt.users
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close() })
			got, err := a.FindUser(context.Background(), tt.lookup)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("FindUser(%q) = %v, %v; want %v, %v", tt.lookup, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
