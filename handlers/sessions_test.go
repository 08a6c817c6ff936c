package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

func TestListAndRevokeSessions(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		mallory := a.Client(t)
		mallory.Register("mallory", "mallory's password")
		victim := a.Client(t)
		victim.Register("victor", "victor's password")
		second := a.Client(t)
		second.Login("victor", "victor's password")

		r := victim.Do("GET", "/sessions", nil)
		victim.Want(r, http.StatusOK, "")
		list := r.JSON["sessions"].([]any)
		if len(list) != 2 {
			t.Fatalf("sessions = %s", r.Body)
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
			t.Fatalf("current/other not marked: %s", r.Body)
		}
		// The handle is not the cookie, nor in it.
		if c := victim.SessionCookie(); strings.Contains(c.Value, current) {
			t.Error("the cookie contains the listed handle")
		}
		// Another user's handle, and garbage, are 404.
		victim.Want(mallory.Do("DELETE", "/sessions/"+otherID, nil), http.StatusNotFound, "not_found")
		for _, bad := range []string{"x", strings.Repeat("0", 32), current + "00", "%25"} {
			victim.Want(victim.Do("DELETE", "/sessions/"+bad, nil), http.StatusNotFound, "not_found")
		}
		second.Want(second.Do("GET", "/me", nil), http.StatusOK, "")
		victim.Want(victim.Do("DELETE", "/sessions/"+otherID, nil), http.StatusNoContent, "")
		second.Want(second.Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		victim.Want(victim.Do("DELETE", "/sessions/"+otherID, nil), http.StatusNotFound, "not_found")
		// Revoking the current session logs this client out.
		victim.Want(victim.Do("DELETE", "/sessions/"+current, nil), http.StatusNoContent, "")
		victim.Want(victim.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	})
}

// Two instances of an application share one store: a logout-all on one is
// seen by the other at its next request, while both take logins at once.
func TestTwoInstancesLogoutAll(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		if b.Name == "memory" {
			t.Skip("a memory store is one process's: there is nothing to share")
		}
		clock := fakeclock.New(time.Time{})
		store, db := b.Open(t, clock)
		// Twelve simultaneous sign-ins of one account would be throttled
		// like a burst (each counts until it is judged): this test is about
		// twelve sessions, not the throttle.
		manyDevices := func(c *apptest.Config) { c.Auth.Throttle.PerAccount.Failures = 100 }
		one := apptest.NewApp(t, store, db, clock, manyDevices)
		two := apptest.NewApp(t, store, db, clock, manyDevices)
		one.Client(t).Register("ivan", "ivan's password")

		const n = 12
		clients := make([]*apptest.Client, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := one
				if i%2 == 1 {
					inst = two
				}
				cl := inst.Client(t)
				if r := cl.Do("POST", "/login", apptest.Creds("ivan", "ivan's password")); r.Status != http.StatusOK {
					t.Errorf("login %d: %d %s", i, r.Status, r.Body)
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
			cl.On(other).Want(cl.On(other).Do("GET", "/me", nil), http.StatusOK, "")
		}
		r := clients[0].Do("POST", "/logout-all", nil)
		clients[0].Want(r, http.StatusOK, "")
		if got := r.JSON["revoked"].(float64); got != n+1 { // and the registration's
			t.Errorf("revoked %v sessions, want %d", got, n+1)
		}
		// Concurrently, every client on the instance that did not log out.
		var wg2 sync.WaitGroup
		for i, cl := range clients {
			wg2.Add(1)
			go func() {
				defer wg2.Done()
				if r := cl.On(two).Do("GET", "/me", nil); r.Status != http.StatusUnauthorized {
					t.Errorf("client %d on the other instance after logout-all: %d", i, r.Status)
				}
			}()
		}
		wg2.Wait()
	})
}

// A request racing logout-all never leaves a live session behind.
func TestRequestRacingLogoutAll(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		a.Client(t).Register("judy", "judy's password")
		for round := range 5 {
			cl := a.Client(t)
			cl.Login("judy", "judy's password")
			stolen := cl.SessionCookie()
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 0 {
						cl.Do("POST", "/logout-all", nil)
						return
					}
					a.WithCookie(t, stolen).Do("POST", fmt.Sprintf("/cart?item=%d", i), nil)
				}()
			}
			wg.Wait()
			if r := a.WithCookie(t, stolen).Do("GET", "/me", nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("round %d: the session survived logout-all: %d", round, r.Status)
			}
			if list, _ := a.Store.List(context.Background(), a.UserID(t, "judy")); len(list) != 0 {
				t.Fatalf("round %d: %d sessions left after logout-all", round, len(list))
			}
		}
	})
}

