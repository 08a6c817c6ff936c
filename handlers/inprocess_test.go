package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/handlers"
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
	eachBackend(t, func(t *testing.T, b backend) {
		clock := fakeclock.New(time.Time{})
		store, db := b.open(t, clock)
		long := newApp(t, store, db, clock) // idle 30m, absolute 24h, anonymous 1h
		short := newApp(t, store, db, clock, func(c *authConfig) {
			c.session.Lifetime.Idle = 10 * time.Minute
			c.session.Lifetime.Absolute = time.Hour
			c.session.Lifetime.Anonymous = 20 * time.Minute
		})
		long.client(t).register("sam", "sam's password")
		on := func(a *app, c *http.Cookie) *client { return a.withCookie(t, c) }

		t.Run("idle", func(t *testing.T) {
			start := clock.Now()
			early, exact := long.client(t), long.client(t)
			early.login("sam", "sam's password")
			exact.login("sam", "sam's password")
			e, x := early.sessionCookie(), exact.sessionCookie()
			clock.Set(start.Add(10*time.Minute - time.Millisecond))
			on(short, e).want(on(short, e).do("GET", "/me", nil), http.StatusOK, "")
			clock.Set(start.Add(10 * time.Minute))
			on(short, x).want(on(short, x).do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
			on(long, x).want(on(long, x).do("GET", "/me", nil), http.StatusUnauthorized, "")
		})
		t.Run("absolute", func(t *testing.T) {
			start := clock.Now()
			cl := long.client(t)
			cl.login("sam", "sam's password")
			c := cl.sessionCookie()
			for elapsed := 5 * time.Minute; elapsed < time.Hour; elapsed += 5 * time.Minute {
				clock.Set(start.Add(elapsed))
				cl.want(cl.do("GET", "/me", nil), http.StatusOK, "") // never idle
			}
			clock.Set(start.Add(time.Hour - time.Millisecond))
			on(short, c).want(on(short, c).do("GET", "/me", nil), http.StatusOK, "")
			clock.Set(start.Add(time.Hour))
			on(short, c).want(on(short, c).do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
			on(long, c).want(on(long, c).do("GET", "/me", nil), http.StatusUnauthorized, "")
		})
		t.Run("anonymous", func(t *testing.T) {
			start := clock.Now()
			cl := long.client(t)
			cl.want(cl.do("POST", "/cart?item=book", nil), http.StatusOK, "")
			c := cl.sessionCookie()
			clock.Set(start.Add(15 * time.Minute))
			if r := cl.do("POST", "/set?k=touch&v=1", nil); r.status != http.StatusNoContent { // never idle
				t.Fatalf("write through the long instance: %d %s", r.status, r.body)
			}
			clock.Set(start.Add(20*time.Minute - time.Millisecond))
			if r := on(short, c).do("GET", "/cart", nil); r.json["ok"] != true {
				t.Errorf("a millisecond before the anonymous timeout, the cart is gone: %s", r.body)
			}
			clock.Set(start.Add(20 * time.Minute))
			if r := on(short, c).do("GET", "/cart", nil); r.json["ok"] != false {
				t.Errorf("at the anonymous timeout, the cart is still there: %s", r.body)
			}
			if r := on(long, c).do("GET", "/cart", nil); r.json["ok"] != false {
				t.Errorf("after the short instance ended it, the long one still has the cart: %s", r.body)
			}
		})
	})
}

// A handler that signs the user out, then writes (a flash message for the
// next page): the write goes to a new, anonymous session, and the
// signed-in record is deleted, so the cookie from before the logout is
// worthless.
func TestLogoutThenWrite(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		r := gin.New()
		r.Use(a.a.Sessions().Middleware())
		handlers.Mount(r.Group("/"), a.a, handlers.WithRegister())
		r.POST("/signout", func(c *gin.Context) {
			if err := a.a.Logout(c); err != nil {
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
		a.srv.Config.Handler = r

		cl := a.client(t)
		cl.register("lou", "lou's password")
		before := cl.sessionCookie()
		cl.want(cl.do("POST", "/signout", nil), http.StatusNoContent, "")
		if got := cl.do("GET", "/flash", nil); got.json["v"] != "Signed out" {
			t.Errorf("the flash set after logout: %s", got.body)
		}
		cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "")
		old := a.withCookie(t, before)
		old.want(old.do("GET", "/me", nil), http.StatusUnauthorized, "")
		if list, err := a.store.List(t.Context(), a.userID(t, "lou")); err != nil || len(list) != 0 {
			t.Errorf("sessions of the user after logout: %v, %v", list, err)
		}
	})
}
