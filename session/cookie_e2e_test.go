package session_test

// The session cookie through the prebuilt routes: its attributes, Secure
// and __Host- cookies behind proxies, hostile and duplicate cookies, and
// secret rotation.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// captureLog points the default slog logger at a buffer for one test.
func captureLog(t *testing.T) *testenv.LogBuffer {
	buf := &testenv.LogBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

func TestRememberMeCookie(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	a.Client(t).Register("erin", "erin's password")
	for _, remember := range []bool{false, true} {
		cl := a.Client(t)
		r := cl.Do("POST", "/login", map[string]any{"username": "erin", "password": "erin's password", "remember": remember})
		cl.Want(r, http.StatusOK, "")
		raw := r.Header.Get("Set-Cookie")
		c := r.Cookie("sid")
		if c == nil {
			t.Fatal("no cookie")
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
			t.Errorf("cookie attributes: %s", raw)
		}
		hasAge := strings.Contains(raw, "Max-Age=")
		if hasAge != remember {
			t.Errorf("remember=%v: cookie %s", remember, raw)
		}
		if remember && c.MaxAge != int((24*time.Hour).Seconds()) {
			t.Errorf("remember-me Max-Age = %d, want the absolute timeout", c.MaxAge)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Error("a response setting the session cookie is cacheable")
		}
	}
}

func TestSecureCookies(t *testing.T) {
	logs := captureLog(t)
	secure := func(c *apptest.Config) {
		c.Session.Cookie.Secure = true
		c.Session.Logger, c.Auth.Logger = slog.Default(), slog.Default()
	}
	t.Run("plain HTTP signs nobody in, and warns once", func(t *testing.T) {
		var mu sync.Mutex
		var codes []string
		a := apptest.NewEnv(t, apptest.Backends[0], secure, func(c *apptest.Config) {
			c.Auth.OnEvent = func(e auth.Event) {
				mu.Lock()
				codes = append(codes, string(e.Type)+":"+e.Code)
				mu.Unlock()
			}
		})
		hash, _ := bcrypt.GenerateFromPassword([]byte("yuri's password"), bcrypt.MinCost)
		if _, err := a.Users.Create(context.Background(), "yuri", string(hash)); err != nil {
			t.Fatal(err)
		}
		cl := a.Client(t)
		for range 3 {
			for _, r := range []*apptest.Response{
				cl.Do("POST", "/register", apptest.Creds(fmt.Sprintf("u%d", time.Now().UnixNano()), "a password!")),
				cl.Do("POST", "/login", apptest.Creds("yuri", "yuri's password")),
			} {
				cl.Want(r, http.StatusForbidden, "https_required")
				if r.Header.Get("Set-Cookie") != "" {
					t.Errorf("a cookie went out over plain HTTP: %s", r.Header.Get("Set-Cookie"))
				}
			}
		}
		if n := strings.Count(logs.String(), "not sending the Secure session cookie"); n != 1 {
			t.Errorf("%d warnings, want exactly one:\n%s", n, logs)
		}
		// Nothing was stored: no session, no account.
		u, err := a.Users.FindByUsername(context.Background(), "yuri")
		if err != nil {
			t.Fatal(err)
		}
		if ss, err := a.Store.List(context.Background(), u.AuthID()); err != nil || len(ss) != 0 {
			t.Errorf("sessions stored for a sign-in whose cookie could not be sent: %v, %v", ss, err)
		}
		if _, err := a.Users.FindByUsername(context.Background(), "u"); err == nil {
			t.Error("an account was created")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(codes) != 6 || codes[0] != "login_error:https_required" || codes[1] != "login_error:https_required" {
			t.Errorf("events %v, want six login_error https_required", codes)
		}
	})
	t.Run("a proxy's X-Forwarded-Proto counts only when trusted", func(t *testing.T) {
		untrusted := apptest.NewEnv(t, apptest.Backends[0], secure)
		r := untrusted.Client(t).Do("POST", "/register", apptest.Creds("victor", "a password!"), "X-Forwarded-Proto", "https")
		if r.Header.Get("Set-Cookie") != "" {
			t.Errorf("an untrusted X-Forwarded-Proto got a Secure cookie")
		}
		trusted := apptest.NewEnv(t, apptest.Backends[0], secure, func(c *apptest.Config) {
			c.Session.TrustedProxies = []string{"127.0.0.1/32", "::1"}
			c.Session.Cookie.HostPrefix = session.HostPrefixRequired
		})
		r = trusted.Client(t).Do("POST", "/register", apptest.Creds("wendy", "a password!"), "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9")
		c := r.Cookie("__Host-sid")
		if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
			t.Fatalf("behind a trusted TLS proxy: %q", r.Header.Get("Set-Cookie"))
		}
		// The session recorded the client the proxy named.
		cl := trusted.Client(t)
		info := cl.Do("GET", "/session-info", nil, "Cookie", "__Host-sid="+c.Value, "X-Forwarded-Proto", "https")
		if info.JSON["ipAddress"] != "203.0.113.9" {
			t.Errorf("ipAddress = %v, want the forwarded client", info.JSON["ipAddress"])
		}
	})
	t.Run("X-Forwarded-For from an untrusted peer is ignored", func(t *testing.T) {
		a := apptest.NewEnv(t, apptest.Backends[0])
		cl := a.Client(t)
		cl.Do("POST", "/register", apptest.Creds("xena", "a password!"), "X-Forwarded-For", "203.0.113.9")
		if ip := cl.Do("GET", "/session-info", nil).JSON["ipAddress"]; ip != "127.0.0.1" {
			t.Errorf("ipAddress = %v, want the TCP peer", ip)
		}
	})
}

func TestHostileCookies(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	owner := a.Client(t)
	owner.Register("zack", "zack's password")
	good := owner.SessionCookie().Value
	foreign := func() string {
		return apptest.ForgeCookie(t, []byte("a-secret-this-server-never-had-0123"))
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
			cl := a.Client(t)
			r := cl.Do("GET", "/me", nil, "Cookie", tt.header)
			if r.Status != tt.status {
				t.Errorf("%d %.100s, want %d", r.Status, r.Body, tt.status)
			}
			if r.Status == http.StatusUnauthorized && r.JSON["code"] == nil {
				t.Errorf("not the JSON error contract: %s", r.Body)
			}
		})
	}
	owner.Want(owner.Do("GET", "/me", nil), http.StatusOK, "")
}

