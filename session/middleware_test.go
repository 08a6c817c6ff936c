package session_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// env is a session manager on a memory store, with a signed-in session's
// cookie, and the log lines the manager wrote.
type env struct {
	m      *session.Manager
	store  *memstore.Store
	clock  *fakeclock.Clock
	cookie *http.Cookie
	logs   *testenv.LogBuffer
}

func newEnv(t *testing.T, maxSessions int) *env {
	t.Helper()
	clock := fakeclock.New(time.Time{})
	store := memstore.New(memstore.Options{MaxSessions: maxSessions, Now: clock.Now, SweepInterval: -1})
	t.Cleanup(func() { _ = store.Close() })
	logs := &testenv.LogBuffer{}
	m, err := session.New(session.Config{
		Store: store, Secrets: [][]byte{[]byte("session-test-secret-0123456789abcd")}, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{m: m, store: store, clock: clock, logs: logs}
	r := gin.New()
	r.Use(m.Middleware())
	r.POST("/login", func(c *gin.Context) {
		if err := session.From(c).Bind(session.Binding{UserID: "mia"}); err != nil {
			t.Error(err)
		}
	})
	w := serve(r, "POST", "/login", nil)
	if e.cookie = setCookie(w); e.cookie == nil {
		t.Fatalf("no session cookie at sign-in: %d %s", w.Code, w.Body)
	}
	return e
}

// signedIn answers 200 to a signed-in session, 401 otherwise.
func signedIn(e *env) *gin.Engine {
	r := gin.New()
	r.Use(e.m.Middleware())
	r.GET("/", func(c *gin.Context) {
		if _, ok := session.From(c).Bound(); !ok {
			c.Status(http.StatusUnauthorized)
			return
		}
		c.Status(http.StatusOK)
	})
	return r
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

// The session is committed before the first byte of the response, however
// the handler writes it: the cookie of a session the handler started is on
// the response.
func TestSessionCommitsBeforeTheResponse(t *testing.T) {
	e := newEnv(t, 0)
	writes := map[string]func(c *gin.Context){
		"String":         func(c *gin.Context) { c.String(http.StatusOK, "ok") },
		"JSON":           func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) },
		"Writer.Write":   func(c *gin.Context) { _, _ = c.Writer.Write([]byte("ok")) },
		"WriteHeaderNow": func(c *gin.Context) { c.Writer.WriteHeaderNow() },
		"Flush":          func(c *gin.Context) { c.Writer.Flush() },
		"Status only":    func(c *gin.Context) { c.Status(http.StatusNoContent) },
		"nothing":        func(c *gin.Context) {},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			r := gin.New()
			r.Use(e.m.Middleware())
			r.GET("/", func(c *gin.Context) {
				if err := session.Set(c, "seen", true); err != nil {
					t.Error(err)
				}
				write(c)
			})
			w := serve(r, "GET", "/", nil)
			if setCookie(w) == nil {
				t.Errorf("no session cookie on the response: %v", w.Header())
			}
		})
	}
}

// Installed globally and again on a route, the middleware works once.
func TestSessionInstalledTwice(t *testing.T) {
	e := newEnv(t, 0)
	r := gin.New()
	r.Use(e.m.Middleware())
	r.GET("/", e.m.Middleware(), func(c *gin.Context) {
		n, _ := session.Get[int](c, "n")
		_ = session.Set(c, "n", n+1)
		c.String(http.StatusOK, "%d", n+1)
	})
	w := serve(r, "GET", "/", e.cookie)
	if w.Body.String() != "1" || len(w.Header().Values("Set-Cookie")) > 1 {
		t.Errorf("%s, Set-Cookie %v", w.Body, w.Header().Values("Set-Cookie"))
	}
	if w := serve(r, "GET", "/", e.cookie); w.Body.String() != "2" {
		t.Errorf("second request: %s", w.Body)
	}
}

// A commit that fails never reports success: the handler's response is
// replaced by 503 store_unavailable, nothing the handler set goes out, and
// the failure is logged to the manager's logger. Here the memory store is full
// of signed-in sessions and refuses an anonymous one.
func TestFailedCommitReplacesTheResponse(t *testing.T) {
	e := newEnv(t, 1)
	prev := slog.Default()
	defaultLog := &testenv.LogBuffer{}
	slog.SetDefault(slog.New(slog.NewTextHandler(defaultLog, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	r := gin.New()
	r.Use(e.m.Middleware())
	r.POST("/save", func(c *gin.Context) {
		if err := session.Set(c, "k", "v"); err != nil {
			t.Error(err)
		}
		c.Header("X-Handler", "ran")
		c.SetCookie("app", "x", 0, "/", "", false, true)
		c.String(http.StatusOK, "saved!")
	})
	r.POST("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "already sent")
		_ = session.Set(c, "k", "v") // after the response started
	})
	w := serve(r, "POST", "/save", nil)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"code":"store_unavailable"`) {
		t.Fatalf("commit failure answered %d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "saved!") || w.Header().Get("X-Handler") != "" || len(w.Result().Cookies()) != 0 {
		t.Errorf("the handler's response leaked out: %v %s", w.Header(), w.Body)
	}
	serve(r, "POST", "/late", nil)
	if !strings.Contains(e.logs.String(), "after the response started were not saved") {
		t.Errorf("the manager's logger has no line for the late change: %s", e.logs)
	}
	if defaultLog.String() != "" {
		t.Errorf("the middleware logged to slog.Default: %s", defaultLog)
	}
	// The signed-in session was not evicted for the anonymous one.
	if w := serve(signedIn(e), "GET", "/", e.cookie); w.Code != http.StatusOK {
		t.Errorf("the signed-in user after the failed commits: %d", w.Code)
	}
}

// A session destroyed by another request (logout elsewhere) while this one
// changed it: the change is not written, the client is told its session
// ended, and its cookie is expired.
func TestCommitOnADestroyedSession(t *testing.T) {
	e := newEnv(t, 0)
	r := gin.New()
	r.Use(e.m.Middleware())
	r.POST("/write", func(c *gin.Context) {
		b, _ := session.From(c).Bound()
		if _, err := e.store.DestroyUser(c.Request.Context(), b.UserID); err != nil { // elsewhere, meanwhile
			t.Error(err)
		}
		if err := session.Set(c, "k", "v"); err != nil {
			t.Error(err)
		}
		c.Header("X-Handler", "ran")
		c.String(http.StatusOK, "written!")
	})
	w := serve(r, "POST", "/write", e.cookie)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"code":"session_expired"`) {
		t.Fatalf("write to a destroyed session answered %d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Handler") != "" || strings.Contains(w.Body.String(), "written!") {
		t.Error("the handler's response leaked out")
	}
	if c := setCookie(w); c == nil || c.MaxAge >= 0 {
		t.Errorf("the session cookie was not expired: %v", w.Header().Values("Set-Cookie"))
	}
}
