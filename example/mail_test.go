package main

import (
	"context"
	"html"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/testenv"
)

// SMTP_URL, MAIL_FROM and BASE_URL: the defaults of local development (mail
// to the log, links to ADDR), and what is refused, with a message that
// names the variable and never repeats SMTP_URL's password.
func TestConfigMail(t *testing.T) {
	load := func(env map[string]string) (config, error) {
		return loadConfig(func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || c.smtpURL != "" || c.mailFrom != defaultMailFrom || c.baseURL != "http://127.0.0.1:8080" {
		t.Errorf("nothing set: %q %q %q, %v; want the log, %q and http://127.0.0.1:8080", c.smtpURL, c.mailFrom, c.baseURL, err, defaultMailFrom)
	}
	for addr, want := range map[string]string{
		"0.0.0.0:8080":   "http://localhost:8080",
		":9000":          "http://localhost:9000",
		"[::]:8080":      "http://localhost:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"localhost:3000": "http://localhost:3000",
	} {
		if c, err := load(map[string]string{"ADDR": addr}); err != nil || c.baseURL != want {
			t.Errorf("ADDR=%s: BASE_URL %q, %v; want %s", addr, c.baseURL, err, want)
		}
	}
	good := map[string]string{
		"COOKIE_SECURE": "true",
		"SMTP_URL":      "smtps://mailer:hunter2@mail.example",
		"MAIL_FROM":     "Shop <no-reply@shop.example>",
		"BASE_URL":      "https://shop.example/app/",

		"SECOND_FACTOR_KEY": "second-factor-key-0123456789abcdef0123",
	}
	c, err = load(good)
	if err != nil || c.baseURL != "https://shop.example/app" || c.mailFrom != good["MAIL_FROM"] || c.smtpURL != good["SMTP_URL"] {
		t.Errorf("behind HTTPS with a mail server: %+v, %v", c, err)
	}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // a part of the error
	}{
		{"COOKIE_SECURE without SMTP_URL", with("SMTP_URL", "", "BASE_URL", "https://shop.example"), "COOKIE_SECURE is true but SMTP_URL is not set"},
		{"COOKIE_SECURE without BASE_URL", with("BASE_URL", ""), "set BASE_URL to its https:// address"},
		{"COOKIE_SECURE with an http BASE_URL", with("BASE_URL", "http://shop.example"), "set BASE_URL to its https:// address"},
		{"an SMTP_URL of another scheme", with("SMTP_URL", "http://mailer:hunter2@mail.example"), "SMTP_URL"},
		{"an SMTP_URL without a host", with("SMTP_URL", "smtp://mailer:hunter2@"), "SMTP_URL"},
		{"an SMTP_URL that does not parse", with("SMTP_URL", "smtp://mailer:hunter2"), "SMTP_URL"},
		{"an SMTP_URL with a path", with("SMTP_URL", "smtp://mailer:hunter2@mail.example/x"), "SMTP_URL"},
		{"a MAIL_FROM of two addresses", with("MAIL_FROM", "a@x.example, b@x.example"), "MAIL_FROM"},
		{"a MAIL_FROM that is no address, mail to the log", map[string]string{"MAIL_FROM": "nobody"}, "MAIL_FROM"},
		{"a relative BASE_URL", map[string]string{"BASE_URL": "/app"}, "BASE_URL"},
		{"a BASE_URL of another scheme", map[string]string{"BASE_URL": "ftp://shop.example"}, "BASE_URL"},
		{"a BASE_URL with a query", map[string]string{"BASE_URL": "http://localhost:8080/?a=b"}, "BASE_URL"},
		{"a BASE_URL with a fragment", map[string]string{"BASE_URL": "http://localhost:8080/#top"}, "BASE_URL"},
		{"a BASE_URL with a user", map[string]string{"BASE_URL": "https://me:pw@shop.example"}, "BASE_URL"},
		{"a BASE_URL over plain HTTP to another host", map[string]string{"BASE_URL": "http://shop.example"}, "plain HTTP"},
		{"a BASE_URL with no host", map[string]string{"BASE_URL": "https://"}, "BASE_URL"},
	} {
		_, err := load(tc.env)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tc.name)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v; want it to say %q", tc.name, err, tc.want)
		case strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%s: the error quotes the password: %v", tc.name, err)
		}
	}
}

// linkIn waits for the next mail to `to` whose text has a link to the
// page at path of base (the mails of other kinds on the way, notices, are
// skipped), and returns the link's path and query, for a browser of the
// test's server.
func linkIn(t *testing.T, smtp *testenv.SMTPServer, to, base, path string) string {
	t.Helper()
	prefix := base + path + "?token="
	for range 5 {
		m := smtp.Next(t)
		i := strings.Index(m.Text, prefix)
		if i < 0 || len(m.To) != 1 || m.To[0] != to {
			continue
		}
		token := m.Text[i+len(prefix):]
		if j := strings.IndexAny(token, " \r\n"); j >= 0 {
			token = token[:j]
		}
		if !strings.Contains(m.HTML, prefix+token) {
			t.Errorf("the HTML part of %q lacks its link", m.Subject)
		}
		return path + "?token=" + token
	}
	t.Fatalf("no mail to %s with a link to %s", to, prefix)
	return ""
}

