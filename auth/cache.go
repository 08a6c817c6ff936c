package auth

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// userCache is the LRU of deserialized users (Passport's deserializeUser
// cache): bounded in size, and each entry good for a TTL measured on the
// Auth's clock. It is golang-lru's plain LRU with an expiry stamp per entry
// rather than its expirable variant, whose cleanup goroutine can never be
// stopped and whose clock cannot be set by a test.
type userCache[U any] struct {
	lru *lru.Cache[string, cachedUser[U]]
	ttl time.Duration
	now func() time.Time
}

type cachedUser[U any] struct {
	user  U
	until time.Time
}

func newUserCache[U any](size int, ttl time.Duration, now func() time.Time) *userCache[U] {
	c, _ := lru.New[string, cachedUser[U]](size) // only fails for size <= 0
	return &userCache[U]{lru: c, ttl: ttl, now: now}
}

func (c *userCache[U]) get(id string) (U, bool) {
	e, ok := c.lru.Get(id)
	if !ok {
		var zero U
		return zero, false
	}
	if !c.now().Before(e.until) {
		c.lru.Remove(id)
		var zero U
		return zero, false
	}
	return e.user, true
}

func (c *userCache[U]) add(id string, u U) {
	c.lru.Add(id, cachedUser[U]{user: u, until: c.now().Add(c.ttl)})
}

func (c *userCache[U]) remove(id string) { c.lru.Remove(id) }
