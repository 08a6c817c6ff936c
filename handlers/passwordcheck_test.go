package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
)

// checkFunc is an auth.PasswordChecker made of a function.
type checkFunc func(ctx context.Context, pw string) error

func (f checkFunc) CheckPassword(ctx context.Context, pw string) error { return f(ctx, pw) }

// Every route that sets a password tells why it refused one: JSON for API
// clients, a redirect with the code for forms; a check that could not run
// is the server's trouble (503), and changes nothing.
func TestPasswordRefusals(t *testing.T) {
	// An application's checkers: a breach corpus of one password, and a
	// service that is down for another.
	breached := checkFunc(func(_ context.Context, pw string) error {
		if pw == "leaked in 2019" {
			return auth.ErrBreachedPassword
		}
		return nil
	})
	down := checkFunc(func(_ context.Context, pw string) error {
		if pw == "nobody can say" {
			return errors.New("breach service unreachable")
		}
		return nil
	})
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) {
		c.Auth.Passwords.Checks = []auth.PasswordChecker{breached, down}
	})
	owner := a.Client(t)
	owner.Register("petra", "petra's password")

	tests := []struct {
		name     string
		pw       string
		status   int
		code     string
		atChange bool // also refused to petra at POST /password
	}{
		{"top 10,000", "password123", 400, "common_password", true},
		{"the most common", "12345678", 400, "common_password", true},
		{"any case", "Qwertyuiop", 400, "common_password", true},
		{"fullwidth", "ｉｌｏｖｅｙｏｕ", 400, "common_password", true},
		{"the username", "Petra.Pan", 400, "common_password", false}, // petra's own: TestPasswordIsUsername
		{"breached", "leaked in 2019", 400, "breached_password", true},
		{"unchecked", "nobody can say", 503, "password_check_unavailable", true},
		{"short before any list", "1234567", 400, "weak_password", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.Client(t)
			r := cl.Do("POST", "/register", apptest.Creds("petra.pan", tt.pw))
			cl.Want(r, tt.status, tt.code)
			if msg, _ := r.JSON["error"].(string); msg == "" {
				t.Errorf("no message for people: %s", r.Body)
			}
			if tt.atChange {
				r = owner.Do("POST", "/password", map[string]any{"currentPassword": "petra's password", "newPassword": tt.pw})
				owner.Want(r, tt.status, tt.code)
			}
		})
	}
	// None of the refusals created an account or changed a password.
	a.Client(t).Login("petra", "petra's password")
	nobody := a.Client(t)
	nobody.Want(nobody.Do("POST", "/login", apptest.Creds("petra.pan", "leaked in 2019")), http.StatusUnauthorized, "invalid_credentials")

	// A browser's form comes back to its page with the code.
	form := a.Client(t)
	r := form.Do("POST", "/register", url.Values{"username": {"quinn"}, "password": {"password123"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/register?error=common_password" {
		t.Errorf("form registration of a common password: %d to %q", r.Status, r.Header.Get("Location"))
	}
	r = owner.Do("POST", "/password", url.Values{"currentPassword": {"petra's password"}, "newPassword": {"leaked in 2019"}, "returnTo": {"/account"}})
	if r.Header.Get("Location") != "/account?error=breached_password&returnTo=%2Faccount" {
		t.Errorf("form change to a breached password: %d to %q", r.Status, r.Header.Get("Location"))
	}
}

// The username rule holds at change with the user's own name; the common
// list can be turned off, the username rule cannot.
func TestPasswordIsUsername(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Auth.Passwords.AllowCommon = true })
	cl := a.Client(t)
	cl.Register("rosalind", "rosalind's password")
	cl.Want(cl.Do("POST", "/password", map[string]any{"currentPassword": "rosalind's password", "newPassword": "ROSALIND"}), 400, "common_password")
	cl.Want(cl.Do("POST", "/password", map[string]any{"currentPassword": "rosalind's password", "newPassword": "password123"}), 200, "")
	a.Client(t).Register("ulysses", "iloveyou")
}
