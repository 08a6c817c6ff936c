package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/session"
)

// TestMain makes the password hashes of every app and command of the tests
// cheap (see bcryptCostForTests): none of them is about bcrypt's cost but
// TestDefaultBcryptCost, which checks the default without it.
func TestMain(m *testing.M) {
	bcryptCostForTests = testBcryptCost
	os.Exit(m.Run())
}

// What an app gets when nothing lowers the cost: loadConfig leaves
// bcryptCost unset, and the app hashes passwords at auth's default, 12.
func TestDefaultBcryptCost(t *testing.T) {
	saved := bcryptCostForTests
	bcryptCostForTests = 0
	env := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "example.db"), "SESSION_STORE": "memory",
		"SESSION_SECRET": "example-test-secret-0123456789abcdef"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	bcryptCostForTests = saved
	if err != nil {
		t.Fatal(err)
	}
	if cfg.bcryptCost != 0 {
		t.Fatalf("loadConfig set bcryptCost %d", cfg.bcryptCost)
	}
	a, err := newApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	signUp(t, srv.URL, "dee", "dee's password")
	u, err := a.users.FindByUsername(t.Context(), "dee")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$2a$12$") {
		t.Errorf("the password hash %.7s..., want bcrypt at cost 12", u.PasswordHash)
	}
}

// testApp builds the example app from env (SQLite in the test's temp dir
// unless env says otherwise, a memory session store by default, passwords
// hashed at testBcryptCost, see TestMain) on a fake clock, served over
// real HTTP.
func testApp(t *testing.T, env map[string]string) (*app, *httptest.Server, *fakeclock.Clock) {
	t.Helper()
	full := map[string]string{
		"DATABASE_URL":   filepath.Join(t.TempDir(), "example.db"),
		"SESSION_STORE":  "memory",
		"SESSION_SECRET": "example-test-secret-0123456789abcdef",
	}
	for k, v := range env {
		full[k] = v
	}
	cfg, err := loadConfig(func(k string) string { return full[k] })
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Time{})
	cfg.now = clock.Now
	a, err := newApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return a, srv, clock
}

// SESSION_SECRET_FILE holds the secrets (as mounted Docker or Kubernetes
// secrets are), instead of SESSION_SECRET; never both.
func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "new-secret-0123456789abcdef0123456789,old-secret-0123456789abcdef0123456789\n")
	cases := []struct {
		name    string
		env     map[string]string
		secrets int
		err     string
	}{
		{"file", map[string]string{"SESSION_SECRET_FILE": good}, 2, ""},
		{"both", map[string]string{"SESSION_SECRET_FILE": good, "SESSION_SECRET": "x-secret-0123456789abcdef0123456789"}, 0, "both set"},
		{"missing", map[string]string{"SESSION_SECRET_FILE": filepath.Join(dir, "nope")}, 0, "no such file"},
		{"empty", map[string]string{"SESSION_SECRET_FILE": file("empty", "\n")}, 0, "is empty"},
	}
	for _, tc := range cases {
		c, err := loadConfig(func(k string) string { return tc.env[k] })
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && (len(c.secrets) != tc.secrets || c.randomSecret || string(c.secrets[0]) != "new-secret-0123456789abcdef0123456789"):
			t.Errorf("%s: %d secrets (random %v)", tc.name, len(c.secrets), c.randomSecret)
		}
	}
}

