package main

import (
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/ginauth/ginauth/internal/fakeclock"
)

// SECOND_FACTOR_KEY: keys newest first, each 32 bytes or more; unset, a
// random key for development, refused behind HTTPS; a short key is refused
// without being repeated.
func TestConfigSecondFactorKey(t *testing.T) {
	load := func(env map[string]string) (config, error) {
		return loadConfig(func(k string) string { return env[k] })
	}
	c, err := load(map[string]string{"SECOND_FACTOR_KEY": "new-factor-key-0123456789abcdef0123, old-factor-key-0123456789abcdef0123"})
	if err != nil || len(c.factorKeys) != 2 || c.randomFactorKey || string(c.factorKeys[0]) != "new-factor-key-0123456789abcdef0123" {
		t.Errorf("two keys: %d keys (random %v), %v", len(c.factorKeys), c.randomFactorKey, err)
	}
	if c, err = load(nil); err != nil || !c.randomFactorKey || len(c.factorKeys) != 1 || len(c.factorKeys[0]) < minFactorKey {
		t.Errorf("unset: %d keys (random %v), %v", len(c.factorKeys), c.randomFactorKey, err)
	}
	if _, err := load(map[string]string{"SECOND_FACTOR_KEY": "good-factor-key-0123456789abcdef0123,tooshort"}); err == nil ||
		!strings.Contains(err.Error(), "SECOND_FACTOR_KEY: key 2 is 8 bytes") || strings.Contains(err.Error(), "tooshort") {
		t.Errorf("a short key: %v", err)
	}
	secure := map[string]string{"COOKIE_SECURE": "true", "SMTP_URL": "smtp://mail.example", "BASE_URL": "https://shop.example"}
	if _, err := load(secure); err == nil || !strings.Contains(err.Error(), "SECOND_FACTOR_KEY is not set") {
		t.Errorf("COOKIE_SECURE without SECOND_FACTOR_KEY: %v", err)
	}
}

