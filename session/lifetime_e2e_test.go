package session_test

// Timeouts as an application sees them: the instance's own, applied to
// sessions stored under others, and anonymous sessions' shorter life.

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
)

// A deployment that shortens its timeouts: sessions stored under the long
// ones are live in the store, and only the instance's own check ends them,
// at exactly the shorter limit (a millisecond before, they live), and
// destroys them, so that an instance still on the long timeouts refuses
// them too.
func TestShortenedTimeoutsApplyInProcess(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		clock := fakeclock.New(time.Time{})
		store, db := b.Open(t, clock)
		long := apptest.NewApp(t, store, db, clock) // idle 30m, absolute 24h, anonymous 1h
		short := apptest.NewApp(t, store, db, clock, func(c *apptest.Config) {
			c.Session.Lifetime.Idle = 10 * time.Minute
			c.Session.Lifetime.Absolute = time.Hour
			c.Session.Lifetime.Anonymous = 20 * time.Minute
		})
		long.Client(t).Register("sam", "sam's password")
		on := func(a *apptest.App, c *http.Cookie) *apptest.Client { return a.WithCookie(t, c) }

		t.Run("idle", func(t *testing.T) {
			start := clock.Now()
			early, exact := long.Client(t), long.Client(t)
			early.Login("sam", "sam's password")
			exact.Login("sam", "sam's password")
			e, x := early.SessionCookie(), exact.SessionCookie()
			clock.Set(start.Add(10*time.Minute - time.Millisecond))
			on(short, e).Want(on(short, e).Do("GET", "/me", nil), http.StatusOK, "")
			clock.Set(start.Add(10 * time.Minute))
			on(short, x).Want(on(short, x).Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
			on(long, x).Want(on(long, x).Do("GET", "/me", nil), http.StatusUnauthorized, "")
		})
		t.Run("absolute", func(t *testing.T) {
			start := clock.Now()
			cl := long.Client(t)
			cl.Login("sam", "sam's password")
			c := cl.SessionCookie()
			for elapsed := 5 * time.Minute; elapsed < time.Hour; elapsed += 5 * time.Minute {
				clock.Set(start.Add(elapsed))
				cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "") // never idle
			}
			clock.Set(start.Add(time.Hour - time.Millisecond))
			on(short, c).Want(on(short, c).Do("GET", "/me", nil), http.StatusOK, "")
			clock.Set(start.Add(time.Hour))
			on(short, c).Want(on(short, c).Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
			on(long, c).Want(on(long, c).Do("GET", "/me", nil), http.StatusUnauthorized, "")
		})
		t.Run("anonymous", func(t *testing.T) {
			start := clock.Now()
			cl := long.Client(t)
			cl.Want(cl.Do("POST", "/cart?item=book", nil), http.StatusOK, "")
			c := cl.SessionCookie()
			clock.Set(start.Add(15 * time.Minute))
			if r := cl.Do("POST", "/set?k=touch&v=1", nil); r.Status != http.StatusNoContent { // never idle
				t.Fatalf("write through the long instance: %d %s", r.Status, r.Body)
			}
			clock.Set(start.Add(20*time.Minute - time.Millisecond))
			if r := on(short, c).Do("GET", "/cart", nil); r.JSON["ok"] != true {
				t.Errorf("a millisecond before the anonymous timeout, the cart is gone: %s", r.Body)
			}
			clock.Set(start.Add(20 * time.Minute))
			if r := on(short, c).Do("GET", "/cart", nil); r.JSON["ok"] != false {
				t.Errorf("at the anonymous timeout, the cart is still there: %s", r.Body)
			}
			if r := on(long, c).Do("GET", "/cart", nil); r.JSON["ok"] != false {
				t.Errorf("after the short instance ended it, the long one still has the cart: %s", r.Body)
			}
		})
	})
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
