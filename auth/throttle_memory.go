package auth

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// MemoryThrottleStoreOptions configures a MemoryThrottleStore. The zero value is
// usable.
type MemoryThrottleStoreOptions struct {
	// Size bounds how many keys are remembered. Default 100,000.
	Size int
}

// MemoryThrottleStore keeps login failure counts in this process's memory. It
// suits a single instance; several share a Redis or SQL throttle
// (redisauth.NewThrottleStore, sqlauth.NewThrottleStore).
//
// It holds at most Size keys, and never forgets a live one (a running
// lockout, failures within their window, an attempt in flight) to make room
// for another: a flood of fresh usernames cannot push a victim's lockout
// out. Keys are made only by attempts that reserve (that reached a bcrypt
// slot) or fail, never by checks, and a key with nothing left to remember
// is forgotten first. When every key is live, an attempt that needs a new
// key is refused with ErrThrottleFull (answered 503 busy) until one
// expires: at worst, new sign-ins wait, but no guess goes uncounted. Each
// address can make at most about PerIP.Failures live keys per window
// before it is locked out itself, so filling the default 100,000 takes
// thousands of addresses.
type MemoryThrottleStore struct {
	mu   sync.Mutex
	size int
	keys map[string]*list.Element // of *memEntry
	lru  *list.List               // least recently written at the front
}

type memEntry struct {
	key  string
	rule ThrottleRule
	throttleState
}

// NewMemoryThrottleStore returns an in-process throttle store.
func NewMemoryThrottleStore(opts MemoryThrottleStoreOptions) *MemoryThrottleStore {
	if opts.Size <= 0 {
		opts.Size = 100_000
	}
	return &MemoryThrottleStore{size: opts.Size, keys: make(map[string]*list.Element), lru: list.New()}
}

// Check implements ThrottleStore.
func (m *MemoryThrottleStore) Check(_ context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wait(now, keys), nil
}

func (m *MemoryThrottleStore) wait(now time.Time, keys []ThrottleKey) time.Duration {
	var wait time.Duration
	for _, k := range keys {
		if e, ok := m.keys[k.Key]; ok {
			wait = max(wait, e.Value.(*memEntry).lockedUntil.Sub(now))
		}
	}
	return wait
}

// Reserve implements ThrottleStore.
func (m *MemoryThrottleStore) Reserve(_ context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if wait := m.wait(now, keys); wait > 0 {
		return wait, nil
	}
	missing := 0
	for _, k := range keys {
		e, ok := m.keys[k.Key]
		if !ok {
			missing++
			continue
		}
		if !e.Value.(*memEntry).canReserve(now, k.Rule) {
			return 0, ErrInFlight
		}
	}
	if !m.room(now, missing) {
		return 0, ErrThrottleFull
	}
	for _, k := range keys {
		m.entry(k).reserve(now)
	}
	return 0, nil
}

// Settle implements ThrottleStore.
func (m *MemoryThrottleStore) Settle(_ context.Context, now time.Time, s []Settlement) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	missing := 0
	for _, x := range s {
		if _, ok := m.keys[x.Key]; !ok && x.Verdict == Failed {
			missing++
		}
	}
	if !m.room(now, missing) {
		return 0, ErrThrottleFull
	}
	var locked time.Duration
	for _, x := range s {
		el, ok := m.keys[x.Key]
		switch {
		case ok:
			m.lru.MoveToBack(el)
		case x.Verdict != Failed:
			continue // nothing to remember
		}
		e := m.entry(x.ThrottleKey)
		locked = max(locked, e.settle(now, x.Rule, x.Verdict, x.Reserved))
		if !e.live(now, e.rule) {
			m.forget(m.keys[x.Key])
		}
	}
	return locked, nil
}

// entry returns the key's entry, made if missing (room was checked), as the
// most recently written.
func (m *MemoryThrottleStore) entry(k ThrottleKey) *memEntry {
	if el, ok := m.keys[k.Key]; ok {
		m.lru.MoveToBack(el)
		e := el.Value.(*memEntry)
		e.rule = k.Rule
		return e
	}
	e := &memEntry{key: k.Key, rule: k.Rule}
	m.keys[k.Key] = m.lru.PushBack(e)
	return e
}

func (m *MemoryThrottleStore) forget(el *list.Element) {
	m.lru.Remove(el)
	delete(m.keys, el.Value.(*memEntry).key)
}

// scanForRoom bounds how many of the least recently written keys room
// looks at, so that a full table of live keys costs each refused attempt a
// few steps, not a scan.
const scanForRoom = 16

// room makes space for n new keys by forgetting keys that are no longer
// live, least recently written first, and reports whether there is.
func (m *MemoryThrottleStore) room(now time.Time, n int) bool {
	if n == 0 || len(m.keys)+n <= m.size {
		return true
	}
	el := m.lru.Front()
	for range scanForRoom {
		if el == nil || len(m.keys)+n <= m.size {
			break
		}
		next := el.Next()
		if e := el.Value.(*memEntry); !e.live(now, e.rule) {
			m.forget(el)
		}
		el = next
	}
	return len(m.keys)+n <= m.size
}

// Len returns how many keys are remembered.
func (m *MemoryThrottleStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}
