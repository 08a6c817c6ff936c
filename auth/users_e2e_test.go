package auth_test

// The user cache: what a request sees of a user changed behind the
// cache's back, invalidated, deleted, or changed on another instance.

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

func TestUserCache(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		cl := a.Client(t)
		cl.Register("grace", "grace's password")
		id := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)["id"]

		// An update behind the cache's back shows only after invalidation.
		db := a.Users.DB()
		if err := db.Model(&apptest.Account{}).Where("id = ?", id).Update("nickname", "grace").Error; err != nil {
			t.Fatal(err)
		}
		if got := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)["nickname"]; got != "" {
			t.Errorf("email before invalidation = %v; the cache should still hold the old user", got)
		}
		a.Auth.InvalidateUser(fmt.Sprint(id))
		if got := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)["nickname"]; got != "grace" {
			t.Errorf("email after invalidation = %v", got)
		}

		// Without invalidation, an entry lasts UserCache.TTL (5 minutes).
		db.Model(&apptest.Account{}).Where("id = ?", id).Update("nickname", "gracie")
		a.Clock.Advance(4 * time.Minute)
		if got := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)["nickname"]; got != "grace" {
			t.Errorf("email inside the cache TTL = %v; want the cached one", got)
		}
		a.Clock.Advance(time.Minute)
		if got := cl.Do("GET", "/me", nil).JSON["user"].(map[string]any)["nickname"]; got != "gracie" {
			t.Errorf("email once the cache entry expired = %v", got)
		}

		// A deleted user is logged out at the next request.
		if err := db.Exec("DELETE FROM accounts WHERE id = ?", id).Error; err != nil {
			t.Fatal(err)
		}
		a.Auth.InvalidateUser(fmt.Sprint(id))
		cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
		if c := cl.SessionCookie(); c != nil {
			t.Errorf("the deleted user's session cookie was not expired: %v", c)
		}
	})
}

func TestDeletedUserWithoutCache(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Auth.UserCache.Size = -1 })
	cl := a.Client(t)
	cl.Register("heidi", "heidi's password")
	a.Users.DB().Exec("DELETE FROM accounts")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
}

// InvalidateUser on one instance reaches the caches of the others.
func TestUserInvalidationAcrossInstances(t *testing.T) {
	apptest.NoLeaks(t)
	c, prefix := testenv.RedisClient(t)
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	db := apptest.SQLiteDB(t)
	bus := func(cfg *apptest.Config) {
		cfg.Auth.UserCache.Invalidation = redisauth.NewUserInvalidation(c, redisauth.InvalidationOptions{Channel: prefix + "invalidate"})
	}
	one, two := apptest.NewApp(t, store, db, clock, bus), apptest.NewApp(t, store, db, clock, bus)
	cl := one.Client(t)
	cl.Register("tess", "tess's password")
	other := cl.On(two)
	email := func() any { return other.Do("GET", "/me", nil).JSON["user"].(map[string]any)["nickname"] }
	if got := email(); got != "" {
		t.Fatalf("email = %v", got)
	}
	id := one.UserID(t, "tess")
	db.Model(&apptest.Account{}).Where("id = ?", id).Update("nickname", "tess")
	if got := email(); got != "" {
		t.Fatalf("the other instance did not cache the user: %v", got)
	}
	// Invalidate on instance one; instance two drops its copy. The message
	// travels through Redis (and may precede the subscription), so publish
	// until it arrives.
	testenv.Eventually(t, "the invalidation reaches the other instance", func() bool {
		one.Auth.InvalidateUser(id)
		return email() == "tess"
	})
	_ = one.Auth.Close()
	_ = two.Auth.Close()
	one.Server.Close()
	two.Server.Close()
}

// Extending the user model, the README's way, while the same user's
// requests run: each sees the change at its next request, and the race
// detector finds nothing (the cached user is never written through).
func TestUpdatingAnExtendedUser(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	owner := a.Client(t)
	owner.Register("yves", "yves's password")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := owner.On(a)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := cl.Do("GET", "/me", nil); r.Status != http.StatusOK {
					t.Errorf("GET /me during updates: %d %s", r.Status, r.Body)
					return
				}
			}
		}()
	}
	for i := range 40 {
		owner.Want(owner.Do("POST", fmt.Sprintf("/profile?nickname=yves%d", i), nil), http.StatusNoContent, "")
		if got := owner.Do("GET", "/me", nil).JSON["user"].(map[string]any)["nickname"]; got != fmt.Sprintf("yves%d", i) {
			t.Fatalf("after update %d the next request sees %v", i, got)
		}
	}
	close(stop)
	wg.Wait()
}
