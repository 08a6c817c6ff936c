package handlers_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/sessionstore"
)

func TestLoginThrottling(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("pat", "pat's password")
	cl := a.client(t)
	try := func(user, pw string) *response { return cl.do("POST", "/login", creds(user, pw)) }

	// Known and unknown usernames answer alike, failure for failure.
	for _, user := range []string{"pat", "nobody-here"} {
		for i := 1; i <= 5; i++ {
			cl.want(try(user, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
		}
		r := try(user, "wrong password")
		cl.want(r, http.StatusTooManyRequests, "too_many_attempts")
		if r.header.Get("Retry-After") != "60" {
			t.Errorf("%s: Retry-After = %q, want 60", user, r.header.Get("Retry-After"))
		}
	}
	// During the lockout the right password gets the same answer: no oracle.
	r := try("pat", "pat's password")
	cl.want(r, http.StatusTooManyRequests, "too_many_attempts")
	if cl.sessionCookie() != nil {
		t.Error("a locked-out login got a session")
	}
	a.clock.Advance(30 * time.Second)
	if r := try("pat", "pat's password"); r.header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After half way = %q", r.header.Get("Retry-After"))
	}
	// After the lockout the next failure doubles it.
	a.clock.Advance(30 * time.Second)
	cl.want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	if r := try("pat", "wrong password"); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "120" {
		t.Errorf("second lockout: %d, Retry-After %q; want 429 and 120", r.status, r.header.Get("Retry-After"))
	}
	// A success resets the count.
	a.clock.Advance(2 * time.Minute)
	cl.login("pat", "pat's password")
	for range 4 {
		cl.want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	cl.want(try("pat", "pat's password"), http.StatusTooManyRequests, "too_many_attempts")
}

// One address spraying a password over many usernames is stopped by the
// per-IP rule, though no username reaches its own limit.
func TestLoginThrottlingPerIP(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("quentin", "quentin's password")
	cl := a.client(t)
	for i := range 30 {
		cl.want(cl.do("POST", "/login", creds(fmt.Sprintf("user%d", i), "Summer2026!")), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.want(cl.do("POST", "/login", creds("quentin", "quentin's password")), http.StatusTooManyRequests, "too_many_attempts")
	// Another address is not affected (a trusted proxy tells them apart).
	b := newEnv(t, backends[0], func(c *authConfig) { c.TrustedProxies = []string{"127.0.0.1"} })
	b.client(t).register("quentin", "quentin's password")
	bc := b.client(t)
	for i := range 30 {
		bc.do("POST", "/login", creds(fmt.Sprintf("user%d", i), "Summer2026!"), "X-Forwarded-For", "198.51.100.1")
	}
	bc.want(bc.do("POST", "/login", creds("quentin", "quentin's password"), "X-Forwarded-For", "198.51.100.1"), http.StatusTooManyRequests, "")
	bc.want(bc.do("POST", "/login", creds("quentin", "quentin's password"), "X-Forwarded-For", "198.51.100.2"), http.StatusOK, "")
}

func TestLoginThrottlingDisabled(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.Throttle.Disabled = true })
	a.client(t).register("rita", "rita's password")
	cl := a.client(t)
	for range 12 {
		cl.want(cl.do("POST", "/login", creds("rita", "nope nope")), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.login("rita", "rita's password")
}

// Instances sharing a Redis throttle count failures together.
func TestLoginThrottlingShared(t *testing.T) {
	c, prefix := redisClient(t)
	clock := fakeclock.New(time.Time{})
	store := sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix, Now: clock.Now})
	db := sqliteDB(t)
	shared := func(cfg *authConfig) { cfg.Throttle.Store = auth.NewRedisThrottle(c, prefix+"throttle:") }
	one, two := newApp(t, store, db, clock, shared), newApp(t, store, db, clock, shared)
	one.client(t).register("sam", "sam's password")
	c1, c2 := one.client(t), two.client(t)
	for i := range 5 {
		cl := c1
		if i%2 == 1 {
			cl = c2
		}
		cl.want(cl.do("POST", "/login", creds("sam", "bad password")), http.StatusUnauthorized, "invalid_credentials")
	}
	c1.want(c1.do("POST", "/login", creds("sam", "sam's password")), http.StatusTooManyRequests, "too_many_attempts")
	c2.want(c2.do("POST", "/login", creds("sam", "sam's password")), http.StatusTooManyRequests, "too_many_attempts")
	clock.Advance(time.Minute)
	c2.login("sam", "sam's password")
}

func TestCrossOriginProtection(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.TrustedOrigins = []string{"https://app.example.com"} })
	a.client(t).register("tina", "tina's password")
	host := strings.TrimPrefix(a.srv.URL, "http://")
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"no browser headers (API client)", nil, http.StatusOK},
		{"same-origin fetch", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusOK},
		{"user-initiated navigation", []string{"Sec-Fetch-Site", "none"}, http.StatusOK},
		{"same origin by Origin", []string{"Origin", "http://" + host}, http.StatusOK},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site sibling", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"foreign Origin", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"trusted origin", []string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.client(t)
			r := cl.do("POST", "/login", creds("tina", "tina's password"), tt.headers...)
			if r.status != tt.status {
				t.Errorf("/login: %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status == http.StatusForbidden && r.code() != "cross_origin" {
				t.Errorf("code %q", r.code())
			}
			if r := cl.do("POST", "/app-action", nil, tt.headers...); r.status != map[int]int{200: 204, 403: 403}[tt.status] {
				t.Errorf("the application's own route: %d", r.status)
			}
		})
	}
	// Safe methods are never refused.
	cl := a.client(t)
	cl.login("tina", "tina's password")
	cl.want(cl.do("GET", "/me", nil, "Sec-Fetch-Site", "cross-site"), http.StatusOK, "")
}