// The pages of account recovery, driven as a browser without JavaScript
// would, with mail delivered by a real SMTP server: an address added on
// the account page and verified from its link, a forgotten password reset
// from the mailed link (pages opened twice, as mail scanners do, consume
// nothing), the new password signing in and the old one not, the used link
// refused, and the new sign-in's notice ending that session.
func TestRecoveryPages(t *testing.T) {
	smtp := testenv.StartSMTPServer(t)
	a, srv, _ := testApp(t, map[string]string{"SMTP_URL": smtp.URL()})
	base := a.cfg.baseURL
	one := newBrowser(t, srv)
	if page, at := one.post("/register", url.Values{"username": {"uma"}, "password": {"uma's password"}}); at != "/" {
		t.Fatalf("registering: at %s: %s", at, page)
	}
	page, _ := one.get("/account")
	if !strings.Contains(page, `<dt>Address</dt><dd><span class="muted">none</span>`) || !strings.Contains(page, `action="/email"`) {
		t.Fatalf("the account page of a user without an address: %s", page)
	}
	// An address, verified from the mailed link.
	for email, want := range map[string]string{"not an address": "Enter an email address"} {
		if page, at := one.post("/email", url.Values{"email": {email}, "returnTo": {"/account"}}); !strings.HasPrefix(at, "/account?") || !strings.Contains(page, want) {
			t.Errorf("changing the address to %q: at %s, page lacks %q", email, at, want)
		}
	}
	page, at := one.post("/email", url.Values{"email": {"Uma@Example.org"}, "returnTo": {"/account"}})
	if at != "/account?emailSent=1" || !strings.Contains(page, "We mailed a link to the new address") {
		t.Fatalf("after asking to change the address: at %s", at)
	}
	link := linkIn(t, smtp, "uma@example.org", base, "/email/verify")
	for range 2 {
		if page, _ = one.get(link); !strings.Contains(page, `action="/email/verify"`) || !strings.Contains(page, ">Verify my address<") {
			t.Fatalf("the verify page: %s", page)
		}
	}
	page, at = one.post("/email/verify", formOf(page))
	if at != "/account?emailVerified=1" || !strings.Contains(page, "uma@example.org <strong>verified</strong>") {
		t.Fatalf("after verifying: at %s: %s", at, page)
	}

	// Registering with an address mails it a link; a taken or malformed
	// one is refused at its field.
	for email, want := range map[string]string{"uma@example.org": "That email address belongs to another account", "nope": "Enter an email address"} {
		page, at := newBrowser(t, srv).post("/register", url.Values{"username": {"someone"}, "password": {"a long enough password"}, "email": {email}})
		if !strings.HasPrefix(at, "/register?error=") || !strings.Contains(page, want) || !strings.Contains(page, `aria-describedby="email-help email-error" aria-invalid="true"`) {
			t.Errorf("registering with %s: at %s, page lacks %q", email, at, want)
		}
	}
	if _, at := newBrowser(t, srv).post("/register", url.Values{"username": {"vic"}, "password": {"vic's password"}, "email": {"vic@example.org"}}); at != "/" {
		t.Fatalf("registering with an address: at %s", at)
	}
	vic := linkIn(t, smtp, "vic@example.org", base, "/email/verify")
	if page, _ = newBrowser(t, srv).get(vic); !strings.Contains(page, ">Verify my address<") {
		t.Errorf("the link mailed at registration: %s", page)
	}

	// A forgotten password, from the sign-in page.
	two := newBrowser(t, srv)
	if page, _ = two.get("/login"); !strings.Contains(page, `href="/password/forgot"`) {
		t.Error("the sign-in page has no link to the forgot page")
	}
	if page, _ = two.get("/password/forgot"); !strings.Contains(page, `action="/password/forgot"`) {
		t.Fatalf("the forgot page: %s", page)
	}
	if page, at = two.post("/password/forgot", url.Values{"email": {"nope"}}); !strings.Contains(page, "Enter an email address") {
		t.Errorf("a malformed address: at %s", at)
	}
	for _, email := range []string{"nobody@example.org", "UMA@example.org"} { // one body whether or not it is an account's
		if page, at = two.post("/password/forgot", url.Values{"email": {email}}); at != "/password/forgot?sent=1" || !strings.Contains(page, "Check your mail") {
			t.Fatalf("asking for a link for %s: at %s", email, at)
		}
	}
	link = linkIn(t, smtp, "uma@example.org", base, "/password/reset")
	for range 2 {
		if page, _ = two.get(link); !strings.Contains(page, `action="/password/reset"`) {
			t.Fatalf("the reset page: %s", page)
		}
	}
	form := formOf(page)
	form.Set("newPassword", "short")
	if page, at = two.post("/password/reset", form); !strings.HasPrefix(at, "/password/reset?") || !strings.Contains(page, "Use at least 8 characters") || !strings.Contains(page, `name="token"`) {
		t.Fatalf("a short new password: at %s: %s", at, page)
	}
	form.Set("newPassword", "uma's new password")
	if page, at = two.post("/password/reset", form); !strings.HasPrefix(at, "/login?") || !strings.Contains(page, "Your new password is set, and 1 session was signed out") {
		t.Fatalf("after the reset: at %s: %s", at, page)
	}
	if _, at = one.get("/account"); !strings.HasPrefix(at, "/login") {
		t.Errorf("the first browser after the reset: at %s", at)
	}
	if page, at = two.post("/password/reset", form); !strings.Contains(page, "That link has expired or was used already") || strings.Contains(page, `name="token"`) {
		t.Errorf("the used link again: at %s: %s", at, page)
	}
	if page, _ = two.post("/login", url.Values{"username": {"uma"}, "password": {"uma's password"}}); !strings.Contains(page, "do not match") {
		t.Error("the old password still signs in")
	}
	if _, at = two.post("/login", url.Values{"username": {"uma"}, "password": {"uma's new password"}}); at != "/" {
		t.Fatalf("signing in with the new password: at %s", at)
	}

	// The new sign-in's notice ends that session, from another browser.
	link = linkIn(t, smtp, "uma@example.org", base, "/sessions/end")
	three := newBrowser(t, srv)
	if page, _ = three.get(link); !strings.Contains(page, `action="/sessions/end"`) {
		t.Fatalf("the end-session page: %s", page)
	}
	if page, at = three.post("/sessions/end", formOf(page)); !strings.HasPrefix(at, "/login?") || !strings.Contains(page, "That session is signed out") {
		t.Fatalf("after ending the session: at %s: %s", at, page)
	}
	if _, at = two.get("/account"); !strings.HasPrefix(at, "/login") {
		t.Errorf("the ended session: at %s", at)
	}
	// A page without a token, or with one that is no token, has no form.
	for _, path := range []string{"/password/reset", "/email/verify?token=x", "/sessions/end?token=%22%3E%3Cscript%3E"} {
		if page, _ = three.get(path); strings.Contains(page, `name="token"`) || !strings.Contains(page, "This page needs the link") {
			t.Errorf("%s: %s", path, page)
		}
	}
}

