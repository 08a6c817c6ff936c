package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/mail/smtpmail"
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
				benchPost(b, h, "/login", body, http.StatusUnauthorized)
			}
		})
	}
}

// BenchmarkLoginSuccess measures a successful POST /login of a user
// without a second factor, with second factors configured, at bcrypt cost
// 4: the sign-in's own work around the hash (the user lookup, the factor
// lookup, the session's regeneration and write). Features the user does
// not use must not move it.
func BenchmarkLoginSuccess(b *testing.B) {
	_, h, _ := benchApp(b, apptest.Backends[0], func(c *apptest.Config) {
		c.Auth.Throttle.Disabled = true
		c.Auth.SecondFactor = auth.SecondFactor{Keys: [][]byte{[]byte("benchmark-second-factor-key-0123456789")}}
	})
	body := `{"username":"bench","password":"bench password"}`
	b.ReportAllocs()
	for b.Loop() {
		benchPost(b, h, "/login", body, http.StatusOK)
	}
}

// BenchmarkForgot measures POST /password/forgot for an account that
// exists and has an address, and for one that does not: the request does
// the same work for both (the lookup runs after the answer), so the two
// should cost the same.
func BenchmarkForgot(b *testing.B) {
	srv := testenv.StartSMTPServer(b)
	sender, err := smtpmail.New(smtpmail.Options{URL: srv.URL(), From: "app@example.org"})
	if err != nil {
		b.Fatal(err)
	}
	q := mail.NewQueue(sender, mail.QueueOptions{})
	b.Cleanup(func() { _ = q.Close(context.Background()) })
	a, h, _ := benchApp(b, apptest.Backends[0], func(c *apptest.Config) {
		c.Auth.Throttle.Disabled = true // measure the request, not the count
		c.Auth.Recovery = auth.Recovery{Mail: q, BaseURL: "http://127.0.0.1", Notices: auth.Notices{NoNewSignIn: true}}
	})
	b.Cleanup(func() { _ = a.Auth.Close() })
	if err := a.Users.SetEmail(context.Background(), a.UserID(b, "bench"), "bench@example.org"); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"known", "unknown"} {
		b.Run(name, func(b *testing.B) {
			email := "bench@example.org"
			if name == "unknown" {
				email = "nobody@example.org"
			}
			body := `{"email":"` + email + `"}`
			b.ReportAllocs()
			for b.Loop() {
				benchPost(b, h, "/password/forgot", body, http.StatusAccepted)
			}
		})
	}
}

// benchPost sends one JSON POST to h and fails the benchmark on another
// status than want.
func benchPost(b *testing.B, h http.Handler, path, body string, want int) {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != want {
		b.Fatalf("%d %s", w.Code, w.Body)
	}
}
