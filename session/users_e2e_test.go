package session_test

// A user's sessions: listed, revoked one by one or all at once, across
// instances and against requests in flight.

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
