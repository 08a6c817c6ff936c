package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ginauth/ginauth/internal/testenv"
)

// chromium finds Debian's Chromium (or another Chrome), or skips (fails
// with REQUIRE_SERVICES=1: .ci/run installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "Chromium", "no chromium on PATH (apt-get install chromium)")
	return ""
}

// artifacts is where screenshots go: $ARTIFACTS, or the test's temp dir.
func artifacts(t *testing.T) string {
	dir := os.Getenv("ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startChromium starts a headless Chromium of the test's own and returns
// its first browser context.
func startChromium(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// tab is a browser tab on the app, in a browser context (cookies) of its
// own.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	name  string
}

func newTab(t *testing.T, browser context.Context, base, name, shots string, ownCookies bool) *tab {
	ctx := browser
	if ownCookies {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		// The first action on a chromedp context creates its tab, which
		// lives as long as the context of that call: never one with a
		// timeout.
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatalf("%s: opening a tab: %v", name, err)
		}
	}
	return &tab{t: t, ctx: ctx, base: base, shots: shots, name: name}
}

// bounded returns the tab's context with a bound on how long the browser
// may take, so that a stuck page fails the test instead of hanging it.
func (b *tab) bounded() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 30*time.Second)
}

// run runs actions with a bound on how long the browser may take.
func (b *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", b.name, err)
	}
}

// open navigates to path and returns where the browser ends up.
func (b *tab) open(path string) string {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base + path))
	return b.at()
}

// submit clicks the button and waits for the page it leads to; it returns
// that page's status.
func (b *tab) submit(button string) int64 {
	b.t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("%s: submitting with %s: %v", b.name, button, err)
	}
	return res.Status
}

func (b *tab) fill(fields map[string]string) {
	b.t.Helper()
	for sel, v := range fields {
		b.run(chromedp.SendKeys(chromedp.CSS(sel), v)) // fields start empty on every page
	}
}

// at returns the path and query the tab is at.
func (b *tab) at() string {
	b.t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	return u.RequestURI()
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("%s: text of %s: %v", b.name, sel, err)
	}
	return s
}

func (b *tab) eval(js string) string {
	b.t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %s: %v", b.name, js, err)
	}
	return s
}

// shot saves a screenshot of the page as name.png among the artifacts.
func (b *tab) shot(name string) {
	b.t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	// The README shows two of them: UPDATE_SCREENSHOTS=1 writes those into
	// docs/screenshots, from the SQLite run.
	if os.Getenv("UPDATE_SCREENSHOTS") != "" && strings.HasSuffix(b.t.Name(), "/sqlite") && (name == "account" || name == "sessions") {
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

func (b *tab) cookie(name string) *network.Cookie {
	b.t.Helper()
	ctx, cancel := b.bounded()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *tab) signIn(user, password string, remember bool) string {
	b.t.Helper()
	b.fill(map[string]string{"#username": user, "#password": password})
	if remember {
		b.run(chromedp.Click(chromedp.CSS("#remember")))
	}
	b.submit(`main form[action="/login"] button[type=submit]`)
	return b.at()
}

func (b *tab) wantAt(prefix string) {
	b.t.Helper()
	if at := b.at(); !strings.HasPrefix(at, prefix) {
		b.t.Fatalf("%s is at %s, want %s…", b.name, at, prefix)
	}
}

func (b *tab) wantText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s: %s says %q, want %q", b.name, sel, got, want)
	}
}

