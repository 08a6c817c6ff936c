package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Every answer tells a browser not to frame it, not to guess its type, and
// to run no script and load nothing but the site's own stylesheet and
// images: the pages, the stylesheet, and the JSON of the API alike.
func TestSecurityHeaders(t *testing.T) {
	_, srv, _ := testApp(t, nil)
	for _, path := range []string{"/", "/login", "/register", "/static/style.css", "/me", "/healthz", "/no-such-page"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
			!strings.Contains(csp, "style-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: X-Content-Type-Options %q, X-Frame-Options %q, Content-Security-Policy %q",
				path, h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"), csp)
		}
	}
}

// The pages say what the codes of a redirect mean, and only that: a text
// or a number made up by whoever wrote the link shows nowhere.
func TestPagesReflectNothing(t *testing.T) {
	_, srv, _ := testApp(t, nil)
	b := newBrowser(t, srv)
	cases := []struct {
		path    string
		absent  []string
		present string
	}{
		{"/login?error=" + url.QueryEscape("Your account is suspended; call +1-555-0100"), []string{"suspended", "555"}, "Something went wrong"},
		{"/register?error=" + url.QueryEscape("Call +1-555-0100"), []string{"555"}, "Something went wrong"},
		{"/login?signedOut=all&revoked=999999", []string{"999999"}, "You are signed out everywhere"},
		{"/login?signedOut=all&revoked=-3", []string{"-3"}, "You are signed out everywhere"},
		{"/login?error=too_many_attempts&retry=99999999999", []string{"99999999999", "1666666667"}, "Too many failed attempts. Try again later."},
		{"/login?error=too_many_attempts&retry=-60", []string{"-60"}, "Too many failed attempts. Try again later."},
	}
	for _, c := range cases {
		page, _ := b.get(c.path)
		for _, s := range c.absent {
			if strings.Contains(page, s) {
				t.Errorf("GET %s shows %q", c.path, s)
			}
		}
		if !strings.Contains(page, c.present) {
			t.Errorf("GET %s lacks %q", c.path, c.present)
		}
	}
	if page, _ := b.get("/login?error=too_many_attempts&retry=90"); !strings.Contains(page, "Try again in 2 minutes") {
		t.Errorf("a lockout of 90 seconds: %s", page)
	}
	b.post("/register", url.Values{"username": {"uma"}, "password": {"uma's password"}})
	for path, absent := range map[string]string{
		"/account?revoked=999999":                       "999999",
		"/account?error=" + url.QueryEscape("call 555"): "555",
	} {
		if page, at := b.get(path); at != path || strings.Contains(page, absent) {
			t.Errorf("GET %s (at %s) shows %q", path, at, absent)
		}
	}
}
