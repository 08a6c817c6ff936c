package handlers_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ginauth/ginauth/middleware"
)

func TestFormLoginRedirects(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("olga", "olga's password")
	cl := a.client(t)
	r := cl.do("POST", "/login", url.Values{"username": {"olga"}, "password": {"nope"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?error=1" {
		t.Errorf("failed form login: %d to %q", r.status, r.header.Get("Location"))
	}
	r = cl.do("POST", "/login", url.Values{"username": {"olga"}, "password": {"olga's password"}, "remember": {"on"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Errorf("form login: %d to %q", r.status, r.header.Get("Location"))
	}
	if c := r.cookie("sid"); c == nil || c.MaxAge <= 0 {
		t.Errorf("remember=on did not give a persistent cookie: %v", r.header.Get("Set-Cookie"))
	}
	r = cl.do("POST", "/logout", url.Values{})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?signedOut=1" {
		t.Errorf("form logout: %d to %q", r.status, r.header.Get("Location"))
	}
	// Signing out everywhere says how many sessions ended: this one,
	// another browser's, and the one registering made.
	cl.login("olga", "olga's password")
	a.client(t).login("olga", "olga's password")
	r = cl.do("POST", "/logout-all", url.Values{})
	if r.header.Get("Location") != "/login?revoked=3&signedOut=all" {
		t.Errorf("form logout-all: %d to %q", r.status, r.header.Get("Location"))
	}
	// A password change from a form goes back to the form's page, with
	// how many other sessions ended, or with what went wrong.
	cl.login("olga", "olga's password")
	a.client(t).login("olga", "olga's password")
	r = cl.do("POST", "/password", url.Values{"currentPassword": {"nope"}, "newPassword": {"olga's new password"}, "returnTo": {"/account"}})
	if r.header.Get("Location") != "/account?error=1&returnTo=%2Faccount" {
		t.Errorf("form password change with a wrong password: %d to %q", r.status, r.header.Get("Location"))
	}
	r = cl.do("POST", "/password", url.Values{"currentPassword": {"olga's password"}, "newPassword": {"short"}, "returnTo": {"/account"}})
	if r.header.Get("Location") != "/account?error=weak_password&returnTo=%2Faccount" {
		t.Errorf("form password change with a weak password: %d to %q", r.status, r.header.Get("Location"))
	}
	r = cl.do("POST", "/password", url.Values{"currentPassword": {"olga's password"}, "newPassword": {"olga's new password"}, "returnTo": {"/account"}})
	if r.header.Get("Location") != "/account?revoked=1" {
		t.Errorf("form password change: %d to %q", r.status, r.header.Get("Location"))
	}
	// A lockout says how long it lasts.
	locked := a.client(t)
	for range 5 {
		locked.do("POST", "/login", url.Values{"username": {"olga"}, "password": {"nope"}})
	}
	r = locked.do("POST", "/login", url.Values{"username": {"olga"}, "password": {"nope"}, "returnTo": {"/account"}})
	if r.header.Get("Location") != "/login?error=too_many_attempts&retry=60&returnTo=%2Faccount" {
		t.Errorf("form login during a lockout: %d to %q", r.status, r.header.Get("Location"))
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
	a := newEnv(t, backends[0])
	a.client(t).register("xena", "xena's password")
	cl := a.client(t)
	r := cl.do("GET", "/private?tab=2", nil, "Accept", "text/html")
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || loc.Path != "/login" || loc.Query().Get("returnTo") != "/private?tab=2" {
		t.Fatalf("redirect to %q", r.header.Get("Location"))
	}
	if cl.sessionCookie() != nil {
		t.Fatal("the redirect set a session cookie")
	}
	// A failed attempt keeps the return address for the next one.
	r = cl.do("POST", "/login", url.Values{"username": {"xena"}, "password": {"nope"}, "returnTo": {"/private?tab=2"}})
	if got := r.header.Get("Location"); got != "/login?error=1&returnTo=%2Fprivate%3Ftab%3D2" {
		t.Errorf("failed login redirects to %q", got)
	}
	r = cl.do("POST", "/login", url.Values{"username": {"xena"}, "password": {"xena's password"}, "returnTo": {"/private?tab=2"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/private?tab=2" {
		t.Errorf("login redirects to %q", r.header.Get("Location"))
	}
	for _, bad := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"} {
		cl := a.client(t)
		r := cl.do("POST", "/login", url.Values{"username": {"xena"}, "password": {"xena's password"}, "returnTo": {bad}})
		if r.header.Get("Location") != "/" {
			t.Errorf("returnTo %q: redirect to %q", bad, r.header.Get("Location"))
		}
	}
	// Expired sessions say so on the same redirect.
	cl.login("xena", "xena's password")
	a.clock.Advance(31 * time.Minute)
	r = cl.do("GET", "/private", nil, "Accept", "text/html")
	loc, _ = url.Parse(r.header.Get("Location"))
	if loc.Query().Get("expired") != "true" || loc.Query().Get("returnTo") != "/private" {
		t.Errorf("expired redirect to %q", r.header.Get("Location"))
	}
}
