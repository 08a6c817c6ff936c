package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"SESSION_SECRET":  "first-secret-0123456789abcdef0123456, second-secret-0123456789abcdef012345",
		"IDLE_TIMEOUT":    "10m",
		"COOKIE_SECURE":   "true",
		"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
	}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.secrets) != 2 || c.randomSecret || c.idle.Minutes() != 10 || !c.secure || len(c.proxies) != 2 || c.addr != "127.0.0.1:8080" || c.storeName != "gorm" {
		t.Errorf("config = %+v", c)
	}
	if _, err := loadConfig(func(k string) string { return map[string]string{"IDLE_TIMEOUT": "soon"}[k] }); err == nil {
		t.Error("a bad duration was accepted")
	}
	c, _ = loadConfig(func(string) string { return "" })
	if !c.randomSecret || len(c.secrets[0]) < 32 {
		t.Errorf("no SESSION_SECRET: %+v", c)
	}
	if _, _, err := openSessionStore(config{storeName: "nosuch"}, nil); err == nil {
		t.Error("an unknown SESSION_STORE was accepted")
	}
}

// The example's pages work: register through the form, see the sessions
// page, revoke another session, sign out everywhere.
func TestPages(t *testing.T) {
	db, err := openDatabase(filepath.Join(t.TempDir(), "example.db"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	defer store.Close()
	a, err := auth.New(auth.Config[*models.User]{
		Store: store, Users: users, Secrets: [][]byte{[]byte("example-test-secret-0123456789abcdef")},
		BcryptCost: 4, AllowLowBcryptCost: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRouter(a, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	get := func(c *http.Client, path string) string {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8") // as a browser
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	post := func(c *http.Client, path string, form url.Values) string {
		res, err := c.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	one, two := browser(), browser()
	if page := post(one, "/register", url.Values{"username": {"Uma"}, "password": {"uma's password"}}); !strings.Contains(page, "Signed in as <strong>uma</strong>") {
		t.Fatalf("after registering: %s", page)
	}
	if page := post(two, "/login", url.Values{"username": {"uma"}, "password": {"uma's password"}}); !strings.Contains(page, "Signed in as") {
		t.Fatalf("after signing in: %s", page)
	}
	page := get(one, "/account/sessions")
	if strings.Count(page, "Revoke") != 1 || !strings.Contains(page, "this one") {
		t.Fatalf("sessions page: %s", page)
	}
	i := strings.Index(page, `action="/account/sessions/`)
	action := page[i+len(`action="`):]
	action = action[:strings.Index(action, `"`)]
	post(one, action, nil)
	if page := get(two, "/"); !strings.Contains(page, "Sign in") {
		t.Errorf("the revoked browser is still signed in: %s", page)
	}
	page = get(two, "/account/sessions")
	if !strings.Contains(page, `name="password"`) || !strings.Contains(page, `name="returnTo" value="/account/sessions"`) {
		t.Errorf("a signed-out browser asking for the sessions page does not get the login form for it: %s", page)
	}
	if page := post(two, "/login", url.Values{"username": {"uma"}, "password": {"uma's password"}, "returnTo": {"/account/sessions"}}); !strings.Contains(page, "Your sessions") {
		t.Errorf("after signing in, the browser is not back on the page it asked for: %s", page)
	}
	post(one, "/logout-all", nil)
	if page := get(one, "/"); !strings.Contains(page, "Sign in") {
		t.Errorf("after signing out everywhere: %s", page)
	}
	if page := get(one, "/login?expired=true"); !strings.Contains(page, "expired") {
		t.Errorf("login page does not say the session expired: %s", page)
	}
}
