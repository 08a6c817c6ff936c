// Package memstore keeps ginauth's sessions in the process's memory: fast,
// bounded, swept in the background, and gone on restart. It suits a single
// instance and tests; several instances need a shared store (redisstore,
// gormstore, mongostore).
package memstore

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ginauth/ginauth/internal/janitor"
	"github.com/ginauth/ginauth/sessionstore"
)

// Options configures a Store. The zero value is usable.
type Options struct {
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

// Store keeps sessions in this process's memory. It implements
// sessionstore.IndexedStore.
type Store struct {
	now   func() time.Time
	max   int
	mu    sync.Mutex
	peak  int // the most sessions held since the maps were last rebuilt
	byKey map[sessionstore.Key]*memEntry
	anon  *list.List // of sessionstore.Key: anonymous sessions, oldest first
	users map[string]map[sessionstore.Key]struct{}
	order *list.List // of sessionstore.Key: signed-in sessions, oldest first
	bg    *janitor.Janitor
}

var (
	_ sessionstore.IndexedStore = (*Store)(nil)
	_ sessionstore.Limiter      = (*Store)(nil)
)

type memEntry struct {
	rec  *sessionstore.Record
	elem *list.Element // in anon or order, as rec.UserID says
}

// errExists is what Create answers for a key already in use.
var errExists = fmt.Errorf("%w: a session already exists under that key", sessionstore.ErrConflict)

// errFull is what an anonymous Create gets from a store full of signed-in
// sessions.
var errFull = sessionstore.Unavailable(errors.New("the memory store is full of signed-in sessions"))

// New returns a memory store and starts its sweeper; Close stops it.
func New(opts Options) *Store {
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 100_000
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Store{
		now:   opts.Now,
		max:   opts.MaxSessions,
		byKey: make(map[sessionstore.Key]*memEntry),
		anon:  list.New(),
		order: list.New(),
		users: make(map[string]map[sessionstore.Key]struct{}),
	}
	m.bg = janitor.Start(opts.SweepInterval, func() { m.Sweep() })
	return m
}

// Close stops the sweeper and waits for it. The store keeps working without
// it. Close is idempotent.
func (m *Store) Close() error {
	m.bg.Stop()
	return nil
}

// Sweep removes every expired session now and returns how many it removed.
// The background sweeper calls it; tests may too.
func (m *Store) Sweep() int {
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
func (m *Store) shrink() {
	if m.peak < 1024 || len(m.byKey) > m.peak/4 {
		return
	}
	byKey := make(map[sessionstore.Key]*memEntry, len(m.byKey))
	for k, e := range m.byKey {
		byKey[k] = e
	}
	users := make(map[string]map[sessionstore.Key]struct{}, len(m.users))
	for uid, set := range m.users {
		c := make(map[sessionstore.Key]struct{}, len(set))
		for k := range set {
			c[k] = struct{}{}
		}
		users[uid] = c
	}
	m.byKey, m.users, m.peak = byKey, users, len(byKey)
}

// Len returns the number of sessions held, expired ones not yet swept
// included.
func (m *Store) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byKey)
}

// Load implements Store.
func (m *Store) Load(_ context.Context, key sessionstore.Key) (*sessionstore.Record, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok || !e.rec.Live(now) {
		return nil, sessionstore.ErrNotFound
	}
	return e.rec.Clone(), nil
}

// Create implements Store.
func (m *Store) Create(_ context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.create(key, rec)
}

func (m *Store) create(key sessionstore.Key, rec *sessionstore.Record) error {
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
		k := oldest.Value.(sessionstore.Key)
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
			set = make(map[sessionstore.Key]struct{})
			m.users[rec.UserID] = set
		}
		set[key] = struct{}{}
	}
	return nil
}

