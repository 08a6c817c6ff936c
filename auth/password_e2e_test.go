package auth_test

// Password changes, by the user and by an operator, and what they end:
// the other sessions, and logins in flight with the old password.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

func TestPasswordChange(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		cl := a.Client(t)
		cl.Register("kate", "kate's password")
		others := []*apptest.Client{a.Client(t), a.Client(t)}
		for _, o := range others {
			o.Login("kate", "kate's password")
		}
		before := cl.SessionCookie()
		for _, tc := range []struct {
			body map[string]any
			code string
			st   int
		}{
			{map[string]any{"currentPassword": "wrong one!", "newPassword": "kate's new password"}, "invalid_credentials", 401},
			{map[string]any{"currentPassword": "kate's password", "newPassword": "short"}, "weak_password", 400},
			{map[string]any{"currentPassword": "kate's password", "newPassword": strings.Repeat("é", 37)}, "password_too_long", 400},
			{map[string]any{"currentPassword": "kate's password"}, "bad_request", 400},
		} {
			cl.Want(cl.Do("POST", "/password", tc.body), tc.st, tc.code)
		}
		r := cl.Do("POST", "/password", map[string]any{"currentPassword": "kate's password", "newPassword": "kate's new password"})
		cl.Want(r, http.StatusOK, "")
		if r.JSON["revoked"].(float64) != 2 {
			t.Errorf("revoked = %v, want 2", r.JSON["revoked"])
		}
		after := cl.SessionCookie()
		if after == nil || after.Value == before.Value {
			t.Error("the session was not regenerated")
		}
		cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
		for _, o := range others {
			o.Want(o.Do("GET", "/me", nil), http.StatusUnauthorized, "")
		}
		a.WithCookie(t, before).Want(a.WithCookie(t, before).Do("GET", "/me", nil), http.StatusUnauthorized, "")
		n := a.Client(t)
		n.Want(n.Do("POST", "/login", apptest.Creds("kate", "kate's password")), http.StatusUnauthorized, "invalid_credentials")
		n.Login("kate", "kate's new password")
	})
}

func TestRehashOnCostChange(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	old := apptest.NewApp(t, store, db, clock)
	old.Client(t).Register("leo", "leo's password")
	newer := apptest.NewApp(t, store, db, clock, func(c *apptest.Config) { c.Auth.Passwords.BcryptCost = 5 })
	hash := func() string {
		u, err := newer.Users.FindByUsername(context.Background(), "leo")
		if err != nil {
			t.Fatal(err)
		}
		return u.PasswordHash
	}
	if c, _ := bcrypt.Cost([]byte(hash())); c != 4 {
		t.Fatalf("registered at cost %d", c)
	}
	newer.Client(t).Login("leo", "leo's password")
	if c, _ := bcrypt.Cost([]byte(hash())); c != 5 {
		t.Errorf("after login the hash has cost %d, want 5", c)
	}
	newer.Client(t).Login("leo", "leo's password")
}

// holdUsers holds the next username lookup, after it read the user, until
// released: a login that loaded the old password hash and is waiting for a
// bcrypt slot.
type holdUsers struct {
	models.UserStore[*apptest.Account]
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdUsers) FindByUsername(ctx context.Context, name string) (*apptest.Account, error) {
	u, err := h.UserStore.FindByUsername(ctx, name)
	if h.armed.CompareAndSwap(true, false) {
		close(h.held)
		<-h.release
	}
	return u, err
}

// A login that loaded the old password hash before a password change, and
// finishes after it, gets no session that outlives the change.
func TestPasswordChangeEndsLoginsInFlight(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		hold := &holdUsers{held: make(chan struct{}), release: make(chan struct{})}
		a := apptest.NewEnv(t, b, func(c *apptest.Config) {
			hold.UserStore = c.Auth.Users
			c.Auth.Users = hold
		})
		owner := a.Client(t)
		owner.Register("victor", "victor's old password")
		attacker := a.Client(t)
		hold.armed.Store(true)
		done := make(chan *apptest.Response)
		go func() { done <- attacker.Do("POST", "/login", apptest.Creds("victor", "victor's old password")) }()
		<-hold.held
		owner.Want(owner.Do("POST", "/password", map[string]any{
			"currentPassword": "victor's old password", "newPassword": "victor's new password",
		}), http.StatusOK, "")
		close(hold.release)
		if r := <-done; r.Status != http.StatusOK {
			t.Fatalf("the login in flight: %d %s", r.Status, r.Body)
		}
		// The session it got was made with superseded credentials.
		attacker.Want(attacker.Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		owner.Want(owner.Do("GET", "/me", nil), http.StatusOK, "")
		attacker.Want(attacker.Do("POST", "/login", apptest.Creds("victor", "victor's old password")), http.StatusUnauthorized, "invalid_credentials")
	})
}