func TestSecretRotation(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[2].Open(t, clock)
	oldSecret := []byte("the-old-secret-0123456789abcdef01234")
	newSecret := []byte("the-new-secret-0123456789abcdef01234")
	secrets := func(s ...[]byte) apptest.Option { return func(c *apptest.Config) { c.Session.Secrets = s } }
	v1 := apptest.NewApp(t, store, db, clock, secrets(oldSecret))
	v2 := apptest.NewApp(t, store, db, clock, secrets(newSecret, oldSecret))
	v3 := apptest.NewApp(t, store, db, clock, secrets(newSecret))

	cl := v1.Client(t)
	cl.Register("uri", "uri's password")
	old := cl.SessionCookie()

	// A new secret in front: the old cookie still works, and comes back
	// signed with the new one.
	r := v2.WithCookie(t, old).Do("GET", "/me", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("old cookie after a new secret was added: %d", r.Status)
	}
	reissued := r.Cookie("sid")
	if reissued == nil || reissued.Value == old.Value {
		t.Fatal("the old cookie was not re-issued")
	}
	if !apptest.SignedBy(t, newSecret, reissued.Value) {
		t.Error("the re-issued cookie is not signed with the new secret")
	}
	// The re-issue happens once: the new cookie needs none.
	if r := v2.WithCookie(t, reissued).Do("GET", "/me", nil); r.Cookie("sid") != nil {
		t.Error("a cookie signed with the newest secret was re-issued")
	}
	// The old secret removed: old cookies stop working, re-issued ones go on.
	if r := v3.WithCookie(t, old).Do("GET", "/me", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("old cookie after the old secret was removed: %d", r.Status)
	}
	v3.WithCookie(t, reissued).Want(v3.WithCookie(t, reissued).Do("GET", "/me", nil), http.StatusOK, "")
}

// testdata/cookies holds a cookie signed, long ago, with a retired secret.
// A user who signed in then is still signed in after an upgrade that keeps
// that secret as the older of two, and gets the cookie re-issued with the
// newest: the cookie format must stay readable.
func TestOldCookieSurvivesAnUpgrade(t *testing.T) {
	fixture := readCookieFixture(t)
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) {
		c.Session.Secrets = [][]byte{[]byte("the-current-secret-0123456789abcdef"), []byte(fixture["secret"])}
	})
	a.Client(t).Register("olive", "olive's password")
	key, err := sessionstore.ParseKey(fixture["key"])
	if err != nil {
		t.Fatal(err)
	}
	now := a.Clock.Now()
	u, _ := a.Users.FindByUsername(context.Background(), "olive")
	rec := &sessionstore.Record{Meta: sessionstore.Meta{
		UserID: u.AuthID(), CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(30 * time.Minute), Deadline: now.Add(24 * time.Hour),
	}}
	if err := a.Store.Create(context.Background(), key, rec); err != nil {
		t.Fatal(err)
	}
	cl := a.WithCookie(t, &http.Cookie{Name: "sid", Value: fixture["cookie"]})
	r := cl.Do("GET", "/me", nil)
	cl.Want(r, http.StatusOK, "")
	if c := r.Cookie("sid"); c == nil || c.Value == fixture["cookie"] {
		t.Error("the cookie signed with the older secret was not re-issued")
	}
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
}