// The example app in a real browser, on SQLite and on Redis: register and
// sign in with "remember me" (a persistent, HttpOnly, SameSite=Lax cookie),
// a second browser revoked from the first, a password change and signing
// out everywhere, the idle timeout, and a cross-site form post refused.
func TestBrowser(t *testing.T) {
	testenv.SkipIfShort(t, "starts Chromium")
	chromium(t)
	stores := []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite", func(*testing.T) map[string]string { return map[string]string{"SESSION_STORE": "gorm"} }},
		{"redis", func(t *testing.T) map[string]string {
			// With a limit of two sessions per user, which refuses a third:
			// the test never has more than two at once but where it tries.
			srv := testenv.StartRedisServer(t)
			return map[string]string{"SESSION_STORE": "redis", "REDIS_URL": "redis://" + srv.Addr() + "/0",
				"MAX_SESSIONS_PER_USER": "2", "SESSION_LIMIT": "refuse"}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			env := st.env(t)
			env["IDLE_TIMEOUT"] = "10m"
			_, srv, clock := testApp(t, env)
			shots := artifacts(t)
			t.Logf("screenshots in %s", shots)
			browser := startChromium(t)
			one := newTab(t, browser, srv.URL, "first browser", shots, false)
			two := newTab(t, browser, srv.URL, "second browser", shots, true)
			var refused cspReports
			refused.watch(t, one.ctx)
			refused.watch(t, two.ctx)
			defer func() {
				for _, r := range refused.all() {
					t.Errorf("the browser refused what a page asked for: %s", r)
				}
			}()

			// Register, sign out, sign in with "remember me".
			one.open("/register")
			one.shot("register")
			one.fill(map[string]string{"#username": "Ada", "#password": "correct horse battery"})
			one.submit(`main form[action="/register"] button[type=submit]`)
			one.wantAt("/")
			one.wantText("h1", "Welcome, ada")
			one.shot("home")
			one.submit(`header form[action="/logout"] button`)
			one.wantAt("/login?signedOut=1")
			one.wantText("main", "You are signed out")
			if c := one.cookie("sid"); c != nil {
				t.Errorf("a session cookie after signing out: %+v", c)
			}
			one.open("/login?error=1")
			one.shot("login-error")
			one.open("/login")
			one.shot("login")
			one.signIn("ada", "correct horse battery", true)
			one.wantAt("/")
			c := one.cookie("sid")
			switch {
			case c == nil:
				t.Fatal("no session cookie after signing in")
			case c.Session || c.Expires < float64(time.Now().Add(23*time.Hour).Unix()):
				t.Errorf("the remember-me cookie is not persistent: session %v, expires %v", c.Session, time.Unix(int64(c.Expires), 0))
			case !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax:
				t.Errorf("cookie HttpOnly %v, SameSite %q; want HttpOnly, Lax", c.HTTPOnly, c.SameSite)
			}
			if js := one.eval("document.cookie"); strings.Contains(js, "sid=") {
				t.Errorf("scripts can read the session cookie: %q", js)
			}

			// A second browser signs in, from the page it asked for; the
			// first sees both sessions and revokes the second.
			two.open("/account/sessions")
			two.wantAt("/login?returnTo=%2Faccount%2Fsessions")
			if at := two.signIn("ada", "correct horse battery", false); at != "/account/sessions" {
				t.Fatalf("after signing in the second browser is at %s, not the page it asked for", at)
			}
			one.open("/account/sessions")
			if n := one.eval(`String(document.querySelectorAll("tbody tr").length)`); n != "2" {
				t.Fatalf("the sessions page lists %s sessions, want 2", n)
			}
			one.wantText("tr.current", "This device")
			if env["MAX_SESSIONS_PER_USER"] != "" {
				// A third browser is refused, and told why.
				one.wantText("main", "2 of 2 sessions")
				three := newTab(t, browser, srv.URL, "third browser", shots, true)
				three.open("/login")
				if at := three.signIn("ada", "correct horse battery", false); at != "/login?error=too_many_sessions" {
					t.Errorf("a third browser over the limit is at %s", at)
				}
				three.wantText(".notice", "You are signed in on 2 devices, as many as an account may be")
				three.shot("login-too-many-sessions")
			}
			one.shot("sessions")
			one.run(chromedp.EmulateViewport(390, 844))
			one.shot("sessions-phone")
			one.run(chromedp.EmulateViewport(1100, 900))
			one.submit(`tbody form[action^="/account/sessions/"] button`)
			one.wantAt("/account/sessions?revoked=1")
			if n := one.eval(`String(document.querySelectorAll("tbody tr").length)`); n != "1" {
				t.Errorf("after revoking, %s sessions listed", n)
			}
			two.open("/account/sessions")
			two.wantAt("/login?expired=true&returnTo=%2Faccount%2Fsessions")
			two.wantText(".notice", "Your session has ended")
			two.shot("login-expired")
			if at := two.signIn("ada", "correct horse battery", false); at != "/account/sessions" {
				t.Errorf("after signing in again the second browser is at %s", at)
			}

			// A password change signs the other browser out; then sign out
			// everywhere.
			one.open("/account")
			one.shot("account")
			one.fill(map[string]string{"#currentPassword": "correct horse battery", "#newPassword": "a new horse battery"})
			one.submit(`form[action="/password"] button[type=submit]`)
			one.wantAt("/account?revoked=1")
			one.wantText(".notice", "1 other session was signed out")
			one.shot("account-password-changed")
			two.open("/account")
			two.wantAt("/login?expired=true")
			two.signIn("ada", "a new horse battery", false)
			two.wantAt("/account")
			one.open("/account")
			one.submit(`main form[action="/logout-all"] button`)
			one.wantAt("/login?")
			one.wantText(".notice", "You are signed out everywhere: 2 sessions ended")
			one.shot("login-signed-out-everywhere")
			two.open("/account")
			two.wantAt("/login?expired=true")

			// The idle timeout: the page after it is the sign-in page, with
			// the notice.
			one.signIn("ada", "a new horse battery", false)
			one.open("/account")
			clock.Advance(11 * time.Minute)
			one.open("/account")
			one.wantAt("/login?expired=true")
			one.wantText(".notice", "Your session has ended")

			// A form on another origin posting to the app is refused, and
			// changes nothing.
			one.signIn("ada", "a new horse battery", false)
			evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/account/profile">
<input name="displayName" value="pwned"><button id="go">Win a prize</button></form>`, srv.URL)
			}))
			t.Cleanup(evil.Close)
			one.run(chromedp.Navigate(evil.URL))
			if status := one.submit("#go"); status != http.StatusForbidden {
				t.Errorf("a cross-site form post answered %d, want 403", status)
			}
			if body := one.eval("document.body.innerText"); !strings.Contains(body, "cross_origin") {
				t.Errorf("the refusal says %q", body)
			}
			one.open("/account")
			if strings.Contains(one.text("main"), "pwned") {
				t.Error("the cross-site post changed the display name")
			}
		})
	}
}

// cspReports collects what the browser says it refused under the pages'
// Content-Security-Policy: a page whose stylesheet, script or form the
// policy blocks is a page that does not work.
type cspReports struct {
	mu   sync.Mutex
	list []string
}

// watch listens to the log of the tab of ctx.
func (c *cspReports) watch(t *testing.T, ctx context.Context) {
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && strings.Contains(e.Entry.Text, "Content Security Policy") {
			c.mu.Lock()
			c.list = append(c.list, e.Entry.URL+": "+e.Entry.Text)
			c.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (c *cspReports) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}