// captureLog points the default slog logger at a buffer for one test.
func captureLog(t *testing.T) *syncBuffer {
	buf := &syncBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSecureCookies(t *testing.T) {
	logs := captureLog(t)
	secure := func(c *authConfig) {
		c.Cookie.Secure = true
		c.Logger = slog.Default()
	}
	t.Run("plain HTTP gets no cookie, and one warning", func(t *testing.T) {
		a := newEnv(t, backends[0], secure)
		cl := a.client(t)
		for range 3 {
			r := cl.do("POST", "/register", creds(fmt.Sprintf("u%d", time.Now().UnixNano()), "a password!"))
			cl.want(r, http.StatusCreated, "")
			if r.header.Get("Set-Cookie") != "" {
				t.Errorf("a Secure cookie went out over plain HTTP: %s", r.header.Get("Set-Cookie"))
			}
		}
		if n := strings.Count(logs.String(), "not sending the Secure session cookie"); n != 1 {
			t.Errorf("%d warnings, want exactly one:\n%s", n, logs)
		}
	})
	t.Run("a proxy's X-Forwarded-Proto counts only when trusted", func(t *testing.T) {
		untrusted := newEnv(t, backends[0], secure)
		r := untrusted.client(t).do("POST", "/register", creds("victor", "a password!"), "X-Forwarded-Proto", "https")
		if r.header.Get("Set-Cookie") != "" {
			t.Errorf("an untrusted X-Forwarded-Proto got a Secure cookie")
		}
		trusted := newEnv(t, backends[0], secure, func(c *authConfig) {
			c.TrustedProxies = []string{"127.0.0.1/32", "::1"}
			c.Cookie.HostPrefix = true
		})
		r = trusted.client(t).do("POST", "/register", creds("wendy", "a password!"), "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9")
		c := r.cookie("__Host-sid")
		if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
			t.Fatalf("behind a trusted TLS proxy: %q", r.header.Get("Set-Cookie"))
		}
		// The session recorded the client the proxy named.
		cl := trusted.client(t)
		info := cl.do("GET", "/session-info", nil, "Cookie", "__Host-sid="+c.Value, "X-Forwarded-Proto", "https")
		if info.json["ipAddress"] != "203.0.113.9" {
			t.Errorf("ipAddress = %v, want the forwarded client", info.json["ipAddress"])
		}
	})
	t.Run("X-Forwarded-For from an untrusted peer is ignored", func(t *testing.T) {
		a := newEnv(t, backends[0])
		cl := a.client(t)
		cl.do("POST", "/register", creds("xena", "a password!"), "X-Forwarded-For", "203.0.113.9")
		if ip := cl.do("GET", "/session-info", nil).json["ipAddress"]; ip != "127.0.0.1" {
			t.Errorf("ipAddress = %v, want the TCP peer", ip)
		}
	})
}

// Concurrent requests on one session that change different values all keep
// their change.
func TestConcurrentChangesKeepEveryValue(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		cl.register("yann", "yann's password")
		const n = 10
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := cl.do("POST", fmt.Sprintf("/set?k=k%d&v=v%d", i, i), nil)
				if r.status != http.StatusNoContent {
					t.Errorf("set %d: %d %s", i, r.status, r.body)
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if r := cl.do("GET", fmt.Sprintf("/get?k=k%d", i), nil); r.json["v"] != fmt.Sprintf("v%d", i) {
				t.Errorf("value k%d lost: %s", i, r.body)
			}
		}
		cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	})
}

