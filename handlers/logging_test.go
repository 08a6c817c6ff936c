package handlers_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/middleware"
)

// captureLog points the default slog logger at a buffer for one test.
func captureLog(t *testing.T) *testenv.LogBuffer {
	buf := &testenv.LogBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

func TestAccountEvents(t *testing.T) {
	var mu sync.Mutex
	var events []auth.Event
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) {
		c.Auth.OnEvent = func(e auth.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	cl := a.Client(t)
	cl.Register("vera", "vera's password")
	cl.Want(cl.Do("POST", "/login", apptest.Creds("vera", "wrong password")), http.StatusUnauthorized, "")
	for range 4 {
		cl.Do("POST", "/login", apptest.Creds("vera", "wrong password"))
	}
	cl.Want(cl.Do("POST", "/login", apptest.Creds("vera", "vera's password")), http.StatusTooManyRequests, "")
	a.Clock.Advance(time.Minute)
	cl.Login("vera", "vera's password")
	other := a.Client(t)
	other.Login("vera", "vera's password")
	cl.Want(cl.Do("POST", "/password", map[string]any{"currentPassword": "wrong password", "newPassword": "vera's new password"}), http.StatusUnauthorized, "")
	cl.Want(cl.Do("POST", "/password", map[string]any{"currentPassword": "vera's password", "newPassword": "vera's new password"}), http.StatusOK, "")
	cl.Want(cl.Do("POST", "/logout-all", nil), http.StatusOK, "")
	cl.Login("vera", "vera's new password")
	cookie := cl.SessionCookie().Value
	cl.Want(cl.Do("POST", "/logout", nil), http.StatusNoContent, "")

	mu.Lock()
	defer mu.Unlock()
	var types []string
	for _, e := range events {
		types = append(types, string(e.Type))
		if e.Time.IsZero() || e.IPAddress != "127.0.0.1" {
			t.Errorf("event without time or address: %+v", e)
		}
	}
	want := "register login_success login_failure login_failure login_failure login_failure login_failure lockout " +
		"login_success login_success login_failure password_change logout_all login_success logout"
	if strings.Join(types, " ") != want {
		t.Errorf("events:\n got %s\nwant %s", strings.Join(types, " "), want)
	}
	dump := fmt.Sprintf("%+v", events)
	for _, secret := range []string{"vera's password", "vera's new password", "wrong password", "$2a$", cookie} {
		if secret != "" && strings.Contains(dump, secret) {
			t.Errorf("an event carries a secret (%q)", secret)
		}
	}
	var actions []string
	for _, e := range events {
		if e.Type == auth.EventLoginFailure {
			actions = append(actions, e.Action)
		}
		if e.Type == auth.EventPasswordChange && e.Revoked != 1 {
			t.Errorf("password_change revoked %d, want 1", e.Revoked)
		}
		if e.Type == auth.EventLockout && (e.RetryAfter != time.Minute || e.Action != "login") {
			t.Errorf("lockout RetryAfter = %v, Action %q", e.RetryAfter, e.Action)
		}
	}
	if got := strings.Join(actions, " "); got != "login login login login login password_change" {
		t.Errorf("login_failure actions: %s", got)
	}
}

// The debug log names sessions by a short hash, never by the cookie or ID.
func TestDebugLog(t *testing.T) {
	logs := &testenv.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.Logger, c.Auth.Logger = logger, logger })
	r := gin.New()
	r.Use(middleware.Debug(logger), a.Auth.Sessions().Middleware())
	handlers.Mount(r.Group("/"), a.Auth, handlers.WithRegister())
	a.Server.Config.Handler = r
	cl := a.Client(t)
	cl.Register("dora", "dora's password")
	cookie := cl.SessionCookie().Value
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	cl.Want(cl.Do("POST", "/logout", nil), http.StatusNoContent, "")
	out := logs.String()
	for _, want := range []string{"route=/me", "status=200", "signedIn=true", "session=session(", "session created", "session destroyed"} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %q:\n%s", want, out)
		}
	}
	// The cookie is base64url(format, flags, the 32-byte ID, its MAC); the
	// store key is the ID's SHA-256, and the short name its first 8 digits.
	raw, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || len(raw) < 34 {
		t.Fatalf("cookie %q: %v", cookie, err)
	}
	key := sha256.Sum256(raw[2:34])
	full := hex.EncodeToString(key[:])
	if !strings.Contains(out, "session("+full[:8]+")") {
		t.Errorf("debug log does not name the session by its short hash %s", full[:8])
	}
	for _, secret := range []string{cookie, full, hex.EncodeToString(raw[2:34]), "dora's password"} {
		if strings.Contains(out, secret) {
			t.Errorf("debug log carries a secret: %.20s…", secret)
		}
	}
}
