package handlers_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/middleware"
)

func TestFormLoginRedirects(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	a.Client(t).Register("olga", "olga's password")
	cl := a.Client(t)
	r := cl.Do("POST", "/login", url.Values{"username": {"olga"}, "password": {"nope"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?error=1" {
		t.Errorf("failed form login: %d to %q", r.Status, r.Header.Get("Location"))
	}
	r = cl.Do("POST", "/login", url.Values{"username": {"olga"}, "password": {"olga's password"}, "remember": {"on"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Errorf("form login: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if c := r.Cookie("sid"); c == nil || c.MaxAge <= 0 {
		t.Errorf("remember=on did not give a persistent cookie: %v", r.Header.Get("Set-Cookie"))
	}
	r = cl.Do("POST", "/logout", url.Values{})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?signedOut=1" {
		t.Errorf("form logout: %d to %q", r.Status, r.Header.Get("Location"))
	}
	// Signing out everywhere says how many sessions ended: this one,
	// another browser's, and the one registering made.
	cl.Login("olga", "olga's password")
	a.Client(t).Login("olga", "olga's password")
	r = cl.Do("POST", "/logout-all", url.Values{})
	if r.Header.Get("Location") != "/login?revoked=3&signedOut=all" {
		t.Errorf("form logout-all: %d to %q", r.Status, r.Header.Get("Location"))
	}
	// A password change from a form goes back to the form's page, with
	// how many other sessions ended, or with what went wrong.
	cl.Login("olga", "olga's password")
	a.Client(t).Login("olga", "olga's password")
	r = cl.Do("POST", "/password", url.Values{"currentPassword": {"nope"}, "newPassword": {"olga's new password"}, "returnTo": {"/account"}})
	if r.Header.Get("Location") != "/account?error=1&returnTo=%2Faccount" {
		t.Errorf("form password change with a wrong password: %d to %q", r.Status, r.Header.Get("Location"))
	}
	r = cl.Do("POST", "/password", url.Values{"currentPassword": {"olga's password"}, "newPassword": {"short"}, "returnTo": {"/account"}})
	if r.Header.Get("Location") != "/account?error=weak_password&returnTo=%2Faccount" {
		t.Errorf("form password change with a weak password: %d to %q", r.Status, r.Header.Get("Location"))
	}
	r = cl.Do("POST", "/password", url.Values{"currentPassword": {"olga's password"}, "newPassword": {"olga's new password"}, "returnTo": {"/account"}})
	if r.Header.Get("Location") != "/account?revoked=1" {
		t.Errorf("form password change: %d to %q", r.Status, r.Header.Get("Location"))
	}
	// A lockout says how long it lasts.
	locked := a.Client(t)
	for range 5 {
		locked.Do("POST", "/login", url.Values{"username": {"olga"}, "password": {"nope"}})
	}
	r = locked.Do("POST", "/login", url.Values{"username": {"olga"}, "password": {"nope"}, "returnTo": {"/account"}})
	if r.Header.Get("Location") != "/login?error=too_many_attempts&retry=60&returnTo=%2Faccount" {
		t.Errorf("form login during a lockout: %d to %q", r.Status, r.Header.Get("Location"))
	}
	// A saved return address that leaves the site is ignored.
	for _, bad := range []string{"//evil.example/", "/\\evil.example", "https://evil.example/", "/ok\r\nX: y"} {
		if middleware.LocalPath(bad) {
			t.Errorf("LocalPath(%q) = true", bad)
		}
	}
}

// The page a browser asked for rides on the login redirect, not in a
// session, and brings the browser back after signing in; a foreign
// address is ignored.
func TestReturnToWithoutSession(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	a.Client(t).Register("xena", "xena's password")
	cl := a.Client(t)
	r := cl.Do("GET", "/private?tab=2", nil, "Accept", "text/html")
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusSeeOther || loc.Path != "/login" || loc.Query().Get("returnTo") != "/private?tab=2" {
		t.Fatalf("redirect to %q", r.Header.Get("Location"))
	}
	if cl.SessionCookie() != nil {
		t.Fatal("the redirect set a session cookie")
	}
	// A failed attempt keeps the return address for the next one.
	r = cl.Do("POST", "/login", url.Values{"username": {"xena"}, "password": {"nope"}, "returnTo": {"/private?tab=2"}})
	if got := r.Header.Get("Location"); got != "/login?error=1&returnTo=%2Fprivate%3Ftab%3D2" {
		t.Errorf("failed login redirects to %q", got)
	}
	r = cl.Do("POST", "/login", url.Values{"username": {"xena"}, "password": {"xena's password"}, "returnTo": {"/private?tab=2"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/private?tab=2" {
		t.Errorf("login redirects to %q", r.Header.Get("Location"))
	}
	for _, bad := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"} {
		cl := a.Client(t)
		r := cl.Do("POST", "/login", url.Values{"username": {"xena"}, "password": {"xena's password"}, "returnTo": {bad}})
		if r.Header.Get("Location") != "/" {
			t.Errorf("returnTo %q: redirect to %q", bad, r.Header.Get("Location"))
		}
	}
	// Expired sessions say so on the same redirect.
	cl.Login("xena", "xena's password")
	a.Clock.Advance(31 * time.Minute)
	r = cl.Do("GET", "/private", nil, "Accept", "text/html")
	loc, _ = url.Parse(r.Header.Get("Location"))
	if loc.Query().Get("expired") != "true" || loc.Query().Get("returnTo") != "/private" {
		t.Errorf("expired redirect to %q", r.Header.Get("Location"))
	}
}
