package auth

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// MemoryThrottleOptions configures a MemoryThrottle. The zero value is
// usable.
type MemoryThrottleOptions struct {
	// Size bounds how many keys are remembered: past it, the least
	// recently attempted are forgotten first, so that a flood of distinct
	// usernames or addresses cannot grow the throttle without limit.
	// Default 100,000.
	Size int
}

// MemoryThrottle keeps login failure counts in this process's memory, in a
// bounded LRU. It suits a single instance; several share a Redis throttle
// (redisauth.NewThrottle, sqlauth.NewThrottle).
type MemoryThrottle struct {
	mu    sync.Mutex
	cache *lru.Cache[string, *throttleState]
}

// NewMemoryThrottle returns an in-process throttle store.
func NewMemoryThrottle(opts MemoryThrottleOptions) *MemoryThrottle {
	if opts.Size <= 0 {
		opts.Size = 100_000
	}
	c, _ := lru.New[string, *throttleState](opts.Size) // only fails for size <= 0
	return &MemoryThrottle{cache: c}
}

// Reserve implements ThrottleStore.
func (m *MemoryThrottle) Reserve(_ context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if s, ok := m.cache.Peek(k.Key); ok {
			wait = max(wait, s.lockedUntil.Sub(now))
		}
	}
	if wait > 0 {
		return wait, nil
	}
	for _, k := range keys {
		s, ok := m.cache.Get(k.Key)
		if !ok {
			s = &throttleState{}
			m.cache.Add(k.Key, s)
		}
		s.reserve(now, k.Rule)
	}
	return 0, nil
}

// Release implements ThrottleStore.
func (m *MemoryThrottle) Release(_ context.Context, now time.Time, keys []ThrottleKey, succeeded bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if succeeded && k.Account {
			m.cache.Remove(k.Key)
			continue
		}
		if s, ok := m.cache.Peek(k.Key); ok {
			s.release(now)
		}
	}
	return nil
}

// Len returns how many keys are remembered.
func (m *MemoryThrottle) Len() int { return m.cache.Len() }
