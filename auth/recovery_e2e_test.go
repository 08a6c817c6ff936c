package auth_test

// Recovery by mail, end to end: a real SMTP server in process, the routes
// over HTTP, users and tokens in a real database.

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/mail/smtpmail"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"gorm.io/gorm"
)

const baseURL = "http://127.0.0.1:8080/app"

// withMail sends the app's account mail to srv, through a queue that
// retries at once; change adjusts the recovery configuration.
func withMail(t *testing.T, srv *testenv.SMTPServer, change ...func(*auth.Recovery)) apptest.Option {
	s, err := smtpmail.New(smtpmail.Options{URL: srv.URL(), From: "app@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	q := mail.NewQueue(s, mail.QueueOptions{Backoff: time.Millisecond, MaxBackoff: time.Millisecond})
	t.Cleanup(func() { _ = q.Close(context.Background()) })
	return func(c *apptest.Config) {
		c.Auth.Recovery = auth.Recovery{Mail: q, BaseURL: baseURL}
		for _, f := range change {
			f(&c.Auth.Recovery)
		}
	}
}

// mailApp is an application with mail on SQLite, and its SMTP server.
func mailApp(t *testing.T, change ...func(*auth.Recovery)) (*apptest.App, *testenv.SMTPServer) {
	srv := testenv.StartSMTPServer(t)
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	a := apptest.NewApp(t, store, db, clock, withMail(t, srv, change...))
	t.Cleanup(func() { _ = a.Auth.Close() })
	return a, srv
}

// giveEmail sets the user's address, verified or not, behind the service's
// back (as an application's own signup would).
func giveEmail(t *testing.T, a *apptest.App, name, email string, verified bool) string {
	t.Helper()
	id := a.UserID(t, name)
	ctx := context.Background()
	if err := a.Users.SetEmail(ctx, id, email); err != nil {
		t.Fatal(err)
	}
	if verified {
		if err := a.Users.MarkEmailVerified(ctx, id, email); err != nil {
			t.Fatal(err)
		}
	}
	a.Auth.InvalidateUser(id)
	return id
}

var tokenInLink = regexp.MustCompile(`\?token=([A-Za-z0-9_-]{43})\b`)

// linkToken returns the token of the mail's link to path, failing the test
// when the mail has none.
func linkToken(t *testing.T, m *testenv.DeliveredMail, path string) string {
	t.Helper()
	i := strings.Index(m.Text, baseURL+path+"?token=")
	if i < 0 {
		t.Fatalf("mail %q has no link to %s: %s", m.Subject, path, m.Text)
	}
	tok := tokenInLink.FindStringSubmatch(m.Text[i:])
	if tok == nil {
		t.Fatalf("mail %q: malformed link: %s", m.Subject, m.Text[i:])
	}
	if !strings.Contains(m.HTML, baseURL+path+"?token="+tok[1]) {
		t.Errorf("mail %q: the HTML part has not the link of the text", m.Subject)
	}
	return tok[1]
}

func TestPasswordReset(t *testing.T) {
	a, srv := mailApp(t)
	owner := a.Client(t)
	owner.Register("rita", "rita's first password")
	giveEmail(t, a, "rita", "rita@example.org", false)
	other := a.Client(t)
	other.Login("rita", "rita's first password")

	anon := a.Client(t)
	r := anon.Do("POST", "/password/forgot", map[string]any{"email": " Rita@Example.org "})
	anon.Want(r, http.StatusAccepted, "")
	m := srv.Next(t)
	if len(m.To) != 1 || m.To[0] != "rita@example.org" {
		t.Fatalf("reset mail to %v", m.To)
	}
	tok := linkToken(t, m, "/password/reset")
	if strings.Contains(m.Text, "rita's first password") || strings.Contains(string(m.Raw), "$2a$") {
		t.Fatal("the mail carries a secret beyond its token")
	}

	// A refused password leaves the link working.
	anon.Want(anon.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "short"}), http.StatusBadRequest, "weak_password")
	anon.Want(anon.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "password123"}), http.StatusBadRequest, "common_password")
	anon.Want(anon.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "RITA"}), http.StatusBadRequest, "weak_password")

	r = anon.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "rita's second password"})
	anon.Want(r, http.StatusOK, "")
	if r.JSON["revoked"] != float64(2) {
		t.Errorf("revoked = %v, want 2 (both sessions)", r.JSON["revoked"])
	}
	if anon.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "rita's third password"}).Code() != "invalid_token" {
		t.Error("a used token worked twice")
	}
	owner.Want(owner.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	other.Want(other.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	if anon.Do("GET", "/me", nil).Status != http.StatusUnauthorized {
		t.Error("a reset signed its client in")
	}
	anon.Want(anon.Do("POST", "/login", apptest.Creds("rita", "rita's first password")), http.StatusUnauthorized, "invalid_credentials")
	anon.Login("rita", "rita's second password")

	// Following the link proved the address: it is verified now.
	if v := anon.Do("GET", "/me", nil).JSON["user"].(map[string]any)["emailVerified"]; v != true {
		t.Errorf("emailVerified after a reset = %v", v)
	}
}

// A new password equal to the username is refused after the token is
// read (it names the user), and the link keeps working.
func TestResetRefusesTheUsername(t *testing.T) {
	a, srv := mailApp(t)
	a.Client(t).Register("longer-name", "longer-name's password")
	giveEmail(t, a, "longer-name", "ln@example.org", true)
	cl := a.Client(t)
	cl.Want(cl.Do("POST", "/password/forgot", map[string]any{"username": "longer-name"}), http.StatusAccepted, "")
	tok := linkToken(t, srv.Next(t), "/password/reset")
	cl.Want(cl.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "Longer-Name"}), http.StatusBadRequest, "common_password")
	cl.Want(cl.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "a better password"}), http.StatusOK, "")
}

