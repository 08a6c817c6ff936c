package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/testenv"
)

// Two-step sign-in in a real browser: set up an authenticator app from the
// account page (the QR code is shown: the Content-Security-Policy lets its
// data: image in), confirm it with a code computed from the secret at the
// app's clock, see the recovery codes, sign out, and sign in with the
// password and then a code. No page's resource or form is refused by the
// Content-Security-Policy.
func TestBrowserSecondFactor(t *testing.T) {
	testenv.SkipIfShort(t, "starts Chromium")
	chromium(t)
	_, srv, clock := testApp(t, nil)
	shots := artifacts(t)
	browser := startChromium(t)
	tab := newTab(t, browser, srv.URL, "browser", shots, false)
	var refused cspReports
	refused.watch(t, tab.ctx)
	defer func() {
		for _, r := range refused.all() {
			t.Errorf("the browser refused what a page asked for: %s", r)
		}
	}()

	tab.open("/register")
	tab.fill(map[string]string{"#username": "Grace", "#password": "correct horse battery"})
	tab.submit(`main form[action="/register"] button[type=submit]`)
	tab.wantAt("/")

	tab.open("/account")
	tab.wantText("#twostep + dl", "off")
	tab.submit(`main a[href="/account/2fa"]`)
	tab.wantAt("/account/2fa")
	tab.submit(`main form[action="/account/2fa/setup"] button[type=submit]`)
	tab.wantAt("/account/2fa/setup")
	if w := tab.eval(`String(document.querySelector("img.qr").naturalWidth)`); w == "0" {
		t.Fatalf("the QR code did not load (naturalWidth %s)", w)
	}
	tab.shot("2fa-setup")
	secret := strings.ReplaceAll(tab.text("code.secret"), " ", "")
	tab.fill(map[string]string{"#code": code(t, secret, clock)})
	tab.submit(`main form[action="/account/2fa/confirm"] button[type=submit]`)
	tab.wantText("main", "Two-step sign-in is on")
	if n := tab.eval(`String(document.querySelectorAll("ol.codes li").length)`); n != "10" {
		t.Fatalf("%s recovery codes shown, want 10", n)
	}
	tab.shot("2fa-recovery-codes")
	tab.submit(`main a[href="/account/2fa"]`)
	tab.wantText("main", "10 left")
	tab.submit(`header form[action="/logout"] button`)

	tab.open("/login?returnTo=%2Faccount")
	tab.signIn("grace", "correct horse battery", false)
	tab.wantAt("/login/2fa?returnTo=%2Faccount")
	tab.shot("2fa-login")
	clock.Advance(30 * time.Second) // the enrolment's time step is used
	tab.fill(map[string]string{"#code": code(t, secret, clock)})
	tab.submit(`main form[action="/login/2fa"] button[type=submit]`)
	tab.wantAt("/account")
	tab.wantText("#twostep + dl", "on")
}
