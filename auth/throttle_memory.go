package auth

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// MemoryThrottle keeps login failure counts in this process's memory, in an
// LRU of bounded size, so that a flood of distinct usernames or addresses
// cannot grow it without limit (the least recently failed are forgotten
// first). It suits a single instance; several share NewRedisThrottle.
type MemoryThrottle struct {
	mu    sync.Mutex
	cache *lru.Cache[string, *throttleState]
}

// NewMemoryThrottle returns a throttle store holding up to size keys
// (default 100,000).
func NewMemoryThrottle(size int) *MemoryThrottle {
	if size <= 0 {
		size = 100_000
	}
	c, _ := lru.New[string, *throttleState](size) // only fails for size <= 0
	return &MemoryThrottle{cache: c}
}

// Locked implements ThrottleStore.
func (m *MemoryThrottle) Locked(_ context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if s, ok := m.cache.Peek(k.Key); ok {
			wait = max(wait, s.lockedUntil.Sub(now))
		}
	}
	return wait, nil
}

// Fail implements ThrottleStore.
func (m *MemoryThrottle) Fail(_ context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		s, ok := m.cache.Get(k.Key)
		if !ok || s.expired(now, k.Rule) {
			s = &throttleState{}
			m.cache.Add(k.Key, s)
		}
		s.fail(now, k.Rule)
		wait = max(wait, s.lockedUntil.Sub(now))
	}
	return wait, nil
}

// Reset implements ThrottleStore.
func (m *MemoryThrottle) Reset(_ context.Context, keys []ThrottleKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		m.cache.Remove(k.Key)
	}
	return nil
}

// Len returns how many keys are remembered.
func (m *MemoryThrottle) Len() int { return m.cache.Len() }
