package middleware_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// env is an Auth on a memory store and SQLite users, with a signed-in
// user's cookie, and the log lines the Auth wrote.
type env struct {
	a      *auth.Auth[*models.User]
	store  *memstore.Store
	clock  *fakeclock.Clock
	cookie *http.Cookie
	logs   *testenv.LogBuffer
	logger *slog.Logger
}

func newEnv(t *testing.T, maxSessions int) *env {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "users.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Time{})
	store := memstore.New(memstore.Options{MaxSessions: maxSessions, Now: clock.Now, SweepInterval: -1})
	t.Cleanup(func() { _ = store.Close() })
	logs := &testenv.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sm, err := session.New(session.Config{
		Store: store, Secrets: [][]byte{[]byte("middleware-test-secret-0123456789ab")},
		Now: clock.Now, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config[*models.User]{
		Sessions: sm, Users: users, Now: clock.Now, Logger: logger,
		Passwords: auth.Passwords{BcryptCost: 4, AllowLowCost: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	e := &env{a: a, store: store, clock: clock, logs: logs, logger: logger}
	// Sign a user in through a route of the test's own.
	if _, err := a.Register(context.Background(), auth.NewUser{Username: "mia", Password: "mia's password"}); err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(a.Sessions().Middleware())
	r.POST("/login", func(c *gin.Context) {
		u, err := a.Authenticate(c, "mia", "mia's password")
		if err == nil {
			err = a.Login(c, u, auth.LoginOptions{})
		}
		if err != nil {
			middleware.WriteError(c, err)
		}
	})
	w := serve(r, "POST", "/login", nil)
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			e.cookie = c
		}
	}
	if e.cookie == nil {
		t.Fatalf("no session cookie at login: %d %s", w.Code, w.Body)
	}
	return e
}

func serve(h http.Handler, method, path string, cookie *http.Cookie, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func setCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}

func protected(e *env) *gin.Engine {
	r := gin.New()
	r.Use(e.a.Sessions().Middleware())
	r.Any("/private", middleware.RequireAuth(e.a), func(c *gin.Context) { c.String(http.StatusOK, "secret") })
	return r
}

func TestRequireAuth(t *testing.T) {
	e := newEnv(t, 0)
	r := protected(e)
	html := []string{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}
	tests := []struct {
		name     string
		method   string
		path     string
		cookie   *http.Cookie
		headers  []string
		status   int
		location string
		code     string
	}{
		{"signed in", "GET", "/private", e.cookie, nil, http.StatusOK, "", ""},
		{"API client", "GET", "/private", nil, nil, http.StatusUnauthorized, "", "unauthenticated"},
		{"API client asking for JSON", "GET", "/private", nil, []string{"Accept", "application/json"}, http.StatusUnauthorized, "", "unauthenticated"},
		{"browser", "GET", "/private?tab=2", nil, html, http.StatusSeeOther, "/login?returnTo=%2Fprivate%3Ftab%3D2", ""},
		{"browser HEAD", "HEAD", "/private", nil, html, http.StatusSeeOther, "/login?returnTo=%2Fprivate", ""},
		{"browser POST: nowhere to return to", "POST", "/private", nil, html, http.StatusSeeOther, "/login", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(r, tt.method, tt.path, tt.cookie, tt.headers...)
			if w.Code != tt.status || w.Header().Get("Location") != tt.location || !strings.Contains(w.Body.String(), tt.code) {
				t.Errorf("%d %q %s; want %d %q %s", w.Code, w.Header().Get("Location"), w.Body, tt.status, tt.location, tt.code)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if setCookie(w) != nil && tt.cookie == nil {
				t.Error("an anonymous request got a session cookie")
			}
		})
	}
	// After the idle timeout: session_expired, or expired=true for browsers.
	e.clock.Advance(31 * time.Minute)
	if w := serve(r, "GET", "/private", e.cookie); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "session_expired") {
		t.Errorf("expired, API: %d %s", w.Code, w.Body)
	}
	if w := serve(r, "GET", "/private", e.cookie, html...); w.Header().Get("Location") != "/login?expired=true&returnTo=%2Fprivate" {
		t.Errorf("expired, browser: %q", w.Header().Get("Location"))
	}
}

// A misconfigured chain answers 500 and says why in the log (slog's
// default: RequireAuth has no logger of its own).
func TestRequireAuthWithoutSessionMiddleware(t *testing.T) {
	e := newEnv(t, 0)
	prev := slog.Default()
	logs := &testenv.LogBuffer{}
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	r := gin.New()
	r.GET("/x", middleware.RequireAuth(e.a), func(c *gin.Context) { c.String(http.StatusOK, "no") })
	if w := serve(r, "GET", "/x", nil); w.Code != http.StatusInternalServerError {
		t.Errorf("RequireAuth without the session middleware: %d", w.Code)
	}
	if !strings.Contains(logs.String(), "RequireAuth without the session middleware") {
		t.Errorf("no line in the log: %s", logs)
	}
}

func TestWantsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"": false, "*/*": false, "application/json": false, "text/html": true,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": true,
		"application/json, text/html;q=0.5":                               false,
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		if accept != "" {
			c.Request.Header.Set("Accept", accept)
		}
		if got := middleware.WantsHTML(c); got != want {
			t.Errorf("WantsHTML(Accept: %q) = %v", accept, got)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	r := gin.New()
	r.POST("/", middleware.BodyLimit(10), func(c *gin.Context) {
		if _, err := io.ReadAll(c.Request.Body); err != nil {
			middleware.WriteError(c, middleware.ErrPayloadTooLarge)
			return
		}
		c.Status(http.StatusNoContent)
	})
	for _, tt := range []struct {
		body    string
		chunked bool
		want    int
	}{
		{"short", false, http.StatusNoContent},
		{"0123456789", false, http.StatusNoContent},
		{"0123456789a", false, http.StatusRequestEntityTooLarge},
		{"0123456789a", true, http.StatusRequestEntityTooLarge}, // no Content-Length
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		if tt.chunked {
			req.ContentLength = -1
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != tt.want {
			t.Errorf("%d bytes (chunked %v): %d, want %d", len(tt.body), tt.chunked, w.Code, tt.want)
		}
	}
}

func TestCrossOrigin(t *testing.T) {
	r := gin.New()
	r.Any("/", middleware.CrossOrigin(nil), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for _, tt := range []struct {
		method  string
		headers []string
		want    int
	}{
		{"POST", nil, http.StatusNoContent},
		{"POST", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusNoContent},
		{"POST", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"DELETE", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"GET", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusNoContent},
	} {
		w := serve(r, tt.method, "/", nil, tt.headers...)
		if w.Code != tt.want {
			t.Errorf("%s %v: %d, want %d", tt.method, tt.headers, w.Code, tt.want)
		}
		if tt.want == http.StatusForbidden && !strings.Contains(w.Body.String(), "cross_origin") {
			t.Errorf("body %s", w.Body)
		}
	}
}

func TestNoStore(t *testing.T) {
	r := gin.New()
	r.GET("/", middleware.NoStore(), func(c *gin.Context) { c.String(http.StatusOK, "x") })
	if got := serve(r, "GET", "/", nil).Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
}

// Debug logs one line per request, naming the session by the short hash
// of its key.
func TestDebug(t *testing.T) {
	e := newEnv(t, 0)
	r := gin.New()
	r.Use(middleware.Debug(e.logger), e.a.Sessions().Middleware())
	r.GET("/x", func(c *gin.Context) { c.String(http.StatusOK, "x") })
	serve(r, "GET", "/x", e.cookie)
	out := e.logs.String()
	for _, want := range []string{"route=/x", "status=200", "signedIn=true", "session=session("} {
		if !strings.Contains(out, want) {
			t.Errorf("debug line lacks %q: %s", want, out)
		}
	}
	if strings.Contains(out, e.cookie.Value) {
		t.Error("the debug line carries the cookie")
	}
}
