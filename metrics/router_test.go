package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// Through a real application (Gin, the session middleware, the prebuilt
// routes, users in SQLite), each step of an account's life moves its
// metric, and no label names a user, an address or a session.
func TestRouterMovesTheMetrics(t *testing.T) {
	m, reg := newMetrics(t)
	srv := httptest.NewServer(newRouter(t, memoryStore(t, memstore.Options{}), "memory", m))
	t.Cleanup(srv.Close)
	want := func(series string, n float64) {
		t.Helper()
		if got := value(t, reg, series); got != n {
			t.Errorf("%s = %v, want %v", series, got, n)
		}
	}

	// Registration signs the new user in.
	mia := newClient(t, srv)
	mia.must(http.StatusCreated, "POST", "/register", creds("mia", "mia's password"))
	want("ginauth_registrations_total", 1)
	want("ginauth_logins_total{result=success}", 1)

	// Signed-in requests resolve their user from the cache.
	mia.must(http.StatusOK, "GET", "/me", nil)
	before := snapshot(t, reg)
	mia.must(http.StatusOK, "GET", "/me", nil)
	after := snapshot(t, reg)
	if d := moved(before, after); d["ginauth_user_cache_lookups_total{result=hit}"] != 1 || d["ginauth_user_cache_lookups_total{result=miss}"] != 0 {
		t.Errorf("GET /me moved the user cache by %v hit, %v miss; want 1 hit",
			d["ginauth_user_cache_lookups_total{result=hit}"], d["ginauth_user_cache_lookups_total{result=miss}"])
	}
	if d := moved(before, after); d["ginauth_session_store_duration_seconds{operation=load,store=memory}"] != 1 {
		t.Errorf("GET /me timed %v store loads, want 1", d["ginauth_session_store_duration_seconds{operation=load,store=memory}"])
	}
	mia.must(http.StatusNoContent, "POST", "/logout", nil)
	want("ginauth_logouts_total", 1)

	// Somebody tries passwords on mia's account: five wrong ones, then the
	// account is locked, the right password included; an unknown name
	// fails like a wrong password.
	attacker := newClient(t, srv)
	for i := range 5 {
		attacker.must(http.StatusUnauthorized, "POST", "/login", creds("mia", fmt.Sprintf("guess number %d", i)))
	}
	want("ginauth_logins_total{result=invalid_credentials}", 5)
	attacker.must(http.StatusTooManyRequests, "POST", "/login", creds("mia", "mia's password"))
	want("ginauth_logins_total{result=locked}", 1)
	want("ginauth_lockouts_total{action=login}", 1)
	attacker.must(http.StatusUnauthorized, "POST", "/login", creds("nobody", "a password"))
	want("ginauth_logins_total{result=invalid_credentials}", 6)
	want("ginauth_logins_total{result=success}", 1)

	// noah signs in on two devices, revokes one, changes his password,
	// signs in again and logs out everywhere.
	noah := newClient(t, srv)
	noah.must(http.StatusCreated, "POST", "/register", creds("noah", "noah's password"))
	phone := newClient(t, srv)
	phone.must(http.StatusOK, "POST", "/login", creds("noah", "noah's password"))
	want("ginauth_logins_total{result=success}", 3)
	var handles []string
	for _, s := range noah.must(http.StatusOK, "GET", "/sessions", nil)["sessions"].([]any) {
		s := s.(map[string]any)
		handles = append(handles, s["id"].(string))
		if s["current"] != true {
			noah.must(http.StatusNoContent, "DELETE", "/sessions/"+s["id"].(string), nil)
		}
	}
	want("ginauth_sessions_revoked_total{reason=session_revoked}", 1)
	phone.must(http.StatusOK, "POST", "/login", creds("noah", "noah's password"))
	out := noah.must(http.StatusOK, "POST", "/password", map[string]string{"currentPassword": "noah's password", "newPassword": "noah's new password"})
	want("ginauth_password_changes_total", 1)
	want("ginauth_sessions_revoked_total{reason=password_change}", out["revoked"].(float64))
	phone.must(http.StatusOK, "POST", "/login", creds("noah", "noah's new password"))
	out = noah.must(http.StatusOK, "POST", "/logout-all", nil)
	want("ginauth_logout_all_total", 1)
	want("ginauth_sessions_revoked_total{reason=logout_all}", out["revoked"].(float64))
	want("ginauth_logins_total{result=success}", 5)
	want("ginauth_registrations_total", 2)

	// Every store operation of the flow was timed, none failed; every
	// bcrypt computation gave its slot back.
	s := snapshot(t, reg)
	for _, op := range []string{"load", "regenerate", "destroy", "list", "destroy_id", "destroy_user"} {
		if s["ginauth_session_store_duration_seconds{operation="+op+",store=memory}"] == 0 {
			t.Errorf("no %s was timed", op)
		}
		for _, kind := range allowedLabels["kind"] {
			if n := s["ginauth_session_store_errors_total{kind="+kind+",operation="+op+",store=memory}"]; n != 0 {
				t.Errorf("%v %s errors on %s", n, kind, op)
			}
		}
	}
	want("ginauth_bcrypt_in_flight", 0)
	if s["ginauth_bcrypt_queue_wait_seconds"] == 0 {
		t.Error("no bcrypt computation was seen")
	}
	checkLabels(t, reg, append(handles, "mia", "noah", "nobody", "127.0.0.1", "Go-http-client")...)
}

