package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
)

// benchApp builds an app on the backend with a signed-in client, and
// returns the handler and that client's cookie.
func benchApp(b *testing.B, be apptest.Backend, opts ...apptest.Option) (*apptest.App, http.Handler, *http.Cookie) {
	clock := fakeclock.New(time.Time{})
	store, db := be.Open(b, clock)
	a := apptest.NewApp(b, store, db, clock, opts...)
	cl := a.Client(b)
	cl.Register("bench", "bench password")
	return a, a.Server.Config.Handler, cl.SessionCookie()
}

// BenchmarkMe measures an authenticated GET /me through the whole
// middleware (cookie, one store load, user from the cache, JSON), inside
// the touch interval: the hot path. BenchmarkMeFloor is its floor.
func BenchmarkMe(b *testing.B) {
	for _, be := range apptest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			_, h, cookie := benchApp(b, be)
			req := httptest.NewRequest("GET", "/me", nil)
			req.AddCookie(cookie)
			testenv.BenchRequest(b, h, req)
		})
	}
}

// BenchmarkLogin measures POST /login at the default bcrypt cost (12), for
// a known and an unknown username: the two should cost the same.
func BenchmarkLogin(b *testing.B) {
	_, h, _ := benchApp(b, apptest.Backends[0], func(c *apptest.Config) {
		c.Auth.Passwords.BcryptCost = 12
		c.Auth.Throttle.Disabled = true // measure the password check, not the lockout
	})
	for _, name := range []string{"known", "unknown"} {
		b.Run(name, func(b *testing.B) {
			user := "bench"
			if name == "unknown" {
				user = "nobody-by-this-name"
			}
			body := `{"username":"` + user + `","password":"wrong password"}`
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusUnauthorized {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
