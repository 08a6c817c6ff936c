package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

func TestListAndRevokeSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		mallory := a.client(t)
		mallory.register("mallory", "mallory's password")
		victim := a.client(t)
		victim.register("victor", "victor's password")
		second := a.client(t)
		second.login("victor", "victor's password")

		r := victim.do("GET", "/sessions", nil)
		victim.want(r, http.StatusOK, "")
		list := r.json["sessions"].([]any)
		if len(list) != 2 {
			t.Fatalf("sessions = %s", r.body)
		}
		var current, otherID string
		for _, s := range list {
			m := s.(map[string]any)
			for _, k := range []string{"id", "current", "createdAt", "lastActivity", "ipAddress", "userAgent"} {
				if _, ok := m[k]; !ok {
					t.Errorf("session entry lacks %s", k)
				}
			}
			if m["current"].(bool) {
				current = m["id"].(string)
			} else {
				otherID = m["id"].(string)
			}
		}
		if current == "" || otherID == "" {
			t.Fatalf("current/other not marked: %s", r.body)
		}
		// The handle is not the cookie, nor in it.
		if c := victim.sessionCookie(); strings.Contains(c.Value, current) {
			t.Error("the cookie contains the listed handle")
		}
		// Another user's handle, and garbage, are 404.
		victim.want(mallory.do("DELETE", "/sessions/"+otherID, nil), http.StatusNotFound, "not_found")
		for _, bad := range []string{"x", strings.Repeat("0", 32), current + "00", "%25"} {
			victim.want(victim.do("DELETE", "/sessions/"+bad, nil), http.StatusNotFound, "not_found")
		}
		second.want(second.do("GET", "/me", nil), http.StatusOK, "")
		victim.want(victim.do("DELETE", "/sessions/"+otherID, nil), http.StatusNoContent, "")
		second.want(second.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		victim.want(victim.do("DELETE", "/sessions/"+otherID, nil), http.StatusNotFound, "not_found")
		// Revoking the current session logs this client out.
		victim.want(victim.do("DELETE", "/sessions/"+current, nil), http.StatusNoContent, "")
		victim.want(victim.do("GET", "/me", nil), http.StatusUnauthorized, "")
	})
}

// Two instances of an application share one store: a logout-all on one is
// seen by the other at its next request, while both take logins at once.
func TestTwoInstancesLogoutAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		if b.name == "memory" {
			t.Skip("a memory store is one process's: there is nothing to share")
		}
		clock := fakeclock.New(time.Time{})
		store, db := b.open(t, clock)
		// Twelve simultaneous sign-ins of one account would be throttled
		// like a burst (each counts until it is judged): this test is about
		// twelve sessions, not the throttle.
		manyDevices := func(c *authConfig) { c.auth.Throttle.PerAccount.Failures = 100 }
		one := newApp(t, store, db, clock, manyDevices)
		two := newApp(t, store, db, clock, manyDevices)
		one.client(t).register("ivan", "ivan's password")

		const n = 12
		clients := make([]*client, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := one
				if i%2 == 1 {
					inst = two
				}
				cl := inst.client(t)
				if r := cl.do("POST", "/login", creds("ivan", "ivan's password")); r.status != http.StatusOK {
					t.Errorf("login %d: %d %s", i, r.status, r.body)
					return
				}
				clients[i] = cl
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		// Every session works on the other instance too.
		for i, cl := range clients {
			other := two
			if i%2 == 1 {
				other = one
			}
			cl.on(other).want(cl.on(other).do("GET", "/me", nil), http.StatusOK, "")
		}
		r := clients[0].do("POST", "/logout-all", nil)
		clients[0].want(r, http.StatusOK, "")
		if got := r.json["revoked"].(float64); got != n+1 { // and the registration's
			t.Errorf("revoked %v sessions, want %d", got, n+1)
		}
		// Concurrently, every client on the instance that did not log out.
		var wg2 sync.WaitGroup
		for i, cl := range clients {
			wg2.Add(1)
			go func() {
				defer wg2.Done()
				if r := cl.on(two).do("GET", "/me", nil); r.status != http.StatusUnauthorized {
					t.Errorf("client %d on the other instance after logout-all: %d", i, r.status)
				}
			}()
		}
		wg2.Wait()
	})
}

// A request racing logout-all never leaves a live session behind.
func TestRequestRacingLogoutAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		a.client(t).register("judy", "judy's password")
		for round := range 5 {
			cl := a.client(t)
			cl.login("judy", "judy's password")
			stolen := cl.sessionCookie()
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 0 {
						cl.do("POST", "/logout-all", nil)
						return
					}
					a.withCookie(t, stolen).do("POST", fmt.Sprintf("/cart?item=%d", i), nil)
				}()
			}
			wg.Wait()
			if r := a.withCookie(t, stolen).do("GET", "/me", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("round %d: the session survived logout-all: %d", round, r.status)
			}
			if list, _ := a.store.List(context.Background(), a.userID(t, "judy")); len(list) != 0 {
				t.Fatalf("round %d: %d sessions left after logout-all", round, len(list))
			}
		}
	})
}

