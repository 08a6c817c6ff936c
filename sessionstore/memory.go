package sessionstore

import (
	"container/list"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryOptions configures a MemoryStore. The zero value is usable.
type MemoryOptions struct {
	// MaxSessions bounds the number of sessions kept. Past it, the oldest
	// anonymous session (by creation) is evicted; a signed-in session is
	// never evicted to admit an anonymous one (that create fails with
	// ErrUnavailable instead), only to admit another signed-in one when
	// no anonymous session is left. Default 100,000.
	MaxSessions int

	// SweepInterval is how often expired sessions are removed in the
	// background. Default one minute. A negative value disables the sweeper
	// (loads still ignore expired sessions).
	SweepInterval time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MemoryStore keeps sessions in this process's memory: fast, bounded, and
// gone on restart. It suits a single process and tests; several instances of
// an application need a shared store (Redis or GORM).
type MemoryStore struct {
	now   func() time.Time
	max   int
	mu    sync.Mutex
	peak  int // the most sessions held since the maps were last rebuilt
	byKey map[Key]*memEntry
	anon  *list.List // of Key: anonymous sessions, oldest first
	users map[string]map[Key]struct{}
	order *list.List // of Key: signed-in sessions, oldest first
	bg    *janitor
}

type memEntry struct {
	rec  *Record
	elem *list.Element // in anon or order, as rec.UserID says
}

// errFull is what an anonymous Create gets from a store full of signed-in
// sessions.
var errFull = Unavailable(errors.New("the memory store is full of signed-in sessions"))

// NewMemoryStore returns a memory store and starts its sweeper; Close stops
// it.
func NewMemoryStore(opts MemoryOptions) *MemoryStore {
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 100_000
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = time.Minute
	}
	m := &MemoryStore{
		now:   clock(opts.Now),
		max:   opts.MaxSessions,
		byKey: make(map[Key]*memEntry),
		anon:  list.New(),
		order: list.New(),
		users: make(map[string]map[Key]struct{}),
	}
	m.bg = startJanitor(opts.SweepInterval, func() { m.Sweep() })
	return m
}

// Close stops the sweeper and waits for it. The store keeps working without
// it. Close is idempotent.
func (m *MemoryStore) Close() error {
	m.bg.close()
	return nil
}

// Sweep removes every expired session now and returns how many it removed.
// The background sweeper calls it; tests may too.
func (m *MemoryStore) Sweep() int {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, e := range m.byKey {
		if !e.rec.Live(now) {
			m.remove(k, e)
			n++
		}
	}
	m.shrink()
	return n
}

// shrink rebuilds the maps once they hold a quarter of their peak: Go maps
// never give memory back, so without it a burst of sessions would keep its
// memory for the life of the process.
func (m *MemoryStore) shrink() {
	if m.peak < 1024 || len(m.byKey) > m.peak/4 {
		return
	}
	byKey := make(map[Key]*memEntry, len(m.byKey))
	for k, e := range m.byKey {
		byKey[k] = e
	}
	users := make(map[string]map[Key]struct{}, len(m.users))
	for uid, set := range m.users {
		c := make(map[Key]struct{}, len(set))
		for k := range set {
			c[k] = struct{}{}
		}
		users[uid] = c
	}
	m.byKey, m.users, m.peak = byKey, users, len(byKey)
}

// Len returns the number of sessions held, expired ones not yet swept
// included.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byKey)
}

// Load implements Store.
func (m *MemoryStore) Load(_ context.Context, key Key) (*Record, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok || !e.rec.Live(now) {
		return nil, ErrNotFound
	}
	return e.rec.Clone(), nil
}

// Create implements Store.
func (m *MemoryStore) Create(_ context.Context, key Key, rec *Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.create(key, rec)
}

func (m *MemoryStore) create(key Key, rec *Record) error {
	if _, ok := m.byKey[key]; ok {
		return errExists
	}
	for len(m.byKey) >= m.max {
		oldest := m.anon.Front()
		if oldest == nil {
			if rec.UserID == "" {
				return errFull // never evict a signed-in session for an anonymous one
			}
			oldest = m.order.Front()
		}
		k := oldest.Value.(Key)
		m.remove(k, m.byKey[k])
	}
	rec.Rev = 1
	l := m.order
	if rec.UserID == "" {
		l = m.anon
	}
	m.byKey[key] = &memEntry{rec: msPrecision(rec.Clone()), elem: l.PushBack(key)}
	m.peak = max(m.peak, len(m.byKey))
	if rec.UserID != "" {
		set := m.users[rec.UserID]
		if set == nil {
			set = make(map[Key]struct{})
			m.users[rec.UserID] = set
		}
		set[key] = struct{}{}
	}
	return nil
}

