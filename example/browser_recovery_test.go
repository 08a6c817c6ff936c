package main

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ginauth/ginauth/internal/testenv"
)

// Account recovery in a real browser, with mail delivered by a real SMTP
// server: an address added on the account page and verified from its
// mailed link, then a forgotten password: the sign-in page's link, the
// forgot page, the mailed link, a new password, and signing in with it.
// No page's resource or form is refused by the Content-Security-Policy.
func TestBrowserRecovery(t *testing.T) {
	testenv.SkipIfShort(t, "starts Chromium")
	chromium(t)
	smtp := testenv.StartSMTPServer(t)
	a, srv, _ := testApp(t, map[string]string{"SESSION_STORE": "gorm", "SMTP_URL": smtp.URL()})
	base := a.cfg.baseURL
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
	tab.fill(map[string]string{"#username": "Ada", "#password": "correct horse battery"})
	tab.submit(`main form[action="/register"] button[type=submit]`)
	tab.wantAt("/")

	// An address, verified from the mailed link.
	tab.open("/account")
	tab.wantText("#mail + dl", "none")
	tab.fill(map[string]string{"#email": "ada@example.org"})
	tab.submit(`main form[action="/email"] button[type=submit]`)
	tab.wantAt("/account?emailSent=1")
	tab.wantText("main", "We mailed a link to the new address")
	tab.open(linkIn(t, smtp, "ada@example.org", base, "/email/verify"))
	tab.shot("verify")
	tab.submit(`main form[action="/email/verify"] button[type=submit]`)
	tab.wantAt("/account?emailVerified=1")
	tab.wantText("#mail + dl", "ada@example.org verified")
	tab.shot("account-email")
	tab.submit(`header form[action="/logout"] button`)

	// A forgotten password.
	tab.open("/login")
	tab.run(chromedp.Click(chromedp.CSS(`main a[href="/password/forgot"]`), chromedp.NodeVisible))
	tab.run(chromedp.WaitVisible(chromedp.CSS("#email")))
	tab.wantAt("/password/forgot")
	tab.shot("forgot")
	tab.fill(map[string]string{"#email": "ada@example.org"})
	tab.submit(`main form[action="/password/forgot"] button[type=submit]`)
	tab.wantAt("/password/forgot?sent=1")
	tab.wantText("main", "Check your mail")
	tab.open(linkIn(t, smtp, "ada@example.org", base, "/password/reset"))
	tab.shot("reset")
	tab.fill(map[string]string{"#newPassword": "staple battery horse correct"})
	tab.submit(`main form[action="/password/reset"] button[type=submit]`)
	tab.wantAt("/login?")
	tab.wantText("main", "Your new password is set")
	if at := tab.signIn("ada", "staple battery horse correct", false); at != "/" {
		t.Fatalf("signing in with the new password: at %s", at)
	}
	tab.wantText("h1", "Welcome, ada")
}