// Users outside a request: a script seeds an account with CreateUser, an
// administrator's SetPassword ends every session of the user on every
// instance, and an operator lists and ends a user's sessions; each change
// is reported as an account event without a client.
func TestUsersOutsideRequests(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		var mu sync.Mutex
		var events []auth.Event
		a := apptest.NewEnv(t, b, func(c *apptest.Config) {
			c.Auth.OnEvent = func(e auth.Event) {
				mu.Lock()
				defer mu.Unlock()
				if e.IPAddress == "" {
					events = append(events, e)
				}
			}
		})
		ctx := context.Background()
		admin, err := a.Auth.Register(ctx, auth.NewUser{Username: " Admin ", Password: "the admin's password"})
		if err != nil || admin.Username != "admin" {
			t.Fatalf("CreateUser = %v, %v", admin, err)
		}
		for _, tt := range []struct {
			name, pw string
			want     error
		}{
			{"admin", "another password", auth.ErrUsernameTaken},
			{"bob", "short", auth.ErrWeakPassword},
			{"abʹ", "a long password", auth.ErrInvalidUsername},
		} {
			if _, err := a.Auth.Register(ctx, auth.NewUser{Username: tt.name, Password: tt.pw}); !errors.Is(err, tt.want) {
				t.Errorf("CreateUser(%q) = %v, want %v", tt.name, err, tt.want)
			}
		}
		phone, laptop := a.Client(t), a.Client(t)
		phone.Login("admin", "the admin's password")
		laptop.Login("admin", "the admin's password")
		n, err := a.Auth.SetPassword(ctx, admin.AuthID(), "a new password")
		if err != nil || n != 2 {
			t.Fatalf("SetPassword = %d, %v; want 2 sessions revoked", n, err)
		}
		phone.Want(phone.Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		laptop.Want(laptop.Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		phone.Want(phone.Do("POST", "/login", apptest.Creds("admin", "the admin's password")), http.StatusUnauthorized, "invalid_credentials")
		phone.Login("admin", "a new password")
		if _, err := a.Auth.SetPassword(ctx, "424242", "a new password"); !errors.Is(err, models.ErrUserNotFound) {
			t.Errorf("SetPassword of an unknown user = %v", err)
		}
		if _, err := a.Auth.SetPassword(ctx, admin.AuthID(), "short"); !errors.Is(err, auth.ErrWeakPassword) {
			t.Errorf("SetPassword with a weak password = %v", err)
		}

		// An operator's view of the user's sessions, and ending them.
		laptop.Login("admin", "a new password")
		list, err := a.Auth.Sessions().List(ctx, admin.AuthID())
		if err != nil || len(list) != 2 || list[0].Current || list[1].Current || list[0].IPAddress != "127.0.0.1" {
			t.Fatalf("Sessions().List = %+v, %v; want the two sessions, none current", list, err)
		}
		other, _ := a.Auth.Register(ctx, auth.NewUser{Username: "other", Password: "the other's password"})
		if err := a.Auth.Revoke(ctx, other.AuthID(), list[0].ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("revoking admin's session as another user's = %v, want ErrNotFound", err)
		}
		if err := a.Auth.Revoke(ctx, admin.AuthID(), list[0].ID); err != nil {
			t.Fatalf("Revoke = %v", err)
		}
		if err := a.Auth.Revoke(ctx, admin.AuthID(), list[0].ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("revoking it again = %v, want ErrNotFound", err)
		}
		survivor := laptop
		switch p, l := phone.Do("GET", "/me", nil).Status, laptop.Do("GET", "/me", nil).Status; {
		case p == http.StatusUnauthorized && l == http.StatusOK:
		case p == http.StatusOK && l == http.StatusUnauthorized:
			survivor = phone
		default:
			t.Fatalf("after revoking one session of two: GET /me answered %d and %d", p, l)
		}
		if n, err := a.Auth.RevokeAll(ctx, admin.AuthID()); err != nil || n != 1 {
			t.Errorf("RevokeAll = %d, %v; want 1", n, err)
		}
		survivor.Want(survivor.Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		if list, err := a.Auth.Sessions().List(ctx, admin.AuthID()); err != nil || len(list) != 0 {
			t.Errorf("Sessions().List after RevokeAll = %v, %v", list, err)
		}

		mu.Lock()
		defer mu.Unlock()
		var got []string
		for _, e := range events {
			if e.UserID == admin.AuthID() && !e.Time.IsZero() {
				got = append(got, fmt.Sprintf("%s:%d", e.Type, e.Revoked))
			}
		}
		if want := "register:0 password_change:2 session_revoked:0 logout_all:1"; strings.Join(got, " ") != want {
			t.Errorf("events without a client: %s, want %s", strings.Join(got, " "), want)
		}
	})
}