// formOf returns the hidden fields of the first form of page.
func formOf(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// With no SMTP_URL the server says, at start, that mail goes to the log,
// and a mail does: a developer follows its link from there.
func TestMailToLog(t *testing.T) {
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": "memory"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	a, err := newApp(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if !strings.Contains(logs.String(), "SMTP_URL is not set: mails (password reset and verification links) go to this log") {
		t.Errorf("no warning that mail goes to the log: %s", logs)
	}
	// An operator's address change mails its link at once (Register's
	// goes from the background, which deliverMail does not wait for).
	u, err := a.auth.Register(context.Background(), auth.NewUser{Username: "uma", Password: "uma's password"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.auth.ChangeEmail(context.Background(), u.AuthID(), "uma@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := a.deliverMail(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "http://127.0.0.1:8080/email/verify?token=") {
		t.Errorf("the verification link is not in the log: %s", logs)
	}
}

// Changing the address asks for the password again once the last sign-in
// is older than auth.DefaultReauthWindow; the re-authentication page
// brings the browser back.
func TestReauthPage(t *testing.T) {
	smtp := testenv.StartSMTPServer(t)
	_, srv, clock := testApp(t, map[string]string{"SMTP_URL": smtp.URL()})
	b := newBrowser(t, srv)
	if _, at := b.post("/register", url.Values{"username": {"wyn"}, "password": {"wyn's password"}}); at != "/" {
		t.Fatalf("registering: at %s", at)
	}
	clock.Advance(20 * time.Minute)
	page, at := b.post("/email", url.Values{"email": {"wyn@example.org"}, "returnTo": {"/account"}})
	if at != "/reauth" || !strings.Contains(page, `action="/reauth"`) || !strings.Contains(page, "Confirm it is you") {
		t.Fatalf("a stale session changing its address: at %s: %s", at, page)
	}
	page, at = b.post("/reauth", url.Values{"password": {"not wyn's"}, "returnTo": {"/account"}})
	if !strings.HasPrefix(at, "/reauth?") || !strings.Contains(page, "That is not your password") {
		t.Fatalf("a wrong password: at %s: %s", at, page)
	}
	if _, at = b.post("/reauth", url.Values{"password": {"wyn's password"}, "returnTo": {"/account"}}); at != "/account" {
		t.Fatalf("after confirming: at %s", at)
	}
	if _, at = b.post("/email", url.Values{"email": {"wyn@example.org"}, "returnTo": {"/account"}}); at != "/account?emailSent=1" {
		t.Fatalf("changing the address after confirming: at %s", at)
	}
	if m := smtp.Next(t); m.To[0] != "wyn@example.org" {
		t.Errorf("mail to %v", m.To)
	}
}