// Every request for a reset answers alike, whatever it names: status and
// body; and it answers before any lookup, so that its time says nothing
// either (TestForgotAnswersWithoutTheUserStore).
func TestForgotAnswersAlike(t *testing.T) {
	a, srv := mailApp(t)
	a.Client(t).Register("sam", "sam's good password")
	giveEmail(t, a, "sam", "sam@example.org", true)
	a.Client(t).Register("noemail", "noemail's password")

	var first string
	for _, body := range []map[string]any{
		{"email": "sam@example.org"},
		{"email": "nobody@example.org"},
		{"username": "sam"},
		{"username": "noemail"},
		{"username": "nobody"},
		{"username": "<not a name>"},
	} {
		cl := a.Client(t)
		r := cl.Do("POST", "/password/forgot", body)
		cl.Want(r, http.StatusAccepted, "")
		if first == "" {
			first = string(r.Body)
		} else if string(r.Body) != first {
			t.Errorf("%v answered %s; the first answered %s", body, r.Body, first)
		}
	}
	// The background does one thing at a time, in order: once a last
	// request's mail arrives, the others are done.
	a.Client(t).Register("last", "last's good password")
	giveEmail(t, a, "last", "last@example.org", false)
	a.Client(t).Do("POST", "/password/forgot", map[string]any{"username": "last"})
	got := srv.Wait(t, 3)
	for i, want := range []string{"sam@example.org", "sam@example.org", "last@example.org"} {
		if got[i].To[0] != want {
			t.Errorf("mail %d to %v, want %s", i, got[i].To, want)
		}
	}
	if n := len(srv.Pending()); n != 0 {
		t.Errorf("%d more mails", n)
	}

	for _, bad := range []any{
		map[string]any{},
		map[string]any{"email": "sam@example.org", "username": "sam"},
		map[string]any{"email": "not an address"},
		map[string]any{"email": 3},
	} {
		cl := a.Client(t)
		if r := cl.Do("POST", "/password/forgot", bad); r.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s, want 400", bad, r.Status, r.Body)
		}
	}
}

// The request path of "forgot password" touches no user store: with the
// database gone, it still answers 202 at once. Were the lookup moved into
// the request, this would answer 503, and a known account would take
// longer than an unknown one.
func TestForgotAnswersWithoutTheUserStore(t *testing.T) {
	a, _ := mailApp(t)
	a.Client(t).Register("ulla", "ulla's good password")
	giveEmail(t, a, "ulla", "ulla@example.org", true)
	sqlDB, err := a.Users.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	_ = sqlDB.Close()
	cl := a.Client(t)
	cl.Want(cl.Do("POST", "/password/forgot", map[string]any{"email": "ulla@example.org"}), http.StatusAccepted, "")
}