func TestHostileCookies(t *testing.T) {
	a := newEnv(t, backends[0])
	owner := a.client(t)
	owner.register("zack", "zack's password")
	good := owner.sessionCookie().Value
	foreign := func() string {
		codec, _ := sessionstore.NewCodec([][]byte{[]byte("a-secret-this-server-never-had-0123")}, sessionstore.CodecOptions{})
		v, _ := codec.Encode("sid", sessionstore.NewID(), sessionstore.FlagSignedIn)
		return v
	}()
	tests := []struct {
		name, header string
		status       int
	}{
		{"empty", "sid=", http.StatusUnauthorized},
		{"huge", "sid=" + strings.Repeat("A", 8000), http.StatusUnauthorized},
		{"mis-encoded", "sid=%%%***!!!", http.StatusUnauthorized},
		{"truncated", "sid=" + good[:len(good)-10], http.StatusUnauthorized},
		{"unknown key", "sid=" + foreign, http.StatusUnauthorized},
		{"garbage then genuine", "sid=garbage; sid=" + good, http.StatusOK},
		{"genuine twice", "sid=" + good + "; sid=" + good, http.StatusOK},
		{"quoted", `sid="` + good + `"`, http.StatusOK},
		{"other cookies around", "a=1; sid=" + good + "; b=2", http.StatusOK},
		{"high bytes", "sid=\xff\xfe\x80", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.client(t)
			r := cl.do("GET", "/me", nil, "Cookie", tt.header)
			if r.status != tt.status {
				t.Errorf("%d %.100s, want %d", r.status, r.body, tt.status)
			}
			if r.status == http.StatusUnauthorized && r.json["code"] == nil {
				t.Errorf("not the JSON error contract: %s", r.body)
			}
		})
	}
	owner.want(owner.do("GET", "/me", nil), http.StatusOK, "")
}

func TestHostileCredentials(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.Throttle.Disabled = true })
	a.client(t).register("paypal", "the real password")
	tests := []struct {
		name     string
		register bool
		body     any
		status   int
		code     string
	}{
		{"fullwidth look-alike signs in as the same user", false, creds("ｐａｙｐａｌ", "the real password"), 200, ""},
		{"upper case too", false, creds("PayPal", "the real password"), 200, ""},
		{"Cyrillic look-alike cannot register", true, creds("pаypal", "another password"), 400, "bad_request"},
		{"fullwidth look-alike cannot register a second account", true, creds("ｐａｙｐａｌ", "another password"), 409, "username_taken"},
		{"empty username", false, creds("", "x"), 400, "bad_request"},
		{"empty password", false, creds("paypal", ""), 400, "bad_request"},
		{"NUL in password", false, creds("paypal", "the real\x00password"), 401, "invalid_credentials"},
		{"invalid UTF-8 by form", false, url.Values{"username": {"pay\xffpal"}, "password": {"x"}}, 303, ""},
		{"register invalid UTF-8 password", true, url.Values{"username": {"newname"}, "password": {"bad\xff password"}}, 303, ""},
		{"very long username at register", true, creds(strings.Repeat("a", 100), "a password!"), 400, "bad_request"},
		{"73-byte password at register", true, creds("longpw", strings.Repeat("p", 73)), 400, "password_too_long"},
		{"7-character password at register", true, creds("shortpw", "1234567"), 400, "weak_password"},
		{"emoji username", true, creds("😀", "a password!"), 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/login"
			if tt.register {
				path = "/register"
			}
			cl := a.client(t)
			r := cl.do("POST", path, tt.body)
			if r.status != tt.status || (tt.code != "" && r.code() != tt.code) {
				t.Errorf("%d %s; want %d %s", r.status, r.body, tt.status, tt.code)
			}
		})
	}
}

