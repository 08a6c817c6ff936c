package auth_test

// Account events, as the prebuilt routes report them: their order, and no
// secret in them.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
)

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
