package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
)

// benchApp builds an app on the backend with a signed-in client, and
// returns the handler and that client's cookie.
func benchApp(b *testing.B, be backend, opts ...appOption) (*app, http.Handler, *http.Cookie) {
	clock := fakeclock.New(time.Time{})
	store, db := be.open(b, clock)
	a := newApp(b, store, db, clock, opts...)
	cl := a.client(b)
	cl.register("bench", "bench password")
	return a, a.srv.Config.Handler, cl.sessionCookie()
}

// BenchmarkMe measures an authenticated GET /me through the whole
// middleware (cookie, one store load, user from the cache, JSON), inside
// the touch interval: the hot path. BenchmarkMeFloor is its floor.
func BenchmarkMe(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
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
	_, h, _ := benchApp(b, backends[0], func(c *authConfig) {
		c.auth.Passwords.BcryptCost = 12
		c.auth.Throttle.Disabled = true // measure the password check, not the lockout
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
