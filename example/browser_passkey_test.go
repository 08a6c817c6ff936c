package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
)

// passkeyApp is testApp served at http://localhost:PORT, BASE_URL, where
// browsers use passkeys (they give none to 127.0.0.1): the port is taken
// first, so that the app is built knowing its origin.
func passkeyApp(t *testing.T) (*app, string, *fakeclock.Clock) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	env := map[string]string{
		"DATABASE_URL":   filepath.Join(t.TempDir(), "example.db"),
		"SESSION_STORE":  "memory",
		"SESSION_SECRET": "example-test-secret-0123456789abcdef",
		"BASE_URL":       base,
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Time{})
	cfg.now = clock.Now
	cfg.bcryptCost = testBcryptCost // the passwords are not what is tested: cheap hashes keep the test quick
	a, err := newApp(cfg, io.Discard)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	srv := httptest.NewUnstartedServer(a.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return a, base, clock
}

// usePasskey clicks a passkey button, whose script runs the ceremony and
// then goes to the next page, and waits for that page; when none comes,
// it fails with what the page's status says.
func (b *tab) usePasskey(button string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible)); err != nil {
		status := b.eval(`Array.from(document.querySelectorAll("[data-passkey-status]"), e => e.textContent).join(" ")`)
		b.t.Fatalf("%s: %s led nowhere (%v); the page says %q", b.name, button, err, status)
	}
}

// Passkeys in a real browser, with Chrome's virtual authenticator (a
// platform authenticator that verifies its user): one added from the
// account's passkey page and renamed, a sign-in with it alone, the second
// step of a password sign-in with two-step sign-in on, a re-authentication
// with it once the last sign-in is old, and its removal. No page's
// resource, script, fetch or form is refused by the
// Content-Security-Policy.
func TestBrowserPasskey(t *testing.T) {
	testenv.SkipIfShort(t, "starts Chromium")
	chromium(t)
	start := time.Now()
	defer func() { t.Logf("took %v", time.Since(start).Round(time.Millisecond)) }()
	_, base, clock := passkeyApp(t)
	shots := artifacts(t)
	browser := startChromium(t)
	tab := newTab(t, browser, base, "browser", shots, false)
	var refused cspReports
	refused.watch(t, tab.ctx)
	defer func() {
		for _, r := range refused.all() {
			t.Errorf("the browser refused what a page asked for: %s", r)
		}
	}()
	ctx, cancel := tab.bounded()
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	// Register, then add a passkey from the account page's link: the
	// registration's sign-in is recent enough.
	tab.open("/register")
	tab.fill(map[string]string{"#username": "Lin", "#password": "correct horse battery"})
	tab.submit(`main form[action="/register"] button[type=submit]`)
	tab.wantAt("/")
	tab.open("/account")
	tab.wantText("#passkeys + p + dl", "none yet")
	tab.submit(`main a[href="/account/passkeys"]`)
	tab.wantAt("/account/passkeys")
	tab.wantText("main", "You have no passkey yet")
	tab.fill(map[string]string{"#passkey-name": "laptop"})
	tab.usePasskey(`button[data-passkey="register"]`)
	tab.wantAt("/account/passkeys?added=1")
	tab.wantText("#passkey-0", "laptop")
	tab.wantText("#passkey-0 + dl dd:nth-of-type(2)", "never")
	tab.run(chromedp.SetValue(chromedp.CSS("#name-0"), "work laptop"))
	tab.submit(`main form[action$="/rename"] button[type=submit]`)
	tab.wantAt("/account/passkeys?renamed=1")
	tab.wantText("#passkey-0", "work laptop")
	tab.shot("passkeys")
	tab.run(chromedp.EmulateViewport(390, 844))
	tab.shot("passkeys-phone")
	tab.run(chromedp.EmulateViewport(1100, 900))

	// Sign out, and in with the passkey alone, back to the page asked for.
	tab.submit(`header form[action="/logout"] button`)
	tab.open("/account")
	tab.wantAt("/login?returnTo=%2Faccount")
	tab.usePasskey(`button[data-passkey="login"]`)
	tab.wantAt("/account")
	tab.wantText("#who", "Signed in as lin")
	tab.wantText("#passkeys + p + dl", "1")

	// Two-step sign-in on; a password sign-in's second step with the
	// passkey instead of a code.
	tab.open("/account/2fa")
	tab.submit(`main form[action="/account/2fa/setup"] button[type=submit]`)
	secret := strings.ReplaceAll(tab.text("code.secret"), " ", "")
	tab.fill(map[string]string{"#code": code(t, secret, clock)})
	tab.submit(`main form[action="/account/2fa/confirm"] button[type=submit]`)
	tab.wantText("main", "Two-step sign-in is on")
	tab.submit(`header form[action="/logout"] button`)
	tab.open("/login")
	tab.signIn("lin", "correct horse battery", false)
	tab.wantAt("/login/2fa")
	tab.shot("passkey-second-step")
	tab.usePasskey(`button[data-passkey="login"]`)
	tab.wantAt("/")
	tab.wantText("h1", "Welcome, lin")

	// An old sign-in: removing the passkey asks to confirm, which the
	// passkey does, and comes back.
	clock.Advance(auth.DefaultReauthWindow + time.Minute)
	tab.open("/account/passkeys")
	tab.submit(`main form[action$="/remove"] button[type=submit]`)
	tab.wantAt("/reauth?returnTo=")
	tab.shot("passkey-reauth")
	tab.usePasskey(`button[data-passkey="login"]`)
	tab.wantAt("/account/passkeys?reauthed=1")
	tab.wantText("#passkey-0 + dl dd:nth-of-type(2)", "just now")
	tab.submit(`main form[action$="/remove"] button[type=submit]`)
	tab.wantAt("/account/passkeys?removed=1")
	tab.wantText("main", "You have no passkey yet")
}