// code is the TOTP code of secret at the clock's time.
func code(t *testing.T, secret string, clock *fakeclock.Clock) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	secretRE   = regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`)
	recoveryRE = regexp.MustCompile(`<li><code>([a-z2-7-]+)</code></li>`)
)

// enrol turns on two-step sign-in from the account pages of b, signed in
// and recently authenticated, and returns the app's secret and the
// recovery codes shown.
func enrol(t *testing.T, b *browser, clock *fakeclock.Clock) (string, []string) {
	t.Helper()
	page, at := b.post("/account/2fa/setup", nil)
	m := secretRE.FindStringSubmatch(page)
	if at != "/account/2fa/setup" || m == nil || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatalf("setting up, at %s: %s", at, page)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	right := code(t, secret, clock)
	wrong := string(rune('0'+(right[0]-'0'+5)%10)) + right[1:]
	if page, _ = b.post("/account/2fa/confirm", url.Values{"code": {wrong}}); !strings.Contains(page, "That code is not right") ||
		!strings.Contains(page, `id="code-error"`) {
		t.Fatalf("a wrong first code: %s", page)
	}
	page, _ = b.post("/account/2fa/confirm", url.Values{"code": {right}})
	var codes []string
	for _, m := range recoveryRE.FindAllStringSubmatch(page, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 || !strings.Contains(page, "Two-step sign-in is on") {
		t.Fatalf("after confirming, %d recovery codes: %s", len(codes), page)
	}
	return secret, codes
}

// Two-step sign-in through the pages, as a browser without JavaScript:
// enrolment (a wrong code, then a right one; the other session ends),
// sign-in with the password then a code from the app (a wrong one, a
// replayed one), with a recovery code (once only), new recovery codes
// after a password re-auth, and removal, which asks for a code re-auth.
func TestSecondFactorPages(t *testing.T) {
	_, srv, clock := testApp(t, nil)
	b, other := newBrowser(t, srv), newBrowser(t, srv)
	const pw = "tia's long password"
	b.post("/register", url.Values{"username": {"tia"}, "password": {pw}})
	other.post("/login", url.Values{"username": {"tia"}, "password": {pw}})
	if page, _ := b.get("/account"); !strings.Contains(page, "Two-step sign-in") || !strings.Contains(page, "<strong>off</strong>") {
		t.Fatalf("the account page before: %s", page)
	}
	secret, codes := enrol(t, b, clock)
	if _, at := other.get("/account"); !strings.HasPrefix(at, "/login") {
		t.Errorf("the other session after the enrolment: at %s", at)
	}
	if page, _ := b.get("/account"); !strings.Contains(page, "<strong>on</strong>") || !strings.Contains(page, "10 left") {
		t.Errorf("the account page after: %s", page)
	}
	if page, at := b.post("/account/2fa/setup", nil); !strings.Contains(at, "error=second_factor_enabled") || !strings.Contains(page, "on already") {
		t.Errorf("a second enrolment: at %s", at)
	}

	// The password leads to the second step, which grants nothing yet.
	signIn := func(b *browser) {
		t.Helper()
		page, at := b.post("/login", url.Values{"username": {"tia"}, "password": {pw}, "returnTo": {"/account"}})
		if at != "/login/2fa?returnTo=%2Faccount" || !strings.Contains(page, `action="/login/2fa"`) ||
			!strings.Contains(page, `name="recoveryCode"`) || !strings.Contains(page, `value="/account"`) {
			t.Fatalf("after the password, at %s: %s", at, page)
		}
	}
	b.post("/logout", nil)
	signIn(b)
	if _, at := b.get("/account"); !strings.HasPrefix(at, "/login?") {
		t.Fatalf("the account page between the steps: at %s", at)
	}
	signIn(b)
	used := code(t, secret, clock) // the step of the enrolment
	if page, at := b.post("/login/2fa", url.Values{"code": {used}, "returnTo": {"/account"}}); !strings.HasPrefix(at, "/login/2fa?") ||
		!strings.Contains(page, "That code is not right, or was used already") {
		t.Errorf("the enrolment's code again, at %s", at)
	}
	clock.Advance(30 * time.Second)
	if page, at := b.post("/login/2fa", url.Values{"code": {code(t, secret, clock)}, "returnTo": {"/account"}}); at != "/account" ||
		!strings.Contains(page, "Signed in as tia") {
		t.Fatalf("the next code: at %s", at)
	}

	// A recovery code signs in once.
	b.post("/logout", nil)
	signIn(b)
	if page, at := b.post("/login/2fa", url.Values{"recoveryCode": {strings.ToUpper(codes[0])}, "returnTo": {"/account"}}); at != "/account" ||
		!strings.Contains(page, "9 left") {
		t.Fatalf("a recovery code: at %s: %s", at, page)
	}
	third := newBrowser(t, srv)
	signIn(third)
	if _, at := third.post("/login/2fa", url.Values{"recoveryCode": {codes[0]}}); !strings.Contains(at, "error=invalid_code") {
		t.Errorf("a used recovery code: at %s", at)
	}

	// Past the re-auth window: new codes after the password...
	clock.Advance(16 * time.Minute)
	if page, at := b.post("/account/2fa/recovery-codes", nil); !strings.HasPrefix(at, "/reauth") || !strings.Contains(page, `name="password"`) ||
		!strings.Contains(page, `name="code"`) {
		t.Fatalf("new codes, past the window: at %s: %s", at, page)
	}
	b.post("/reauth", url.Values{"password": {pw}, "returnTo": {"/account/2fa"}})
	page, _ := b.post("/account/2fa/recovery-codes", nil)
	if n := len(recoveryRE.FindAllString(page, -1)); n != 10 || strings.Contains(page, codes[1]) {
		t.Fatalf("new recovery codes: %d shown", n)
	}
	// ... but removal only after a code.
	page, at := b.post("/account/2fa/remove", nil)
	if !strings.HasPrefix(at, "/reauth?") || !strings.Contains(page, "your password alone is not enough") || strings.Contains(page, `name="password"`) {
		t.Fatalf("removing after a password re-auth: at %s: %s", at, page)
	}
	ret := html.UnescapeString(regexp.MustCompile(`name="returnTo" value="([^"]+)"`).FindStringSubmatch(page)[1])
	if page, at = b.post("/reauth", url.Values{"code": {"000000"}, "returnTo": {ret}}); !strings.Contains(page, "That code is not right") {
		t.Errorf("a wrong re-auth code: at %s", at)
	}
	if page, at = b.post("/reauth", url.Values{"code": {code(t, secret, clock)}, "returnTo": {ret}}); at != "/account/2fa?reauthed=1" ||
		!strings.Contains(page, "You can turn two-step sign-in off now") {
		t.Fatalf("after the code re-auth: at %s: %s", at, page)
	}
	if page, at = b.post("/account/2fa/remove", nil); at != "/account/2fa?removed=1" || !strings.Contains(page, "Two-step sign-in is off") {
		t.Fatalf("removing: at %s: %s", at, page)
	}
	b.post("/logout", nil)
	if _, at = b.post("/login", url.Values{"username": {"tia"}, "password": {pw}, "returnTo": {"/account"}}); at != "/account" {
		t.Errorf("signing in after the removal: at %s", at)
	}
}

