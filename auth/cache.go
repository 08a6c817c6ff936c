package auth

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// userCache is the LRU of deserialized users (Passport's deserializeUser
// cache): bounded in size, and each entry good for a TTL measured on the
// Auth's clock. It is golang-lru's plain LRU with an expiry stamp per entry
// rather than its expirable variant, whose cleanup goroutine can never be
// stopped and whose clock cannot be set by a test.
//
// A user read from the store before an invalidation must not be cached
// after it: every remove moves the epoch on, and addIf adds only when the
// epoch has not moved since the caller began reading.
type userCache[U any] struct {
	lru *lru.Cache[string, cachedUser[U]]
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex // orders addIf against remove
	epoch uint64
}

type cachedUser[U any] struct {
	user       U
	credential string // credentialOf the user's password hash
	until      time.Time
}

func newUserCache[U any](size int, ttl time.Duration, now func() time.Time) *userCache[U] {
	c, _ := lru.New[string, cachedUser[U]](size) // only fails for size <= 0
	return &userCache[U]{lru: c, ttl: ttl, now: now}
}

func (c *userCache[U]) get(id string) (cachedUser[U], bool) {
	e, ok := c.lru.Get(id)
	if !ok {
		return cachedUser[U]{}, false
	}
	if !c.now().Before(e.until) {
		c.lru.Remove(id)
		return cachedUser[U]{}, false
	}
	return e, true
}

// begin returns the epoch to give addIf for a user about to be read.
func (c *userCache[U]) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// addIf caches u unless a user was invalidated since epoch.
func (c *userCache[U]) addIf(id string, u U, credential string, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch == epoch {
		c.lru.Add(id, cachedUser[U]{user: u, credential: credential, until: c.now().Add(c.ttl)})
	}
}

func (c *userCache[U]) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.lru.Remove(id)
}
