package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

func TestUserCache(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		cl.register("grace", "grace's password")
		id := cl.do("GET", "/me", nil).json["user"].(map[string]any)["id"]

		// An update behind the cache's back shows only after invalidation.
		db := a.users.DB()
		if err := db.Model(&Account{}).Where("id = ?", id).Update("email", "grace@example.org").Error; err != nil {
			t.Fatal(err)
		}
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "" {
			t.Errorf("email before invalidation = %v; the cache should still hold the old user", got)
		}
		a.a.InvalidateUser(fmt.Sprint(id))
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "grace@example.org" {
			t.Errorf("email after invalidation = %v", got)
		}

		// Without invalidation, an entry lasts UserCacheTTL (5 minutes).
		db.Model(&Account{}).Where("id = ?", id).Update("email", "grace@example.net")
		a.clock.Advance(4 * time.Minute)
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "grace@example.org" {
			t.Errorf("email inside the cache TTL = %v; want the cached one", got)
		}
		a.clock.Advance(time.Minute)
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "grace@example.net" {
			t.Errorf("email once the cache entry expired = %v", got)
		}

		// A deleted user is logged out at the next request.
		if err := db.Exec("DELETE FROM accounts WHERE id = ?", id).Error; err != nil {
			t.Fatal(err)
		}
		a.a.InvalidateUser(fmt.Sprint(id))
		cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
		if c := cl.sessionCookie(); c != nil {
			t.Errorf("the deleted user's session cookie was not expired: %v", c)
		}
	})
}

func TestDeletedUserWithoutCache(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.auth.UserCache.Size = -1 })
	cl := a.client(t)
	cl.register("heidi", "heidi's password")
	a.users.DB().Exec("DELETE FROM accounts")
	cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
}

// InvalidateUser on one instance reaches the caches of the others.
func TestUserInvalidationAcrossInstances(t *testing.T) {
	noLeaks(t)
	c, prefix := redisClient(t)
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	db := sqliteDB(t)
	bus := func(cfg *authConfig) {
		cfg.auth.UserCache.Invalidation = redisauth.NewUserInvalidation(c, redisauth.InvalidationOptions{Channel: prefix + "invalidate"})
	}
	one, two := newApp(t, store, db, clock, bus), newApp(t, store, db, clock, bus)
	cl := one.client(t)
	cl.register("tess", "tess's password")
	other := cl.on(two)
	email := func() any { return other.do("GET", "/me", nil).json["user"].(map[string]any)["email"] }
	if got := email(); got != "" {
		t.Fatalf("email = %v", got)
	}
	id := one.userID(t, "tess")
	db.Model(&Account{}).Where("id = ?", id).Update("email", "tess@example.org")
	if got := email(); got != "" {
		t.Fatalf("the other instance did not cache the user: %v", got)
	}
	// Invalidate on instance one; instance two drops its copy. The message
	// travels through Redis (and may precede the subscription), so publish
	// until it arrives.
	testenv.Eventually(t, "the invalidation reaches the other instance", func() bool {
		one.a.InvalidateUser(id)
		return email() == "tess@example.org"
	})
	_ = one.a.Close()
	_ = two.a.Close()
	one.srv.Close()
	two.srv.Close()
}

func (a *app) userID(t *testing.T, name string) string {
	u, err := a.users.FindByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.AuthID()
}

// Extending the user model, the README's way, while the same user's
// requests run: each sees the change at its next request, and the race
// detector finds nothing (the cached user is never written through).
func TestUpdatingAnExtendedUser(t *testing.T) {
	a := newEnv(t, backends[0])
	owner := a.client(t)
	owner.register("yves", "yves's password")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := owner.on(a)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := cl.do("GET", "/me", nil); r.status != http.StatusOK {
					t.Errorf("GET /me during updates: %d %s", r.status, r.body)
					return
				}
			}
		}()
	}
	for i := range 40 {
		owner.want(owner.do("POST", fmt.Sprintf("/profile?email=yves%d@example.org", i), nil), http.StatusNoContent, "")
		if got := owner.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != fmt.Sprintf("yves%d@example.org", i) {
			t.Fatalf("after update %d the next request sees %v", i, got)
		}
	}
	close(stop)
	wg.Wait()
}
