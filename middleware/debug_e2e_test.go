package middleware_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/middleware"
)

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