func TestResetTokenRules(t *testing.T) {
	a, srv := mailApp(t)
	a.Client(t).Register("tom", "tom's good password")
	id := giveEmail(t, a, "tom", "tom@example.org", true)
	cl := a.Client(t)
	forgot := func() string {
		t.Helper()
		cl.Want(cl.Do("POST", "/password/forgot", map[string]any{"username": "tom"}), http.StatusAccepted, "")
		return linkToken(t, srv.Next(t), "/password/reset")
	}
	reset := func(tok string) *apptest.Response {
		return cl.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "tom's new password"})
	}

	// Malformed tokens: refused alike.
	good := forgot()
	cl.Want(reset(""), http.StatusBadRequest, "bad_request")
	for _, bad := range []string{"x", good[:42], good + "A", strings.Repeat("!", 43), good[:42] + "="} {
		cl.Want(reset(bad), http.StatusBadRequest, "invalid_token")
	}
	// Superseded by a newer request.
	newer := forgot()
	cl.Want(reset(good), http.StatusBadRequest, "invalid_token")
	// Expired.
	a.Clock.Advance(30*time.Minute + time.Second)
	cl.Want(reset(newer), http.StatusBadRequest, "invalid_token")
	// Void once the password changed another way. (An hour on: the
	// account may ask for three links an hour.)
	a.Clock.Advance(time.Hour)
	tok := forgot()
	if _, err := a.Auth.SetPassword(context.Background(), id, "set by an operator"); err != nil {
		t.Fatal(err)
	}
	srv.Next(t) // the notice of the change
	cl.Want(reset(tok), http.StatusBadRequest, "invalid_token")
	// Good within its time.
	tok = forgot()
	a.Clock.Advance(29 * time.Minute)
	cl.Want(reset(tok), http.StatusOK, "")
	srv.Next(t) // the notice of the change
	// A reset for a deleted user.
	a.Clock.Advance(time.Hour)
	tok = forgot()
	if err := a.Users.DB().Exec("DELETE FROM accounts WHERE id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	cl.Want(reset(tok), http.StatusBadRequest, "invalid_token")
}

// One token, many uses at once, on two instances sharing one database:
// one wins.
func TestResetTokenSingleUseInParallel(t *testing.T) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *gorm.DB
	}{{"sqlite", apptest.SQLiteDB}, {"postgres", apptest.PostgresDB}} {
		t.Run(d.name, func(t *testing.T) {
			srv := testenv.StartSMTPServer(t)
			clock := fakeclock.New(time.Time{})
			db := d.open(t)
			store := apptest.GormStore(t, db, clock)
			one := apptest.NewApp(t, store, db, clock, withMail(t, srv))
			two := apptest.NewApp(t, store, db, clock, withMail(t, srv))
			one.Client(t).Register("vic", "vic's good password")
			giveEmail(t, one, "vic", "vic@example.org", true)
			cl := one.Client(t)
			cl.Want(cl.Do("POST", "/password/forgot", map[string]any{"username": "vic"}), http.StatusAccepted, "")
			tok := linkToken(t, srv.Next(t), "/password/reset")

			const n = 8
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				app := one
				if i%2 == 1 {
					app = two
				}
				wg.Go(func() {
					r := app.Client(t).Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "vic's new password"})
					codes[i] = r.Status
				})
			}
			wg.Wait()
			won := 0
			for _, c := range codes {
				switch c {
				case http.StatusOK:
					won++
				case http.StatusBadRequest:
				default:
					t.Errorf("a use answered %d", c)
				}
			}
			if won != 1 {
				t.Errorf("%d uses of one token won; want 1 (%v)", won, codes)
			}
		})
	}
}