func (m *MemoryStore) remove(key Key, e *memEntry) {
	delete(m.byKey, key)
	if e.rec.UserID == "" {
		m.anon.Remove(e.elem)
	} else {
		m.order.Remove(e.elem)
	}
	if uid := e.rec.UserID; uid != "" {
		if set := m.users[uid]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(m.users, uid)
			}
		}
	}
}

// Update implements Store.
func (m *MemoryStore) Update(_ context.Context, key Key, rec *Record) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok || !e.rec.Live(now) {
		return ErrNotFound
	}
	if e.rec.Rev != rec.Rev || e.rec.UserID != rec.UserID {
		return ErrConflict
	}
	rec.Rev++
	next := msPrecision(rec.Clone())
	if e.rec.LastActivity.After(next.LastActivity) {
		next.LastActivity = e.rec.LastActivity // a concurrent touch may be newer
	}
	if e.rec.ExpiresAt.After(next.ExpiresAt) {
		next.ExpiresAt = e.rec.ExpiresAt
	}
	e.rec = next
	return nil
}

// Touch implements Store.
func (m *MemoryStore) Touch(_ context.Context, key Key, lastActivity, expiresAt time.Time) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok || !e.rec.Live(now) {
		return nil
	}
	if lastActivity = normTime(lastActivity); lastActivity.After(e.rec.LastActivity) {
		e.rec.LastActivity = lastActivity
	}
	if expiresAt = normTime(expiresAt); expiresAt.After(e.rec.ExpiresAt) {
		e.rec.ExpiresAt = expiresAt
	}
	return nil
}

// msPrecision keeps the record's times to the millisecond, as every other
// store does, so that stores are interchangeable to the last digit.
func msPrecision(r *Record) *Record {
	r.CreatedAt = normTime(r.CreatedAt)
	r.LastActivity = normTime(r.LastActivity)
	r.ExpiresAt = normTime(r.ExpiresAt)
	r.Deadline = normTime(r.Deadline)
	return r
}

// Regenerate implements Store.
func (m *MemoryStore) Regenerate(_ context.Context, oldKey, newKey Key, rec *Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.create(newKey, rec); err != nil {
		return err
	}
	if e, ok := m.byKey[oldKey]; ok {
		m.remove(oldKey, e)
	}
	return nil
}

// Destroy implements Store.
func (m *MemoryStore) Destroy(_ context.Context, key Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byKey[key]; ok {
		m.remove(key, e)
	}
	return nil
}

// List implements UserIndex.
func (m *MemoryStore) List(_ context.Context, userID string) ([]Info, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Info
	for k := range m.users[userID] {
		e := m.byKey[k]
		if !e.rec.Live(now) {
			m.remove(k, e)
			continue
		}
		out = append(out, e.rec.Info(k))
	}
	SortInfos(out)
	return out, nil
}

// DestroyHandle implements UserIndex.
func (m *MemoryStore) DestroyHandle(_ context.Context, userID, handle string) error {
	if !ValidHandle(handle) {
		return ErrNotFound
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.users[userID] {
		if k.Handle() != handle {
			continue
		}
		e := m.byKey[k]
		live := e.rec.Live(now)
		m.remove(k, e)
		if live {
			return nil
		}
	}
	return ErrNotFound
}

// DestroyUser implements UserIndex.
func (m *MemoryStore) DestroyUser(_ context.Context, userID string) (int, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k := range m.users[userID] {
		e := m.byKey[k]
		if e.rec.Live(now) {
			n++
		}
		m.remove(k, e)
	}
	return n, nil
}

// SortInfos orders a listing oldest first, then by handle, so that every
// store lists the same sessions in the same order.
func SortInfos(infos []Info) {
	slices.SortFunc(infos, func(a, b Info) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Handle, b.Handle)
	})
}