// GET /healthz answers 200, sets no cookie and is not logged.
func TestHealthz(t *testing.T) {
	_, srv, _ := testApp(t, nil)
	res, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(res.Cookies()) != 0 {
		t.Fatalf("GET /healthz: %d, cookies %v", res.StatusCode, res.Cookies())
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"SESSION_SECRET":  "first-secret-0123456789abcdef0123456, second-secret-0123456789abcdef012345",
		"IDLE_TIMEOUT":    "10m",
		"COOKIE_SECURE":   "true",
		"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1, unix",
		"METRICS_ADDR":    "127.0.0.1:9090",
		"SMTP_URL":        "smtp://mailer:secret@mail.example:587",
		"BASE_URL":        "https://app.example",

		"SECOND_FACTOR_KEY": "second-factor-key-0123456789abcdef0123",
	}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.secrets) != 2 || c.randomSecret || c.idle.Minutes() != 10 || !c.secure || len(c.proxies) != 3 ||
		c.addr != "127.0.0.1:8080" || c.storeName != "gorm" || c.metricsAddr != "127.0.0.1:9090" || c.postgres() {
		t.Errorf("config = %+v", c)
	}
	if c.hostPrefix != session.HostPrefixAuto {
		t.Errorf("COOKIE_HOST_PREFIX unset: %v, want auth's default", c.hostPrefix)
	}
	for v, want := range map[string]session.HostPrefix{"true": session.HostPrefixRequired, "false": session.HostPrefixOff} {
		c, err := loadConfig(func(k string) string { return map[string]string{"COOKIE_HOST_PREFIX": v}[k] })
		if err != nil || c.hostPrefix != want {
			t.Errorf("COOKIE_HOST_PREFIX=%s: %v, %v; want %v", v, c.hostPrefix, err, want)
		}
	}
	if c.maxSessions != 0 || c.overLimit != session.EndOldest {
		t.Errorf("MAX_SESSIONS_PER_USER and SESSION_LIMIT unset: %d, %v; want no limit, ending the oldest", c.maxSessions, c.overLimit)
	}
	for _, lim := range []struct {
		max, policy string
		want        int
		overLimit   session.OverLimit
	}{{"3", "", 3, session.EndOldest}, {"1", "end-oldest", 1, session.EndOldest}, {"2", "refuse", 2, session.Refuse}, {"0", "refuse", 0, session.Refuse}} {
		c, err := loadConfig(func(k string) string {
			return map[string]string{"MAX_SESSIONS_PER_USER": lim.max, "SESSION_LIMIT": lim.policy}[k]
		})
		if err != nil || c.maxSessions != lim.want || c.overLimit != lim.overLimit {
			t.Errorf("MAX_SESSIONS_PER_USER=%s SESSION_LIMIT=%s: %d, %v, %v", lim.max, lim.policy, c.maxSessions, c.overLimit, err)
		}
	}
	for name, bad := range map[string]string{"IDLE_TIMEOUT": "soon", "COOKIE_SECURE": "maybe", "COOKIE_HOST_PREFIX": "maybe",
		"MAX_SESSIONS_PER_USER": "-1", "SESSION_LIMIT": "oldest"} {
		if _, err := loadConfig(func(k string) string { return map[string]string{name: bad}[k] }); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v, want an error naming it", name, bad, err)
		}
	}
	if _, err := loadConfig(func(k string) string { return map[string]string{"MAX_SESSIONS_PER_USER": "three"}[k] }); err == nil {
		t.Error("MAX_SESSIONS_PER_USER=three was accepted")
	}
	c, _ = loadConfig(func(string) string { return "" })
	if !c.randomSecret || len(c.secrets[0]) < 32 {
		t.Errorf("no SESSION_SECRET: %+v", c)
	}
	c.storeName = "nosuch"
	c.databaseURL = filepath.Join(t.TempDir(), "x.db")
	if _, err := newApp(c, io.Discard); err == nil || !strings.Contains(err.Error(), "SESSION_STORE") {
		t.Errorf("an unknown SESSION_STORE: %v", err)
	}
	for _, u := range []string{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", "redis://127.0.0.1:26379?master_name=main"} {
		client, err := openRedis(u)
		if err != nil {
			t.Errorf("openRedis(%s): %v", u, err)
			continue
		}
		_ = client.Close()
	}
}

// browser is an HTTP client with a cookie jar that asks for HTML, as a
// browser does, and follows redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: srv.URL, c: &http.Client{Jar: jar}}
}

func (b *browser) get(path string) (string, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	return b.send(req)
}

func (b *browser) post(path string, form url.Values) (string, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.send(req)
}

// send returns the final page and the path it is at.
func (b *browser) send(req *http.Request) (string, string) {
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body), res.Request.URL.RequestURI()
}

