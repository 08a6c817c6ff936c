package handlers_test

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
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

func TestPasswordChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		cl.register("kate", "kate's password")
		others := []*client{a.client(t), a.client(t)}
		for _, o := range others {
			o.login("kate", "kate's password")
		}
		before := cl.sessionCookie()
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
			cl.want(cl.do("POST", "/password", tc.body), tc.st, tc.code)
		}
		r := cl.do("POST", "/password", map[string]any{"currentPassword": "kate's password", "newPassword": "kate's new password"})
		cl.want(r, http.StatusOK, "")
		if r.json["revoked"].(float64) != 2 {
			t.Errorf("revoked = %v, want 2", r.json["revoked"])
		}
		after := cl.sessionCookie()
		if after == nil || after.Value == before.Value {
			t.Error("the session was not regenerated")
		}
		cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
		for _, o := range others {
			o.want(o.do("GET", "/me", nil), http.StatusUnauthorized, "")
		}
		a.withCookie(t, before).want(a.withCookie(t, before).do("GET", "/me", nil), http.StatusUnauthorized, "")
		n := a.client(t)
		n.want(n.do("POST", "/login", creds("kate", "kate's password")), http.StatusUnauthorized, "invalid_credentials")
		n.login("kate", "kate's new password")
	})
}

func TestRehashOnCostChange(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := backends[0].open(t, clock)
	old := newApp(t, store, db, clock)
	old.client(t).register("leo", "leo's password")
	newer := newApp(t, store, db, clock, func(c *authConfig) { c.auth.Passwords.BcryptCost = 5 })
	hash := func() string {
		u, err := newer.users.FindByUsername(context.Background(), "leo")
		if err != nil {
			t.Fatal(err)
		}
		return u.PasswordHash
	}
	if c, _ := bcrypt.Cost([]byte(hash())); c != 4 {
		t.Fatalf("registered at cost %d", c)
	}
	newer.client(t).login("leo", "leo's password")
	if c, _ := bcrypt.Cost([]byte(hash())); c != 5 {
		t.Errorf("after login the hash has cost %d, want 5", c)
	}
	newer.client(t).login("leo", "leo's password")
}

// holdUsers holds the next username lookup, after it read the user, until
// released: a login that loaded the old password hash and is waiting for a
// bcrypt slot.
type holdUsers struct {
	models.UserStore[*Account]
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdUsers) FindByUsername(ctx context.Context, name string) (*Account, error) {
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
	eachBackend(t, func(t *testing.T, b backend) {
		hold := &holdUsers{held: make(chan struct{}), release: make(chan struct{})}
		a := newEnv(t, b, func(c *authConfig) {
			hold.UserStore = c.auth.Users
			c.auth.Users = hold
		})
		owner := a.client(t)
		owner.register("victor", "victor's old password")
		attacker := a.client(t)
		hold.armed.Store(true)
		done := make(chan *response)
		go func() { done <- attacker.do("POST", "/login", creds("victor", "victor's old password")) }()
		<-hold.held
		owner.want(owner.do("POST", "/password", map[string]any{
			"currentPassword": "victor's old password", "newPassword": "victor's new password",
		}), http.StatusOK, "")
		close(hold.release)
		if r := <-done; r.status != http.StatusOK {
			t.Fatalf("the login in flight: %d %s", r.status, r.body)
		}
		// The session it got was made with superseded credentials.
		attacker.want(attacker.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		owner.want(owner.do("GET", "/me", nil), http.StatusOK, "")
		attacker.want(attacker.do("POST", "/login", creds("victor", "victor's old password")), http.StatusUnauthorized, "invalid_credentials")
	})
}

// Users outside a request: a script seeds an account with CreateUser, an
// administrator's SetPassword ends every session of the user on every
// instance, and an operator lists and ends a user's sessions; each change
// is reported as an account event without a client.
func TestUsersOutsideRequests(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		var events []auth.Event
		a := newEnv(t, b, func(c *authConfig) {
			c.auth.OnEvent = func(e auth.Event) {
				mu.Lock()
				defer mu.Unlock()
				if e.IPAddress == "" {
					events = append(events, e)
				}
			}
		})
		ctx := context.Background()
		admin, err := a.a.Register(ctx, " Admin ", "the admin's password")
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
			if _, err := a.a.Register(ctx, tt.name, tt.pw); !errors.Is(err, tt.want) {
				t.Errorf("CreateUser(%q) = %v, want %v", tt.name, err, tt.want)
			}
		}
		phone, laptop := a.client(t), a.client(t)
		phone.login("admin", "the admin's password")
		laptop.login("admin", "the admin's password")
		n, err := a.a.SetPassword(ctx, admin.AuthID(), "a new password")
		if err != nil || n != 2 {
			t.Fatalf("SetPassword = %d, %v; want 2 sessions revoked", n, err)
		}
		phone.want(phone.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		laptop.want(laptop.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		phone.want(phone.do("POST", "/login", creds("admin", "the admin's password")), http.StatusUnauthorized, "invalid_credentials")
		phone.login("admin", "a new password")
		if _, err := a.a.SetPassword(ctx, "424242", "a new password"); !errors.Is(err, models.ErrUserNotFound) {
			t.Errorf("SetPassword of an unknown user = %v", err)
		}
		if _, err := a.a.SetPassword(ctx, admin.AuthID(), "short"); !errors.Is(err, auth.ErrWeakPassword) {
			t.Errorf("SetPassword with a weak password = %v", err)
		}

		// An operator's view of the user's sessions, and ending them.
		laptop.login("admin", "a new password")
		list, err := a.a.Sessions().List(ctx, admin.AuthID())
		if err != nil || len(list) != 2 || list[0].Current || list[1].Current || list[0].IPAddress != "127.0.0.1" {
			t.Fatalf("UserSessions = %+v, %v; want the two sessions, none current", list, err)
		}
		other, _ := a.a.Register(ctx, "other", "the other's password")
		if err := a.a.Revoke(ctx, other.AuthID(), list[0].ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("revoking admin's session as another user's = %v, want ErrNotFound", err)
		}
		if err := a.a.Revoke(ctx, admin.AuthID(), list[0].ID); err != nil {
			t.Fatalf("RevokeUserSession = %v", err)
		}
		if err := a.a.Revoke(ctx, admin.AuthID(), list[0].ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("revoking it again = %v, want ErrNotFound", err)
		}
		survivor := laptop
		switch p, l := phone.do("GET", "/me", nil).status, laptop.do("GET", "/me", nil).status; {
		case p == http.StatusUnauthorized && l == http.StatusOK:
		case p == http.StatusOK && l == http.StatusUnauthorized:
			survivor = phone
		default:
			t.Fatalf("after revoking one session of two: GET /me answered %d and %d", p, l)
		}
		if n, err := a.a.RevokeAll(ctx, admin.AuthID()); err != nil || n != 1 {
			t.Errorf("RevokeUserSessions = %d, %v; want 1", n, err)
		}
		survivor.want(survivor.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		if list, err := a.a.Sessions().List(ctx, admin.AuthID()); err != nil || len(list) != 0 {
			t.Errorf("UserSessions after revoking all = %v, %v", list, err)
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