func TestForgotThrottle(t *testing.T) {
	a, srv := mailApp(t)
	a.Client(t).Register("wes", "wes's good password")
	giveEmail(t, a, "wes", "wes@example.org", true)
	// Per account, silently: three mails an hour, from any addresses.
	for i := range 5 {
		cl := a.Client(t)
		cl.Want(cl.Do("POST", "/password/forgot", map[string]any{"username": "wes"}, "X-Forwarded-For", "10.0.0."+string(rune('1'+i))), http.StatusAccepted, "")
	}
	a.Client(t).Register("xia", "xia's good password")
	giveEmail(t, a, "xia", "xia@example.org", true)
	a.Client(t).Do("POST", "/password/forgot", map[string]any{"username": "xia"})
	got := srv.Wait(t, 4)
	if got[3].To[0] != "xia@example.org" {
		t.Errorf("the 4th mail went to %v; wes should have had 3", got[3].To)
	}
	// An hour later, wes may ask again.
	a.Clock.Advance(time.Hour + time.Minute)
	a.Client(t).Do("POST", "/password/forgot", map[string]any{"username": "wes"})
	if m := srv.Next(t); m.To[0] != "wes@example.org" {
		t.Errorf("mail to %v", m.To)
	}
}

// A hundred people behind one address may each ask once; the hundred and
// first request from it is refused, and says so (it names no account).
func TestForgotPerAddress(t *testing.T) {
	a, _ := mailApp(t)
	cl := a.Client(t)
	for i := range 100 {
		cl.Want(cl.Do("POST", "/password/forgot", map[string]any{"username": "crowd" + strings.Repeat("x", i%5)}), http.StatusAccepted, "")
	}
	r := cl.Do("POST", "/password/forgot", map[string]any{"username": "crowd"})
	cl.Want(r, http.StatusTooManyRequests, "too_many_attempts")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestEmailVerification(t *testing.T) {
	a, srv := mailApp(t, func(r *auth.Recovery) { r.RequireVerifiedEmail = true })
	cl := a.Client(t)
	cl.Register("yan", "yan's good password") // registered, and signed in
	id := a.UserID(t, "yan")
	if err := a.Auth.ChangeEmail(context.Background(), id, "Yan@Example.org"); err != nil {
		t.Fatal(err)
	}
	first := linkToken(t, srv.Next(t), "/email/verify")
	me := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)
	if me["email"] != "yan@example.org" || me["emailVerified"] != false {
		t.Errorf("/me = %v", me)
	}

	// Sign-in waits for the address, and sends a new link.
	other := a.Client(t)
	other.Want(other.Do("POST", "/login", apptest.Creds("yan", "yan's good password")), http.StatusForbidden, "email_unverified")
	second := linkToken(t, srv.Next(t), "/email/verify")
	other.Want(other.Do("POST", "/login", apptest.Creds("yan", "a wrong password")), http.StatusUnauthorized, "invalid_credentials")

	// Resend, signed in: a third link; each voids the one before.
	cl.Want(cl.Do("POST", "/email/verify/resend", nil), http.StatusAccepted, "")
	third := linkToken(t, srv.Next(t), "/email/verify")
	for _, old := range []string{first, second} {
		other.Want(other.Do("POST", "/email/verify", map[string]any{"token": old}), http.StatusBadRequest, "invalid_token")
	}
	other.Want(other.Do("POST", "/email/verify", map[string]any{"token": third}), http.StatusOK, "")
	other.Want(other.Do("POST", "/email/verify", map[string]any{"token": third}), http.StatusBadRequest, "invalid_token")
	if v := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)["emailVerified"]; v != true {
		t.Errorf("emailVerified = %v", v)
	}
	other.Login("yan", "yan's good password")

	// Resend is throttled per account: 3 an hour (one used above).
	cl.Want(cl.Do("POST", "/email/verify/resend", nil), http.StatusAccepted, "") // verified: nothing sent
	anon := a.Client(t)
	anon.Want(anon.Do("POST", "/email/verify/resend", nil), http.StatusUnauthorized, "")
}