// The pages, driven as a browser without JavaScript would: register, the
// account page, a second device, revoking it, a password change, signing
// out everywhere, and what each page says.
func TestPages(t *testing.T) {
	_, srv, _ := testApp(t, nil)
	one, two := newBrowser(t, srv), newBrowser(t, srv)
	page, at := one.post("/register", url.Values{"username": {"Uma"}, "password": {"uma's password"}})
	if at != "/" || !strings.Contains(page, "Welcome, uma") {
		t.Fatalf("after registering, at %s: %s", at, page)
	}
	// Register errors at their field.
	for form, want := range map[string]string{
		"uma|a long enough password": "That username is taken",
		"bob|short":                  "Use at least 8 characters",
		"a b|a long enough password": "Use 1 to 64 letters",
		"bob|password123":            "one of the most common ones",
		"bobby.tables|Bobby.Tables":  "or your username",
	} {
		u, p, _ := strings.Cut(form, "|")
		page, at := newBrowser(t, srv).post("/register", url.Values{"username": {u}, "password": {p}})
		if !strings.HasPrefix(at, "/register?error=") || !strings.Contains(page, want) || !strings.Contains(page, `aria-invalid="true"`) {
			t.Errorf("register %s: at %s, page lacks %q", form, at, want)
		}
	}
	// A second device, sent to sign in from the page it asked for.
	page, at = two.get("/account/sessions")
	if at != "/login?returnTo=%2Faccount%2Fsessions" || !strings.Contains(page, `name="returnTo" value="/account/sessions"`) {
		t.Fatalf("a signed-out browser asking for its sessions: at %s", at)
	}
	if page, at = two.post("/login", url.Values{"username": {"uma"}, "password": {"wrong"}, "returnTo": {"/account/sessions"}}); !strings.Contains(page, "do not match") {
		t.Errorf("a wrong password: at %s", at)
	}
	page, at = two.post("/login", url.Values{"username": {"uma"}, "password": {"uma's password"}, "returnTo": {"/account/sessions"}, "remember": {"on"}})
	if at != "/account/sessions" || strings.Count(page, ">Revoke<") != 1 || !strings.Contains(page, "This device") {
		t.Fatalf("after signing in: at %s: %s", at, page)
	}
	// The first device revokes the second.
	page, _ = one.get("/account/sessions")
	i := strings.Index(page, `action="/account/sessions/`)
	action := page[i+len(`action="`):]
	action = action[:strings.Index(action, `"`)]
	if page, at = one.post(action, nil); at != "/account/sessions?revoked=1" || !strings.Contains(page, "That session is signed out") {
		t.Errorf("after revoking: at %s", at)
	}
	if page, at = two.get("/account"); !strings.HasPrefix(at, "/login?expired=true") || !strings.Contains(page, "Your session has ended") {
		t.Errorf("the revoked browser: at %s", at)
	}
	// Display name, theme, password change.
	if page, _ = one.post("/account/profile", url.Values{"displayName": {"Uma Thurman"}}); !strings.Contains(page, "Your display name is saved") || !strings.Contains(page, "Uma Thurman") {
		t.Errorf("after saving a display name: %s", page)
	}
	if page, _ = one.post("/account/theme", url.Values{"theme": {"dark"}}); !strings.Contains(page, `data-theme="dark"`) {
		t.Error("the dark theme was not kept in the session")
	}
	two.post("/login", url.Values{"username": {"uma"}, "password": {"uma's password"}})
	if page, _ = one.post("/password", url.Values{"currentPassword": {"nope"}, "newPassword": {"uma's new password"}, "returnTo": {"/account"}}); !strings.Contains(page, "That is not your current password") {
		t.Errorf("a wrong current password: %s", page)
	}
	if page, _ = one.post("/password", url.Values{"currentPassword": {"uma's password"}, "newPassword": {"iloveyou"}, "returnTo": {"/account"}}); !strings.Contains(page, "one of the most common ones") || !strings.Contains(page, `id="new-error"`) {
		t.Errorf("a common new password: %s", page)
	}
	if page, _ = one.post("/password", url.Values{"currentPassword": {"uma's password"}, "newPassword": {"uma's new password"}, "returnTo": {"/account"}}); !strings.Contains(page, "1 other session was signed out") {
		t.Errorf("after changing the password: %s", page)
	}
	if _, at = two.get("/account"); !strings.HasPrefix(at, "/login") {
		t.Errorf("the other device after the password change: at %s", at)
	}
	two.post("/login", url.Values{"username": {"uma"}, "password": {"uma's new password"}})
	if page, at = one.post("/logout-all", nil); !strings.Contains(page, "You are signed out everywhere: 2 sessions ended") {
		t.Errorf("after signing out everywhere: at %s", at)
	}
	// A lockout says how long.
	three := newBrowser(t, srv)
	for range 5 {
		three.post("/login", url.Values{"username": {"uma"}, "password": {"wrong"}})
	}
	if page, _ = three.post("/login", url.Values{"username": {"uma"}, "password": {"wrong"}}); !strings.Contains(page, "Try again in 1 minute") {
		t.Errorf("during a lockout: %s", page)
	}
}

// testBcryptCost is the cost of the password hashes of the tests (see
// TestMain): bcrypt's least.
const testBcryptCost = 4