// Concurrent requests on one session that change different values all keep
// their change.
func TestConcurrentChangesKeepEveryValue(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		cl := a.Client(t)
		cl.Register("yann", "yann's password")
		const n = 10
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := cl.Do("POST", fmt.Sprintf("/set?k=k%d&v=v%d", i, i), nil)
				if r.Status != http.StatusNoContent {
					t.Errorf("set %d: %d %s", i, r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if r := cl.Do("GET", fmt.Sprintf("/get?k=k%d", i), nil); r.JSON["v"] != fmt.Sprintf("v%d", i) {
				t.Errorf("value k%d lost: %s", i, r.Body)
			}
		}
		cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	})
}

func TestSaveUninitialized(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.SaveUninitialized = true })
	cl := a.Client(t)
	r := cl.Do("GET", "/public", nil)
	if r.Cookie("sid") == nil {
		t.Fatal("SaveUninitialized: an anonymous visit got no cookie")
	}
	if n := a.Store.(*memstore.Store).Len(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
	// The same visitor keeps that one session.
	cl.Do("GET", "/public", nil)
	if n := a.Store.(*memstore.Store).Len(); n != 1 {
		t.Errorf("%d records after a second visit, want 1", n)
	}
}

// Anonymous requests to a protected page create no server state: 100,000
// of them, each without a cookie, store nothing, and the signed-in victim
// stays signed in.
func TestAnonymousRequestsStoreNothing(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		n := 2000
		if b.Name == "memory" {
			n = 100_000 // the memory store holds 100,000 sessions at most
		}
		a := apptest.NewEnv(t, b)
		victim := a.Client(t)
		victim.Register("wendy", "wendy's password")
		h := a.Server.Config.Handler
		for i := range n {
			req, _ := http.NewRequest("GET", "/private?page="+fmt.Sprint(i), nil)
			req.Header.Set("Accept", "text/html")
			w := &headerRecorder{header: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status != http.StatusSeeOther || len(w.header.Values("Set-Cookie")) != 0 {
				t.Fatalf("anonymous GET %d: %d, Set-Cookie %q", i, w.status, w.header.Values("Set-Cookie"))
			}
		}
		if m, ok := a.Store.(*memstore.Store); ok && m.Len() != 1 {
			t.Errorf("%d sessions stored after %d anonymous requests, want the victim's alone", m.Len(), n)
		}
		victim.Want(victim.Do("GET", "/me", nil), http.StatusOK, "")
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
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b, func(c *apptest.Config) { c.Session.KeepOnRegenerate = []string{"theme"} })
		a.Client(t).Register("abby", "abby's password")
		anon, member := a.Client(t), a.Client(t)
		anon.Want(anon.Do("POST", "/set?k=theme&v=dark", nil), http.StatusNoContent, "")
		member.Want(member.Do("POST", "/set?k=theme&v=light", nil), http.StatusNoContent, "")
		member.Login("abby", "abby's password")
		if r := member.Do("GET", "/get?k=theme", nil); r.JSON["v"] != "light" {
			t.Errorf("a KeepOnRegenerate value after login: %s", r.Body)
		}
		elapsed := time.Duration(0)
		for _, d := range []time.Duration{20 * time.Minute, 20 * time.Minute, 19 * time.Minute} { // never idle
			a.Clock.Advance(d)
			elapsed += d
			if r := anon.Do("GET", "/get?k=theme", nil); r.JSON["v"] != "dark" {
				t.Fatalf("anonymous session ended after %v: %s", elapsed, r.Body)
			}
			member.Want(member.Do("GET", "/me", nil), http.StatusOK, "")
		}
		a.Clock.Advance(time.Minute) // an hour since it began
		if r := anon.Do("GET", "/get?k=theme", nil); r.JSON["ok"] != false {
			t.Errorf("anonymous session outlived AnonymousTimeout: %s", r.Body)
		}
		member.Want(member.Do("GET", "/me", nil), http.StatusOK, "")
	})
}