func TestResendThrottle(t *testing.T) {
	a, srv := mailApp(t)
	cl := a.Client(t)
	cl.Register("zed", "zed's good password")
	giveEmail(t, a, "zed", "zed@example.org", false)
	for range 3 {
		cl.Want(cl.Do("POST", "/email/verify/resend", nil), http.StatusAccepted, "")
	}
	cl.Want(cl.Do("POST", "/email/verify/resend", nil), http.StatusTooManyRequests, "too_many_attempts")
	srv.Wait(t, 3)
}

func TestEmailChange(t *testing.T) {
	a, srv := mailApp(t)
	cl := a.Client(t)
	cl.Register("abe", "abe's good password")
	giveEmail(t, a, "abe", "abe@example.org", true)
	a.Client(t).Register("bea", "bea's good password")
	giveEmail(t, a, "bea", "bea@example.org", true)

	cl.Want(cl.Do("POST", "/email", map[string]any{"email": "not an address"}), http.StatusBadRequest, "invalid_email")

	// An address another account has: the same answer, and its owner is
	// told instead of sent a link.
	cl.Want(cl.Do("POST", "/email", map[string]any{"email": "bea@example.org"}), http.StatusAccepted, "")
	m := srv.Next(t)
	if m.To[0] != "bea@example.org" || tokenInLink.MatchString(m.Text) {
		t.Errorf("mail to the taken address: %v %q", m.To, m.Text)
	}

	cl.Want(cl.Do("POST", "/email", map[string]any{"email": "abe@new.example.org"}), http.StatusAccepted, "")
	m = srv.Next(t)
	if m.To[0] != "abe@new.example.org" {
		t.Fatalf("confirmation to %v", m.To)
	}
	tok := linkToken(t, m, "/email/verify")
	if e := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)["email"]; e != "abe@example.org" {
		t.Errorf("the address changed before its confirmation: %v", e)
	}
	cl.Want(cl.Do("POST", "/email/verify", map[string]any{"token": tok}), http.StatusOK, "")
	me := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)
	if me["email"] != "abe@new.example.org" || me["emailVerified"] != true {
		t.Errorf("/me after the change = %v", me)
	}
	told := srv.Next(t)
	if told.To[0] != "abe@example.org" || strings.Contains(told.Text, "abe@new.example.org") {
		t.Errorf("the old address's notice: to %v, %q", told.To, told.Text)
	}
}

