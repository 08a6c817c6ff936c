package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// signUp registers a user through the JSON API, as a client of its own, so
// that the browsers of a test start signed out.
func signUp(t *testing.T, base, username, password string) {
	t.Helper()
	body := `{"username":"` + username + `","password":"` + password + `"}`
	res, err := http.Post(base+"/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("registering %s: %d", username, res.StatusCode)
	}
}

// With MAX_SESSIONS_PER_USER and SESSION_LIMIT=refuse, a sign-in over the
// limit is refused: a browser is sent back to the login page, which says
// why, a JSON client gets 409 too_many_sessions, and the sessions page
// counts "N of M". Signing out on one device makes room again.
func TestSessionLimitRefuses(t *testing.T) {
	_, srv, _ := testApp(t, map[string]string{"MAX_SESSIONS_PER_USER": "2", "SESSION_LIMIT": "refuse"})
	signUp(t, srv.URL, "ada", "ada's password") // registering signs in: one session
	one, two, three := newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)
	form := url.Values{"username": {"ada"}, "password": {"ada's password"}}
	if _, at := one.post("/login", form); at != "/" {
		t.Fatalf("the second session: at %s", at)
	}
	// ada has two sessions now: the third is refused.
	page, at := two.post("/login", form)
	if at != "/login?error=too_many_sessions" || !strings.Contains(page, "You are signed in on 2 devices, as many as an account may be") {
		t.Fatalf("a sign-in over the limit: at %s: %s", at, page)
	}
	res, err := http.Post(srv.URL+"/login", "application/json", strings.NewReader(`{"username":"ada","password":"ada's password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var problem struct{ Error, Code string }
	_ = json.NewDecoder(res.Body).Decode(&problem)
	res.Body.Close()
	if res.StatusCode != http.StatusConflict || problem.Code != "too_many_sessions" || len(res.Cookies()) != 0 {
		t.Errorf("a JSON sign-in over the limit: %d %+v, cookies %v; want 409 too_many_sessions and no cookie", res.StatusCode, problem, res.Cookies())
	}
	page, _ = one.get("/account/sessions")
	if !strings.Contains(page, "2 of 2 sessions") || !strings.Contains(page, "signing in on another is refused") {
		t.Errorf("the sessions page does not count against the limit: %s", page)
	}
	if page, _ = one.get("/account"); !strings.Contains(page, "You are signed in on 2 of at most 2 devices") {
		t.Errorf("the account page does not say the limit: %s", page)
	}
	// The refused browser stays signed out; one that signs out makes room.
	if _, at := two.get("/account"); !strings.HasPrefix(at, "/login") {
		t.Errorf("the refused browser reached its account: at %s", at)
	}
	one.post("/logout", nil)
	if _, at := three.post("/login", form); at != "/" {
		t.Errorf("a sign-in after signing out on another device: at %s", at)
	}
}

// With SESSION_LIMIT unset (end-oldest), a sign-in over the limit signs
// out the user's oldest session: that browser is told its session ended.
func TestSessionLimitEndsTheOldest(t *testing.T) {
	_, srv, clock := testApp(t, map[string]string{"MAX_SESSIONS_PER_USER": "2"})
	signUp(t, srv.URL, "bob", "bob's password")
	form := url.Values{"username": {"bob"}, "password": {"bob's password"}}
	browsers := []*browser{newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)}
	for i, b := range browsers {
		clock.Advance(1e9) // one second apart: an order of sign-ins
		if _, at := b.post("/login", form); at != "/" {
			t.Fatalf("sign-in %d: at %s", i+1, at)
		}
	}
	if page, at := browsers[0].get("/account"); !strings.HasPrefix(at, "/login?expired=true") || !strings.Contains(page, "Your session has ended") {
		t.Errorf("the oldest browser after a third sign-in: at %s", at)
	}
	page, at := browsers[2].get("/account/sessions")
	if at != "/account/sessions" || strings.Count(page, ">Revoke<") != 1 || !strings.Contains(page, "2 of 2 sessions") ||
		!strings.Contains(page, "Signing in on another signs out the one signed in longest ago") {
		t.Errorf("the sessions page after the oldest was ended: at %s: %s", at, page)
	}
	// Without a limit the page says nothing of one.
	_, free, _ := testApp(t, nil)
	signUp(t, free.URL, "cy", "cy's password")
	b := newBrowser(t, free)
	b.post("/login", url.Values{"username": {"cy"}, "password": {"cy's password"}})
	if page, _ := b.get("/account/sessions"); strings.Contains(page, `class="limit"`) || !strings.Contains(page, "This device") {
		t.Errorf("the sessions page speaks of a limit that is not set: %s", page)
	}
}

// Every store limits sessions, with METRICS_ADDR too: the limit reaches
// the store through the metrics' timed wrapper.
func TestSessionLimitOnEveryStore(t *testing.T) {
	env := func(store string, more ...string) func(string) string {
		m := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": store,
			"SESSION_SECRET": "example-test-secret-0123456789abcdef", "MAX_SESSIONS_PER_USER": "1"}
		for i := 0; i+1 < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, e := range []func(string) string{env("gorm"), env("memory"), env("gorm", "METRICS_ADDR", "127.0.0.1:0"), env("memory", "METRICS_ADDR", "127.0.0.1:0")} {
		cfg, err := loadConfig(e)
		if err != nil {
			t.Fatal(err)
		}
		a, err := newApp(cfg, io.Discard)
		if err != nil {
			t.Fatalf("a limit on SESSION_STORE=%s, METRICS_ADDR=%q: %v", e("SESSION_STORE"), e("METRICS_ADDR"), err)
		}
		a.close()
	}
}
