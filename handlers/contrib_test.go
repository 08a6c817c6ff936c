package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/sessionstore/ginsessions"
)

// Code written for gin-contrib/sessions runs unchanged on ginauth's
// session.
func TestGinContribSessionsDefault(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := backends[0].open(t, clock)
	a := newApp(t, store, db, clock)
	r := gin.New()
	r.Use(middleware.Session(a.a))
	r.GET("/visit", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("visits").(int)
		s.Set("visits", n+1)
		s.AddFlash("hello")
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "%d", n+1)
	})
	r.GET("/flash", func(c *gin.Context) {
		c.String(http.StatusOK, "%v", sessions.Default(c).Flashes())
	})
	a.srv.Config.Handler = r
	cl := a.client(t)
	for i := 1; i <= 3; i++ {
		if got := cl.do("GET", "/visit", nil); string(got.body) != fmt.Sprint(i) {
			t.Fatalf("visit %d: %s", i, got.body)
		}
	}
	if got := cl.do("GET", "/flash", nil); string(got.body) != "[hello hello hello]" {
		t.Errorf("flashes = %s", got.body)
	}
	if got := cl.do("GET", "/flash", nil); string(got.body) != "[]" {
		t.Errorf("flashes after reading = %s", got.body)
	}
}

// ginsessions.Regenerate works on ginauth's own session too: a new ID, the
// values and the signed-in user kept, the planted ID dead.
func TestGinContribRegenerate(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := backends[0].open(t, clock)
	a := newApp(t, store, db, clock)
	r := gin.New()
	r.Use(middleware.Session(a.a))
	handlers.Mount(r.Group("/"), a.a, handlers.WithRegister())
	r.GET("/visit", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("theme", "dark")
		_ = s.Save()
	})
	r.GET("/regenerate", func(c *gin.Context) {
		if err := ginsessions.Regenerate(sessions.Default(c)); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
		}
	})
	r.GET("/whoami", func(c *gin.Context) {
		u, _ := a.a.User(c)
		name := "anonymous"
		if u != nil {
			name = u.Username
		}
		c.String(http.StatusOK, "%s %v", name, sessions.Default(c).Get("theme"))
	})
	a.srv.Config.Handler = r
	cl := a.client(t)
	cl.do("GET", "/visit", nil)
	planted := cl.sessionCookie()
	cl.do("GET", "/regenerate", nil)
	if c := cl.sessionCookie(); c == nil || c.Value == planted.Value {
		t.Fatal("Regenerate kept the session ID")
	}
	if got := cl.do("GET", "/whoami", nil); string(got.body) != "anonymous dark" {
		t.Errorf("after Regenerate: %s", got.body)
	}
	if got := a.withCookie(t, planted).do("GET", "/whoami", nil); string(got.body) != "anonymous <nil>" {
		t.Errorf("the old cookie after Regenerate: %s", got.body)
	}
	cl.register("gina", "gina's password")
	before := cl.sessionCookie()
	cl.do("GET", "/regenerate", nil)
	if c := cl.sessionCookie(); c == nil || c.Value == before.Value {
		t.Fatal("Regenerate kept the signed-in session's ID")
	}
	if got := cl.do("GET", "/whoami", nil); string(got.body) != "gina <nil>" {
		t.Errorf("signed-in session after Regenerate: %s", got.body)
	}
}

// The reported attack on regeneration: a request loads a signed-in
// session, the session is revoked while the request runs (an operator's
// RevokeUserSessions, the user's logout-all or DELETE /sessions/:id from
// another device), then the handler regenerates the session. The
// regenerated session must not bring the user back: the request answers
// 401 session_expired, the cookie is expired, and nothing is stored.
func TestRegenerateAfterRevokeSignsOut(t *testing.T) {
	revokes := []struct {
		name   string
		revoke func(t *testing.T, a *app, other *client, handle string)
	}{
		{"RevokeUserSessions", func(t *testing.T, a *app, _ *client, _ string) {
			if _, err := a.a.RevokeUserSessions(context.Background(), a.userID(t, "rita")); err != nil {
				t.Error(err)
			}
		}},
		{"logout-all", func(t *testing.T, _ *app, other *client, _ string) {
			other.want(other.do("POST", "/logout-all", nil), http.StatusOK, "")
		}},
		{"DELETE /sessions/:id", func(t *testing.T, _ *app, other *client, handle string) {
			other.want(other.do("DELETE", "/sessions/"+handle, nil), http.StatusNoContent, "")
		}},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, rv := range revokes {
			t.Run(rv.name, func(t *testing.T) {
				a := newEnv(t, b)
				var during func()
				r := gin.New()
				r.Use(middleware.Session(a.a))
				handlers.Mount(r.Group("/"), a.a, handlers.WithRegister())
				r.POST("/rotate", middleware.RequireAuth(a.a), func(c *gin.Context) {
					during() // the revoke lands after the load, before the commit
					if err := ginsessions.Regenerate(sessions.Default(c)); err != nil {
						c.String(http.StatusInternalServerError, err.Error())
						return
					}
					c.String(http.StatusOK, "rotated")
				})
				a.srv.Config.Handler = r

				cl := a.client(t)
				cl.register("rita", "rita's password")
				other := a.client(t)
				other.login("rita", "rita's password")
				handle := ""
				for _, s := range other.do("GET", "/sessions", nil).json["sessions"].([]any) {
					if m := s.(map[string]any); !m["current"].(bool) {
						handle = m["id"].(string)
					}
				}
				before := cl.sessionCookie()
				during = func() { rv.revoke(t, a, other, handle) }

				got := cl.do("POST", "/rotate", nil)
				cl.want(got, http.StatusUnauthorized, "session_expired")
				if c := got.cookie("sid"); c == nil || c.MaxAge >= 0 {
					t.Errorf("the response to a regeneration of a revoked session does not expire the cookie: %v", c)
				}
				cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "")
				a.withCookie(t, before).want(a.withCookie(t, before).do("GET", "/me", nil), http.StatusUnauthorized, "")
				if list, err := a.store.List(context.Background(), a.userID(t, "rita")); err != nil || len(list) > 1 {
					t.Errorf("sessions of the user after the revoke: %v, %v", list, err)
				}
			})
		}
	})
}