func TestNotices(t *testing.T) {
	a, srv := mailApp(t)
	owner := a.Client(t)
	owner.Register("cy", "cy's good password")
	giveEmail(t, a, "cy", "cy@example.org", true)

	// The owner's browser has the account's device cookie: no notice.
	owner.Login("cy", "cy's good password")
	// A browser never seen: a notice, with a link that ends its session.
	stranger := a.Client(t)
	stranger.Do("POST", "/login", apptest.Creds("cy", "cy's good password"), "User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
	m := srv.Next(t)
	if m.To[0] != "cy@example.org" || !strings.Contains(m.Text, "Firefox/133.0") {
		t.Errorf("new sign-in notice: %v %q", m.To, m.Text)
	}
	tok := linkToken(t, m, "/sessions/end")
	stranger.Want(stranger.Do("GET", "/me", nil), http.StatusOK, "")
	a.Client(t).Want(a.Client(t).Do("POST", "/sessions/end", map[string]any{"token": tok}), http.StatusOK, "")
	stranger.Want(stranger.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	owner.Want(owner.Do("GET", "/me", nil), http.StatusOK, "")

	// A password change.
	owner.Want(owner.Do("POST", "/password", map[string]any{"currentPassword": "cy's good password", "newPassword": "cy's better password"}), http.StatusOK, "")
	if m := srv.Next(t); !strings.Contains(strings.ToLower(m.Subject), "password") {
		t.Errorf("after a password change: %q", m.Subject)
	}

	// A lockout: one notice, however many attempts it refuses.
	guesser := a.Client(t)
	for range 8 {
		guesser.Do("POST", "/login", apptest.Creds("cy", "a guess"))
	}
	if m := srv.Next(t); m.To[0] != "cy@example.org" {
		t.Errorf("lockout notice to %v", m.To)
	}
	// The queue is ordered: a new mail from here on is the next one.
	a.Client(t).Register("dee", "dee's good password")
	giveEmail(t, a, "dee", "dee@example.org", true)
	a.Client(t).Do("POST", "/password/forgot", map[string]any{"username": "dee"})
	if m := srv.Next(t); m.To[0] != "dee@example.org" {
		t.Errorf("a second lockout notice, or another mail, to %v", m.To)
	}

	// Unverified addresses get no notice.
	a.Client(t).Register("eve", "eve's good password")
	giveEmail(t, a, "eve", "eve@example.org", false)
	a.Client(t).Login("eve", "eve's good password")
	a.Client(t).Do("POST", "/password/forgot", map[string]any{"username": "dee"})
	if m := srv.Next(t); m.To[0] != "dee@example.org" {
		t.Errorf("mail to %v", m.To)
	}
}

func TestRecoveryConfig(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	sm, err := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte("recovery-config-secret-0123456789abcdef")}})
	if err != nil {
		t.Fatal(err)
	}
	accounts := gormusers.New[apptest.Account](db)
	for _, tc := range []struct {
		name   string
		change func(*auth.Recovery)
		cfg    func(*auth.Config[*apptest.Account])
	}{
		{"no base URL", func(r *auth.Recovery) { r.BaseURL = "" }, nil},
		{"relative base URL", func(r *auth.Recovery) { r.BaseURL = "/app" }, nil},
		{"plain HTTP to another host", func(r *auth.Recovery) { r.BaseURL = "http://example.org" }, nil},
		{"a query", func(r *auth.Recovery) { r.BaseURL = "https://example.org/?x=1" }, nil},
		{"a path that is not local", func(r *auth.Recovery) { r.ResetPath = "//evil.example/reset" }, nil},
		{"a long reset", func(r *auth.Recovery) { r.ResetTTL = 48 * time.Hour }, nil},
		{"new sign-in notices without device cookies", nil, func(c *auth.Config[*apptest.Account]) { c.Throttle.NoDeviceCookies = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var app apptest.Config
			if tc.change != nil {
				withMail(t, srv, tc.change)(&app)
			} else {
				withMail(t, srv)(&app)
			}
			cfg := auth.Config[*apptest.Account]{Sessions: sm, Users: accounts, Recovery: app.Auth.Recovery}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			if _, err := auth.New(cfg); !errors.Is(err, auth.ErrConfig) {
				t.Errorf("New = %v; want a configuration error", err)
			}
		})
	}
	// A user type without an address cannot recover by mail.
	var app apptest.Config
	withMail(t, srv)(&app)
	_, err = auth.New(auth.Config[*models.User]{Sessions: sm, Users: gormusers.New[models.User](db), Recovery: app.Auth.Recovery})
	if !errors.Is(err, auth.ErrConfig) || !strings.Contains(err.Error(), "models.Email") {
		t.Errorf("New for models.User = %v; want a configuration error that names models.Email", err)
	}
}

func TestRegisterWithEmail(t *testing.T) {
	a, srv := mailApp(t)
	cl := a.Client(t)
	r := cl.Do("POST", "/register", map[string]any{"username": "fay", "password": "fay's good password", "email": " Fay@Example.org"})
	cl.Want(r, http.StatusCreated, "")
	if u := r.JSON["user"].(map[string]any); u["email"] != "fay@example.org" || u["emailVerified"] != false {
		t.Errorf("registered user = %v", u)
	}
	tok := linkToken(t, srv.Next(t), "/email/verify")
	cl.Want(cl.Do("POST", "/email/verify", map[string]any{"token": tok}), http.StatusOK, "")

	other := a.Client(t)
	other.Want(other.Do("POST", "/register", map[string]any{"username": "fay2", "password": "fay2's good password", "email": "FAY@example.org"}), http.StatusConflict, "email_taken")
	other.Want(other.Do("POST", "/register", map[string]any{"username": "fay3", "password": "fay3's good password", "email": "fay at example"}), http.StatusBadRequest, "invalid_email")
	if _, err := a.Users.FindByUsername(context.Background(), "fay2"); err == nil {
		t.Error("a refused registration created its user")
	}
	// Without an address, as before.
	a.Client(t).Register("gus", "gus's good password")
}