// readCookieFixture reads testdata/cookies/signed-with-old-secret.txt.
func readCookieFixture(t *testing.T) map[string]string {
	data, err := os.ReadFile("testdata/cookies/signed-with-old-secret.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// A sibling subdomain can set a cookie of the session's name for the parent
// domain, and browsers send it beside the host's own: the server cannot
// tell which is whose. When the cookies of two sessions verify, the request
// has no session, and the cookie is expired; a cookie that does not verify
// is noise and never displaces the genuine one.
func TestDuplicateSessionCookies(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	victim := a.Client(t)
	victim.Register("vera", "vera's password")
	attacker := a.Client(t)
	attacker.Register("mallory", "mallory's password")
	v, m := victim.SessionCookie().Value, attacker.SessionCookie().Value
	foreign := func() string {
		return apptest.ForgeCookie(t, []byte("a-secret-this-server-never-had-0123"))
	}()

	expired := func(r *apptest.Response) bool {
		c := r.Cookie("sid")
		return c != nil && c.MaxAge < 0 && c.Value == "" && c.Path == "/"
	}
	for _, tt := range []struct{ name, header string }{
		{"planted first", "sid=" + m + "; sid=" + v},
		{"planted last", "sid=" + v + "; sid=" + m},
		{"between other cookies", "a=1; sid=" + m + "; b=2; sid=" + v + "; c=3"},
		{"planted unknown ID", "sid=" + apptest.PlantedCookie(t).Value + "; sid=" + v},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.Client(t)
			r := cl.Do("GET", "/me", nil, "Cookie", tt.header)
			cl.Want(r, http.StatusUnauthorized, "unauthenticated")
			if !expired(r) {
				t.Errorf("two sessions' cookies: the cookie was not expired: %q", r.Header.Values("Set-Cookie"))
			}
		})
	}
	t.Run("in two Cookie headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", a.Server.URL+"/me", nil)
		req.Header.Add("Cookie", "sid="+m)
		req.Header.Add("Cookie", "sid="+v)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", res.StatusCode)
		}
	})
	for _, tt := range []struct{ name, header string }{
		{"garbage first", "sid=garbage; sid=" + v},
		{"garbage last", "sid=" + v + "; sid=garbage"},
		{"foreign-signed first", "sid=" + foreign + "; sid=" + v},
		{"tampered last", "sid=" + v + "; sid=" + m[:len(m)-2] + "AA"},
		{"the same cookie twice", "sid=" + v + "; sid=" + v},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.Client(t)
			r := cl.Do("GET", "/me", nil, "Cookie", tt.header)
			cl.Want(r, http.StatusOK, "")
			if u, _ := r.JSON["user"].(map[string]any); u["username"] != "vera" {
				t.Errorf("served %v, want vera", r.JSON["user"])
			}
			if r.Cookie("sid") != nil {
				t.Errorf("an unverifiable duplicate touched the genuine cookie: %q", r.Header.Values("Set-Cookie"))
			}
		})
	}
	// Neither session was ended on the server: each owner's browser,
	// sending only its own cookie, is still signed in.
	victim.Want(victim.Do("GET", "/me", nil), http.StatusOK, "")
	attacker.Want(attacker.Do("GET", "/me", nil), http.StatusOK, "")
}

// A Secure cookie that has no Domain and Path "/" is named __Host-sid
// unless the application says otherwise: a sibling subdomain cannot set a
// __Host- cookie, so it cannot plant one beside it.
func TestHostPrefixByDefault(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) {
		c.Session.Cookie.Secure = true
		c.Session.TrustedProxies = []string{"127.0.0.1/32", "::1"}
	})
	cl := a.Client(t)
	r := cl.Do("POST", "/register", apptest.Creds("hana", "a password!"), "X-Forwarded-Proto", "https")
	cl.Want(r, http.StatusCreated, "")
	c := r.Cookie("__Host-sid")
	if c == nil || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Fatalf("Secure, no Domain: Set-Cookie %q, want __Host-sid", r.Header.Values("Set-Cookie"))
	}
	if r.Cookie("sid") != nil {
		t.Error("a plain sid cookie was set too")
	}
	me := a.Client(t).Do("GET", "/me", nil, "Cookie", "__Host-sid="+c.Value, "X-Forwarded-Proto", "https")
	if me.Status != http.StatusOK {
		t.Errorf("GET /me with the __Host-sid cookie: %d", me.Status)
	}
	// A cookie without the prefix, which any subdomain could have set, is
	// not the session's.
	if r := a.Client(t).Do("GET", "/me", nil, "Cookie", "sid="+c.Value, "X-Forwarded-Proto", "https"); r.Status != http.StatusUnauthorized {
		t.Errorf("an unprefixed cookie was read: %d", r.Status)
	}
}