// Passkeys' relying party comes from BASE_URL: its host name, or
// PASSKEY_RP_ID; localhost for a loopback IP address; off for another IP
// address, over http on a name other than localhost, and with
// PASSKEYS=false.
func TestPasskeyConfig(t *testing.T) {
	cases := []struct {
		env                  map[string]string
		rpID, origin, offFor string
	}{
		{nil, "localhost", "http://localhost:8080", ""},
		{map[string]string{"BASE_URL": "http://[::1]:9000"}, "localhost", "http://localhost:9000", ""},
		{map[string]string{"BASE_URL": "http://localhost:8080/"}, "localhost", "http://localhost:8080", ""},
		{map[string]string{"BASE_URL": "https://App.Example.org:443/shop"}, "app.example.org", "https://app.example.org", ""},
		{map[string]string{"BASE_URL": "https://app.example.org:8443", "PASSKEY_RP_ID": "example.org"}, "example.org", "https://app.example.org:8443", ""},
		{map[string]string{"BASE_URL": "https://192.0.2.7"}, "", "", "IP address"},
		{map[string]string{"BASE_URL": "http://shop.localhost:8080"}, "", "", "https"},
		{map[string]string{"PASSKEYS": "false"}, "", "", "PASSKEYS"},
	}
	for _, tc := range cases {
		c, err := loadConfig(func(k string) string { return tc.env[k] })
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if c.passkeyRPID != tc.rpID || c.passkeyOrigin != tc.origin || !strings.Contains(c.passkeysOff, tc.offFor) || (tc.offFor == "") != (c.passkeysOff == "") {
			t.Errorf("%v: RP ID %q, origin %q, off %q; want %q, %q, off for %q", tc.env, c.passkeyRPID, c.passkeyOrigin, c.passkeysOff, tc.rpID, tc.origin, tc.offFor)
		}
	}
	if _, err := loadConfig(func(k string) string { return map[string]string{"PASSKEYS": "maybe"}[k] }); err == nil {
		t.Error("PASSKEYS=maybe is accepted")
	}
	// A PASSKEY_RP_ID that browsers would refuse at BASE_URL stops the app.
	c, err := loadConfig(func(k string) string {
		return map[string]string{"BASE_URL": "https://app.example.org", "PASSKEY_RP_ID": "example.com",
			"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": "memory"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := newApp(c, io.Discard); err == nil || !strings.Contains(err.Error(), "PASSKEY_RP_ID") {
		if a != nil {
			a.close()
		}
		t.Errorf("PASSKEY_RP_ID example.com for https://app.example.org: %v", err)
	}
}

// Opened at 127.0.0.1, the default BASE_URL's host, the pages offer no
// passkey button (no browser would use it there) but say where passkeys
// work: the same server at http://localhost:PORT.
func TestPasskeyPagesAtLoopbackIP(t *testing.T) {
	_, srv, _ := testApp(t, map[string]string{"BASE_URL": "http://127.0.0.1:8080"})
	b := newBrowser(t, srv)
	page, _ := b.get("/login")
	if !strings.Contains(page, `Passkeys work when this site is opened at <a href="http://localhost:8080/login">`) ||
		strings.Contains(page, "<script") || strings.Contains(page, "data-passkey=") {
		t.Errorf("the sign-in page at 127.0.0.1:\n%s", page)
	}
	b.post("/register", url.Values{"username": {"pia"}, "password": {"pia's password"}})
	if page, _ := b.get("/account"); !strings.Contains(page, `<a href="/account/passkeys">Add a passkey</a>`) {
		t.Errorf("the account page links to no passkey page:\n%s", page)
	}
	if page, at := b.get("/account/passkeys"); at != "/account/passkeys" || !strings.Contains(page, "You have no passkey yet") ||
		!strings.Contains(page, "http://localhost:8080/account/passkeys") || strings.Contains(page, "<script") {
		t.Errorf("the passkeys page (at %s):\n%s", at, page)
	}
}