// A login that finds every bcrypt slot taken for longer than
// HashQueueTimeout is turned away busy, and counted so.
func TestRouterCountsBusyLogins(t *testing.T) {
	m, reg := newMetrics(t)
	srv := httptest.NewServer(newRouter(t, memoryStore(t, memstore.Options{}), "memory", m, func(c *auth.Config[*models.User]) {
		c.Passwords.BcryptCost = 11 // long enough (100 ms or more) for a second login to arrive while the first hashes
		c.Passwords.MaxConcurrentHashes = 1
		c.Passwords.HashQueueTimeout = time.Millisecond
	}))
	t.Cleanup(srv.Close)

	// One login holds the only slot (an unknown name costs a full bcrypt
	// run too, and needs no registration first)...
	first := newClient(t, srv)
	var firstStatus int
	var wg sync.WaitGroup
	wg.Go(func() { // no t.Fatal off the test's goroutine: the status is checked below
		res, err := first.http.Post(srv.URL+"/login", "application/json", strings.NewReader(`{"username":"nobody","password":"a password"}`))
		if err == nil {
			firstStatus = res.StatusCode
			_ = res.Body.Close()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for value(t, reg, "ginauth_bcrypt_in_flight") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first login never took a bcrypt slot")
		}
		time.Sleep(time.Millisecond)
	}
	// ... so the next one finds none in time.
	status, out := newClient(t, srv).do("POST", "/login", creds("somebody", "a password"))
	wg.Wait()
	if firstStatus != http.StatusUnauthorized {
		t.Errorf("the login that held the slot = %d, want 401", firstStatus)
	}
	if status != http.StatusServiceUnavailable || out["code"] != "busy" {
		t.Fatalf("login while the slot was taken = %d %v, want 503 busy", status, out)
	}
	if got := value(t, reg, "ginauth_logins_total{result=busy}"); got != 1 {
		t.Errorf("busy logins = %v, want 1", got)
	}
	if got := value(t, reg, "ginauth_logins_total{result=invalid_credentials}"); got != 1 {
		t.Errorf("invalid credentials = %v, want 1 (the login that held the slot)", got)
	}
	if got := value(t, reg, "ginauth_bcrypt_busy_total"); got != 1 {
		t.Errorf("bcrypt busy = %v, want 1", got)
	}
	if got := value(t, reg, "ginauth_bcrypt_in_flight"); got != 0 {
		t.Errorf("bcrypt in flight = %v after every login ended, want 0", got)
	}
}