// users 2fa-reset removes a user's authenticator app and recovery codes
// and ends their sessions, for support, and is in the audit trail with
// its operator; the user then signs in with the password alone.
func TestSecondFactorAdminReset(t *testing.T) {
	dir := t.TempDir()
	trail := filepath.Join(dir, "audit.log")
	env := map[string]string{"DATABASE_URL": filepath.Join(dir, "x.db"), "SESSION_STORE": "gorm", "AUDIT_LOG": trail,
		"LOG_FORMAT": "json", "SESSION_SECRET": "example-2fa-secret-0123456789abcdef",
		"SECOND_FACTOR_KEY": "example-2fa-factor-key-0123456789abcdef"}
	_, srv, clock := testApp(t, env)
	b := newBrowser(t, srv)
	const pw = "ray's long password"
	b.post("/register", url.Values{"username": {"ray"}, "password": {pw}})
	enrol(t, b, clock)

	if r := runAdmin(t, env, "", "--json", "users", "2fa-reset", "ray", "--operator", "sam"); r.code != exitOK {
		t.Fatalf("users 2fa-reset: %+v", r)
	} else {
		var doc twoFactorResetJSON
		decodeJSON(t, r.stdout, &doc)
		if doc.Username != "ray" || !doc.HadSecondFactor || doc.RevokedSessions != 1 {
			t.Errorf("users 2fa-reset: %+v", doc)
		}
	}
	if _, at := b.get("/account"); !strings.HasPrefix(at, "/login") {
		t.Errorf("the user's session after the reset: at %s", at)
	}
	if page, at := b.post("/login", url.Values{"username": {"ray"}, "password": {pw}, "returnTo": {"/account"}}); at != "/account" ||
		!strings.Contains(page, "<strong>off</strong>") {
		t.Errorf("signing in after the reset: at %s", at)
	}
	if r := runAdmin(t, env, "", "users", "2fa-reset", "ray"); r.code != exitOK || !strings.Contains(r.stdout, "had no authenticator app on") {
		t.Errorf("users 2fa-reset again: %+v", r)
	}
	if r := runAdmin(t, env, "", "users", "2fa-reset", "nobody"); r.code != exitNotFound {
		t.Errorf("users 2fa-reset nobody: %+v", r)
	}
	text, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range auditRecords(t, string(text)) {
		if rec["command"] == "users 2fa-reset" {
			got = append(got, rec["operator"].(string)+" "+rec["username"].(string)+" "+rec["result"].(string))
		}
	}
	if len(got) != 3 || got[0] != "sam ray ok" || !strings.HasSuffix(got[2], " nobody not_found") {
		t.Errorf("the audit trail's users 2fa-reset records: %q\n%s", got, text)
	}
}
