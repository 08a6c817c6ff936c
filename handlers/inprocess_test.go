package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/session"
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

// A handler that signs the user out, then writes (a flash message for the
// next page): the write goes to a new, anonymous session, and the
// signed-in record is deleted, so the cookie from before the logout is
// worthless.
func TestLogoutThenWrite(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		r := gin.New()
		r.Use(a.Auth.Sessions().Middleware())
		handlers.Mount(r.Group("/"), a.Auth, handlers.WithRegister())
		r.POST("/signout", func(c *gin.Context) {
			if err := a.Auth.Logout(c); err != nil {
				middleware.WriteError(c, err)
				return
			}
			if err := session.Set(c, "flash", "Signed out"); err != nil {
				middleware.WriteError(c, err)
				return
			}
			c.Status(http.StatusNoContent)
		})
		r.GET("/flash", func(c *gin.Context) {
			v, ok := session.Get[string](c, "flash")
			c.JSON(http.StatusOK, gin.H{"ok": ok, "v": v})
		})
		a.Server.Config.Handler = r

		cl := a.Client(t)
		cl.Register("lou", "lou's password")
		before := cl.SessionCookie()
		cl.Want(cl.Do("POST", "/signout", nil), http.StatusNoContent, "")
		if got := cl.Do("GET", "/flash", nil); got.JSON["v"] != "Signed out" {
			t.Errorf("the flash set after logout: %s", got.Body)
		}
		cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "")
		old := a.WithCookie(t, before)
		old.Want(old.Do("GET", "/me", nil), http.StatusUnauthorized, "")
		if list, err := a.Store.List(t.Context(), a.UserID(t, "lou")); err != nil || len(list) != 0 {
			t.Errorf("sessions of the user after logout: %v, %v", list, err)
		}
	})
}