func (m *Store) remove(key sessionstore.Key, e *memEntry) {
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
func (m *Store) Update(_ context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok || !e.rec.Live(now) {
		return sessionstore.ErrNotFound
	}
	if e.rec.Rev != rec.Rev || e.rec.UserID != rec.UserID {
		return sessionstore.ErrConflict
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
func (m *Store) Touch(_ context.Context, key sessionstore.Key, lastActivity, expiresAt time.Time) error {
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
func msPrecision(r *sessionstore.Record) *sessionstore.Record {
	r.CreatedAt = normTime(r.CreatedAt)
	r.LastActivity = normTime(r.LastActivity)
	r.ExpiresAt = normTime(r.ExpiresAt)
	r.Deadline = normTime(r.Deadline)
	return r
}

// Regenerate implements Store: under one lock, the old session is checked,
// the new one created and the old one removed.
func (m *Store) Regenerate(_ context.Context, oldKey sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[oldKey]
	if !ok || !e.rec.Live(now) || e.rec.UserID != oldUserID {
		return sessionstore.ErrNotFound
	}
	if err := m.create(newKey, rec); err != nil {
		return err
	}
	if cur, ok := m.byKey[oldKey]; ok && cur == e { // create may have evicted it
		m.remove(oldKey, e)
	}
	return nil
}

// CreateLimited implements sessionstore.Limiter: under the store's one
// lock, the old session is checked, the user's live sessions counted, the
// oldest destroyed when the limit says so, the new session created and the
// old one removed.
func (m *Store) CreateLimited(_ context.Context, oldKey *sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record, limit sessionstore.Limit) (int, error) {
	if err := limit.Validate(); err != nil {
		return 0, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var old *memEntry
	if oldKey != nil {
		e, ok := m.byKey[*oldKey]
		if !ok || !e.rec.Live(now) || e.rec.UserID != oldUserID {
			return 0, sessionstore.ErrNotFound
		}
		old = e
	}
	if _, ok := m.byKey[newKey]; ok {
		return 0, errExists
	}
	var victims []sessionstore.Key
	if rec.UserID != "" {
		var live []sessionstore.Key
		for k := range m.users[rec.UserID] {
			e := m.byKey[k]
			switch {
			case !e.rec.Live(now):
				m.remove(k, e)
			case e != old:
				live = append(live, k)
			}
		}
		if over := len(live) - limit.Max + 1; over > 0 {
			if !limit.EndOldest {
				return 0, sessionstore.ErrTooManySessions
			}
			slices.SortFunc(live, func(a, b sessionstore.Key) int {
				if c := m.byKey[a].rec.CreatedAt.Compare(m.byKey[b].rec.CreatedAt); c != 0 {
					return c
				}
				return bytes.Compare(a[:], b[:])
			})
			victims = live[:over]
		}
	}
	for _, k := range victims {
		m.remove(k, m.byKey[k])
	}
	if err := m.create(newKey, rec); err != nil {
		return len(victims), err
	}
	if old != nil {
		if cur, ok := m.byKey[*oldKey]; ok && cur == old { // create may have evicted it
			m.remove(*oldKey, old)
		}
	}
	return len(victims), nil
}

// Destroy implements Store.
func (m *Store) Destroy(_ context.Context, key sessionstore.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byKey[key]; ok {
		m.remove(key, e)
	}
	return nil
}

// List implements UserIndex.
func (m *Store) List(_ context.Context, userID string) ([]sessionstore.Info, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sessionstore.Info
	for k := range m.users[userID] {
		e := m.byKey[k]
		if !e.rec.Live(now) {
			m.remove(k, e)
			continue
		}
		out = append(out, e.rec.Info(k))
	}
	sessionstore.SortInfos(out)
	return out, nil
}

// DestroyID implements UserIndex.
func (m *Store) DestroyID(_ context.Context, userID, handle string) error {
	if !sessionstore.ValidID(handle) {
		return sessionstore.ErrNotFound
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.users[userID] {
		if k.ID() != handle {
			continue
		}
		e := m.byKey[k]
		live := e.rec.Live(now)
		m.remove(k, e)
		if live {
			return nil
		}
	}
	return sessionstore.ErrNotFound
}

// DestroyUser implements UserIndex.
func (m *Store) DestroyUser(_ context.Context, userID string) (int, error) {
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

// normTime drops the monotonic reading and keeps millisecond precision, the
// precision every store keeps.
func normTime(t time.Time) time.Time { return t.Round(0).Truncate(time.Millisecond) }