// Concurrent requests on one session that change different values all keep
// their change.
func TestConcurrentChangesKeepEveryValue(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		cl.register("yann", "yann's password")
		const n = 10
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := cl.do("POST", fmt.Sprintf("/set?k=k%d&v=v%d", i, i), nil)
				if r.status != http.StatusNoContent {
					t.Errorf("set %d: %d %s", i, r.status, r.body)
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if r := cl.do("GET", fmt.Sprintf("/get?k=k%d", i), nil); r.json["v"] != fmt.Sprintf("v%d", i) {
				t.Errorf("value k%d lost: %s", i, r.body)
			}
		}
		cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	})
}

func TestSaveUninitialized(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.session.SaveUninitialized = true })
	cl := a.client(t)
	r := cl.do("GET", "/public", nil)
	if r.cookie("sid") == nil {
		t.Fatal("SaveUninitialized: an anonymous visit got no cookie")
	}
	if n := a.store.(*memstore.Store).Len(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
	// The same visitor keeps that one session.
	cl.do("GET", "/public", nil)
	if n := a.store.(*memstore.Store).Len(); n != 1 {
		t.Errorf("%d records after a second visit, want 1", n)
	}
}

// Anonymous requests to a protected page create no server state: 100,000
// of them, each without a cookie, store nothing, and the signed-in victim
// stays signed in.
func TestAnonymousRequestsStoreNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		n := 2000
		if b.name == "memory" {
			n = 100_000 // the memory store holds 100,000 sessions at most
		}
		a := newEnv(t, b)
		victim := a.client(t)
		victim.register("wendy", "wendy's password")
		h := a.srv.Config.Handler
		for i := range n {
			req, _ := http.NewRequest("GET", "/private?page="+fmt.Sprint(i), nil)
			req.Header.Set("Accept", "text/html")
			w := &headerRecorder{header: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status != http.StatusSeeOther || len(w.header.Values("Set-Cookie")) != 0 {
				t.Fatalf("anonymous GET %d: %d, Set-Cookie %q", i, w.status, w.header.Values("Set-Cookie"))
			}
		}
		if m, ok := a.store.(*memstore.Store); ok && m.Len() != 1 {
			t.Errorf("%d sessions stored after %d anonymous requests, want the victim's alone", m.Len(), n)
		}
		victim.want(victim.do("GET", "/me", nil), http.StatusOK, "")
	})
}

// headerRecorder is the least of a ResponseWriter, for floods that need
// neither the body nor httptest's bookkeeping.
type headerRecorder struct {
	header http.Header
	status int
}

func (w *headerRecorder) Header() http.Header { return w.header }

func (w *headerRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

func (w *headerRecorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

// Sessions the application starts for anonymous visitors live at most
// AnonymousTimeout, however active; signed-in ones the absolute timeout.
// A value listed in KeepOnRegenerate survives the login.
func TestAnonymousSessionsAreShortLived(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b, func(c *authConfig) { c.session.KeepOnRegenerate = []string{"theme"} })
		a.client(t).register("abby", "abby's password")
		anon, member := a.client(t), a.client(t)
		anon.want(anon.do("POST", "/set?k=theme&v=dark", nil), http.StatusNoContent, "")
		member.want(member.do("POST", "/set?k=theme&v=light", nil), http.StatusNoContent, "")
		member.login("abby", "abby's password")
		if r := member.do("GET", "/get?k=theme", nil); r.json["v"] != "light" {
			t.Errorf("a KeepOnRegenerate value after login: %s", r.body)
		}
		elapsed := time.Duration(0)
		for _, d := range []time.Duration{20 * time.Minute, 20 * time.Minute, 19 * time.Minute} { // never idle
			a.clock.Advance(d)
			elapsed += d
			if r := anon.do("GET", "/get?k=theme", nil); r.json["v"] != "dark" {
				t.Fatalf("anonymous session ended after %v: %s", elapsed, r.body)
			}
			member.want(member.do("GET", "/me", nil), http.StatusOK, "")
		}
		a.clock.Advance(time.Minute) // an hour since it began
		if r := anon.do("GET", "/get?k=theme", nil); r.json["ok"] != false {
			t.Errorf("anonymous session outlived AnonymousTimeout: %s", r.body)
		}
		member.want(member.do("GET", "/me", nil), http.StatusOK, "")
	})
}