func TestSecretRotation(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := backends[2].open(t, clock)
	oldSecret := []byte("the-old-secret-0123456789abcdef01234")
	newSecret := []byte("the-new-secret-0123456789abcdef01234")
	secrets := func(s ...[]byte) appOption { return func(c *authConfig) { c.Secrets = s } }
	v1 := newApp(t, store, db, clock, secrets(oldSecret))
	v2 := newApp(t, store, db, clock, secrets(newSecret, oldSecret))
	v3 := newApp(t, store, db, clock, secrets(newSecret))

	cl := v1.client(t)
	cl.register("uri", "uri's password")
	old := cl.sessionCookie()

	// A new secret in front: the old cookie still works, and comes back
	// signed with the new one.
	r := v2.withCookie(t, old).do("GET", "/me", nil)
	if r.status != http.StatusOK {
		t.Fatalf("old cookie after a new secret was added: %d", r.status)
	}
	reissued := r.cookie("sid")
	if reissued == nil || reissued.Value == old.Value {
		t.Fatal("the old cookie was not re-issued")
	}
	newOnly, _ := sessionstore.NewCodec([][]byte{newSecret}, sessionstore.CodecOptions{})
	if _, _, _, err := newOnly.Decode("sid", reissued.Value); err != nil {
		t.Errorf("the re-issued cookie is not signed with the new secret: %v", err)
	}
	// The re-issue happens once: the new cookie needs none.
	if r := v2.withCookie(t, reissued).do("GET", "/me", nil); r.cookie("sid") != nil {
		t.Error("a cookie signed with the newest secret was re-issued")
	}
	// The old secret removed: old cookies stop working, re-issued ones go on.
	if r := v3.withCookie(t, old).do("GET", "/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("old cookie after the old secret was removed: %d", r.status)
	}
	v3.withCookie(t, reissued).want(v3.withCookie(t, reissued).do("GET", "/me", nil), http.StatusOK, "")
}

// testdata/cookies holds a cookie signed, long ago, with a retired secret:
// the signing format must stay readable, or every user is logged out by an
// upgrade.
func TestCookieFormatIsStable(t *testing.T) {
	data, err := os.ReadFile("../testdata/cookies/signed-with-old-secret.txt")
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
	codec, err := sessionstore.NewCodec([][]byte{[]byte("the-current-secret-0123456789abcdef"), []byte(secret)}, sessionstore.CodecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, flags, stale, err := codec.Decode("sid", cookie)
	if err != nil || !stale || flags != sessionstore.FlagSignedIn || id.Key().String() != key {
		t.Fatalf("fixture cookie: key %s flags %v stale %v err %v; want key %s", id.Key(), flags, stale, err, key)
	}
}

func TestAccountEvents(t *testing.T) {
	var mu sync.Mutex
	var events []auth.Event
	a := newEnv(t, backends[0], func(c *authConfig) {
		c.OnEvent = func(e auth.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	cl := a.client(t)
	cl.register("vera", "vera's password")
	cl.want(cl.do("POST", "/login", creds("vera", "wrong password")), http.StatusUnauthorized, "")
	for range 4 {
		cl.do("POST", "/login", creds("vera", "wrong password"))
	}
	cl.want(cl.do("POST", "/login", creds("vera", "vera's password")), http.StatusTooManyRequests, "")
	a.clock.Advance(time.Minute)
	cl.login("vera", "vera's password")
	other := a.client(t)
	other.login("vera", "vera's password")
	cl.want(cl.do("POST", "/password", map[string]any{"currentPassword": "vera's password", "newPassword": "vera's new password"}), http.StatusOK, "")
	cl.want(cl.do("POST", "/logout-all", nil), http.StatusOK, "")
	cl.login("vera", "vera's new password")
	cookie := cl.sessionCookie().Value
	cl.want(cl.do("POST", "/logout", nil), http.StatusNoContent, "")

	mu.Lock()
	defer mu.Unlock()
	var types []string
	for _, e := range events {
		types = append(types, string(e.Type))
		if e.Time.IsZero() || e.IPAddress != "127.0.0.1" {
			t.Errorf("event without time or address: %+v", e)
		}
	}
	want := "register login_success login_failure login_failure login_failure login_failure login_failure lockout " +
		"login_success login_success password_change logout_all login_success logout"
	if strings.Join(types, " ") != want {
		t.Errorf("events:\n got %s\nwant %s", strings.Join(types, " "), want)
	}
	dump := fmt.Sprintf("%+v", events)
	for _, secret := range []string{"vera's password", "vera's new password", "wrong password", "$2a$", cookie} {
		if secret != "" && strings.Contains(dump, secret) {
			t.Errorf("an event carries a secret (%q)", secret)
		}
	}
	for _, e := range events {
		if e.Type == auth.EventPasswordChange && e.Revoked != 1 {
			t.Errorf("password_change revoked %d, want 1", e.Revoked)
		}
		if e.Type == auth.EventLockout && e.RetryAfter != time.Minute {
			t.Errorf("lockout RetryAfter = %v", e.RetryAfter)
		}
	}
}
