package session_test

// When a session is stored and when it ends: anonymous visits, and a
// write after the logout.

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

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
