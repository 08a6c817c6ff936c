package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// entry is one session as one request sees it: the record it loaded (or a
// new one), and which values the request changed. It is safe for use by the
// goroutines of one request. It prints as its ID does (see sessionID).
//
// Changes are tracked per value, so that two requests that change different
// values of one session both keep their change (see Commit).
type entry struct {
	mu        sync.Mutex
	id        sessionID
	rec       *sessionstore.Record
	stored    bool                           // rec exists in the store under id.Key()
	oldKey    *sessionstore.Key              // regenerated from this stored session,
	oldUser   string                         // which belonged to this user
	carried   bool                           // the record carries that session over: it must still exist
	changes   map[string]*sessionstore.Value // per value since load; nil means deleted
	created   bool                           // metadata changed: only before the first store
	destroyed bool
	gone      bool // found destroyed or expired at commit: never written again
}

// New returns a session with a fresh ID that is not yet stored.
func newEntry(now time.Time) *entry {
	now = normTime(now)
	return &entry{
		id:      newID(),
		rec:     &sessionstore.Record{Meta: sessionstore.Meta{CreatedAt: now, LastActivity: now}},
		created: true,
	}
}

// Load loads the session with the given ID. It answers ErrNotFound when
// there is no live session, ErrCorrupt when the record cannot be read, and
// ErrUnavailable when the store cannot be reached.
func loadEntry(ctx context.Context, store sessionstore.Store, id sessionID) (*entry, error) {
	if id.IsZero() {
		return nil, sessionstore.ErrNotFound
	}
	rec, err := store.Load(ctx, id.Key())
	if err != nil {
		return nil, err
	}
	return &entry{id: id, rec: rec, stored: true}, nil
}

// Format implements fmt.Formatter: a Session prints as its ID does (the
// short name of its key) under every verb, never its fields.
func (s *entry) Format(f fmt.State, verb rune) { s.id.Format(f, verb) }

// LogValue implements slog.LogValuer: the short name of the session's key.
func (s *entry) LogValue() slog.Value { return s.id.LogValue() }

// ID returns the session ID. Only the cookie codec needs it.
func (s *entry) ID() sessionID { return s.id }

// Key returns the store key of the session.
func (s *entry) Key() sessionstore.Key { return s.id.Key() }

// publicID returns the session's public ID (see Key.ID).
func (s *entry) publicID() string { return s.id.Key().ID() }

// Record returns a copy of the session's record, with this request's changes.
func (s *entry) Record() *sessionstore.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Clone()
}

// Meta returns the session's metadata without copying its values.
func (s *entry) Meta() sessionstore.Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Meta
}

// UserID returns the user the session belongs to, or "".
func (s *entry) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.UserID
}

// Get returns the value stored under name.
func (s *entry) Get(name string) (sessionstore.Value, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.rec.Values[name]
	return v, ok
}

// Names returns the names of the session's values, sorted.
func (s *entry) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.rec.Values))
	for n := range s.rec.Values {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Set stores v under name. Setting a value equal to the stored one is not a
// change.
func (s *entry) Set(name string, v sessionstore.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.rec.Values[name]; ok && old.Equal(v) {
		return
	}
	s.change(name, &v)
}

// Delete removes the value under name.
func (s *entry) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rec.Values[name]; ok {
		s.change(name, nil)
	}
}

// Clear removes every value the session holds.
func (s *entry) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.rec.Values {
		s.change(name, nil)
	}
}

func (s *entry) change(name string, v *sessionstore.Value) {
	if s.changes == nil {
		s.changes = make(map[string]*sessionstore.Value)
	}
	s.changes[name] = v
	apply(s.rec, name, v) // the session owns its record: stores hand out copies
}

func apply(rec *sessionstore.Record, name string, v *sessionstore.Value) {
	if v == nil {
		delete(rec.Values, name)
		return
	}
	if rec.Values == nil {
		rec.Values = make(map[string]sessionstore.Value)
	}
	rec.Values[name] = *v
}

// Client records the client that creates the session. It only takes effect
// on a session that is not stored yet (a new or regenerated one).
func (s *entry) Client(ip, userAgent string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stored {
		s.rec.IPAddress, s.rec.UserAgent = ip, userAgent
	}
}

// SetAuth records how the session was authenticated
// (sessionstore.Meta.Auth). Like SetUser, only a session not stored yet
// (new, regenerated or rotated) takes it.
func (s *entry) SetAuth(auth string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stored {
		s.rec.Auth = auth
	}
}

// errStored is returned when something that may only be set on a new or
// regenerated session is set on a stored one.
var errStored = errors.New("sessionstore: session is already stored; regenerate it first")

// SetUser makes the session belong to userID, signed in with the
// credentials that credential fingerprints (see Record.Credential). Only a
// session that is not stored yet can take a user: regenerate a loaded
// session first, so that a login never keeps a pre-login ID (session
// fixation).
func (s *entry) SetUser(userID, credential string, persistent bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stored {
		return errStored
	}
	s.rec.UserID = userID
	s.rec.Credential = credential
	s.rec.Persistent = persistent
	return nil
}

// Regenerate gives the session a new ID and a new record, begun at now, that
// keeps only the values for which keep returns true (keep may be nil: keep
// none) and no user: a fresh start, as a login makes before SetUser. The old
// record is destroyed at Commit; that it is gone already (revoked, expired)
// does not stop the new one.
func (s *entry) Regenerate(now time.Time, keep func(name string) bool) {
	now = normTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stored {
		k := s.id.Key()
		s.oldKey, s.oldUser = &k, s.rec.UserID
	}
	s.carried = false
	rec := &sessionstore.Record{Meta: sessionstore.Meta{CreatedAt: now, LastActivity: now, IPAddress: s.rec.IPAddress, UserAgent: s.rec.UserAgent}}
	for name, v := range s.rec.Values {
		if keep != nil && keep(name) {
			apply(rec, name, &v)
		}
	}
	s.id = newID()
	s.rec = rec
	s.stored = false
	s.changes = nil
	s.created = true
	s.destroyed = false
	s.gone = false
}

// Rotate gives the session a new ID and keeps the rest: its values, its
// signed-in user and the time it began, from which the absolute timeout
// still counts. Commit moves the record to the new ID only if the old one is
// still there: a session revoked (or expired) since it was loaded is not
// brought back under a new sessionID, and Commit answers ErrNotFound.
func (s *entry) Rotate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stored {
		k := s.id.Key()
		s.oldKey, s.oldUser, s.carried = &k, s.rec.UserID, true
	}
	s.id = newID()
	s.stored = false
	s.changes = nil
	s.created = true
}

// Destroy marks the session for destruction at Commit.
func (s *entry) Destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destroyed = true
}

// Discard marks the session destroyed when the store already deleted it (a
// batch of the user's sessions): Commit then reports it destroyed, to
// expire the cookie, without deleting it again.
func (s *entry) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destroyed, s.stored, s.oldKey, s.carried = true, false, nil, false
}

// Destroyed reports whether Destroy was called.
func (s *entry) Destroyed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.destroyed
}

// outcome says what Commit did, so the caller knows what cookie to send.
type outcome struct {
	// Created: a new record was stored under a new ID; send the cookie.
	Created bool
	// Written: an existing record was updated.
	Written bool
	// Touched: last activity and expiry were refreshed.
	Touched bool
	// Destroyed: the session is gone; expire the cookie.
	Destroyed bool
	// Ended counts the user's other sessions ended to keep within the
	// limit of sessions per user.
	Ended int
}

// rules are what Commit goes by: the lifetime, whether to store a session
// that holds nothing, and the limit of sessions per user.
type rules struct {
	Lifetime
	saveEmpty bool
	limit     sessionstore.Limit // Max 0: none
}

// Commit writes what the request changed, and nothing when it changed
// nothing inside the policy's touch interval:
//
//   - a destroyed session is deleted (and so is the record it was
//     regenerated from);
//   - a new or regenerated session is created when it holds something (or
//     when the policy saves uninitialized sessions). A rotated session (see
//     Rotate) whose old record is gone is not: Commit answers ErrNotFound;
//   - a loaded session whose values changed is updated by compare-and-swap;
//     when another request wrote it meanwhile, Commit reloads it, applies
//     this request's changes value by value, and tries again, so neither
//     request loses its change. A session destroyed meanwhile is not written
//     back: Commit answers ErrNotFound;
//   - an unchanged loaded session is touched once the touch interval has
//     passed since its last activity.
func (s *entry) Commit(ctx context.Context, store sessionstore.Store, now time.Time, p rules) (outcome, error) {
	now = normTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.gone && !s.destroyed:
		return outcome{}, sessionstore.ErrNotFound
	case s.destroyed:
		var out outcome
		for _, k := range s.storedKeys() {
			if err := store.Destroy(ctx, k); err != nil {
				return out, err
			}
			out.Destroyed = true
		}
		s.stored, s.oldKey = false, nil
		return out, nil

	case !s.stored:
		if !s.created && len(s.changes) == 0 {
			return outcome{}, nil
		}
		if s.oldKey == nil && len(s.rec.Values) == 0 && s.rec.UserID == "" && !p.saveEmpty {
			return outcome{}, nil
		}
		rec := s.rec.Clone()
		rec.LastActivity = now
		rec.Deadline = p.deadline(rec.CreatedAt, rec.UserID)
		rec.ExpiresAt = p.expiry(now, rec.Deadline)
		var err error
		var ended int
		if lim, ok := store.(sessionstore.Limiter); ok && p.limit.Max > 0 && rec.UserID != "" && !s.carried {
			// A sign-in: the store keeps the user within the limit, in the
			// same step as it stores the session.
			ended, err = lim.CreateLimited(ctx, s.oldKey, s.oldUser, s.id.Key(), rec, p.limit)
			if errors.Is(err, sessionstore.ErrNotFound) && s.oldKey != nil {
				ended, err = lim.CreateLimited(ctx, nil, "", s.id.Key(), rec, p.limit)
			}
		} else if s.oldKey != nil {
			err = store.Regenerate(ctx, *s.oldKey, s.oldUser, s.id.Key(), rec)
			if errors.Is(err, sessionstore.ErrNotFound) {
				if s.carried {
					// Revoked or expired since it was loaded: what it
					// carried (a signed-in user above all) ends with it.
					s.gone, s.oldKey = true, nil
					return outcome{}, err
				}
				// A fresh start owes nothing to the old session.
				err = store.Create(ctx, s.id.Key(), rec)
			}
		} else {
			err = store.Create(ctx, s.id.Key(), rec)
		}
		if err != nil {
			return outcome{}, err
		}
		s.rec, s.stored, s.oldKey, s.changes, s.created, s.carried = rec, true, nil, nil, false, false
		return outcome{Created: true, Ended: ended}, nil

	case len(s.changes) > 0:
		return s.update(ctx, store, now, p)

	case now.Sub(s.rec.LastActivity) >= p.TouchInterval:
		exp := p.expiry(now, s.rec.Deadline)
		if err := store.Touch(ctx, s.id.Key(), now, exp); err != nil {
			return outcome{}, err
		}
		s.rec.LastActivity, s.rec.ExpiresAt = now, exp
		return outcome{Touched: true}, nil
	}
	return outcome{}, nil
}

// maxAttempts bounds the compare-and-swap loop of an update. Every round lets
// at least one writer through, so only a pile-up of that many concurrent
// writers of one session can exhaust it.
const maxAttempts = 32

func (s *entry) update(ctx context.Context, store sessionstore.Store, now time.Time, p rules) (outcome, error) {
	key := s.id.Key()
	rec := s.rec.Clone()
	for attempt := 1; ; attempt++ {
		if rec.LastActivity.Before(now) {
			rec.LastActivity = now
		}
		rec.ExpiresAt = p.expiry(rec.LastActivity, rec.Deadline)
		err := store.Update(ctx, key, rec)
		if err == nil {
			s.rec, s.changes = rec, nil
			return outcome{Written: true}, nil
		}
		if !errors.Is(err, sessionstore.ErrConflict) || attempt == maxAttempts {
			if errors.Is(err, sessionstore.ErrNotFound) {
				s.gone = true
			}
			return outcome{}, err
		}
		if attempt > 2 {
			// Spread out writers that keep colliding.
			time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond))))
		}
		fresh, err := store.Load(ctx, key)
		if err != nil {
			if errors.Is(err, sessionstore.ErrNotFound) {
				s.gone = true
			}
			return outcome{}, err
		}
		for name, v := range s.changes {
			apply(fresh, name, v)
		}
		rec = fresh
	}
}

func (s *entry) storedKeys() []sessionstore.Key {
	var keys []sessionstore.Key
	if s.stored {
		keys = append(keys, s.id.Key())
	}
	if s.oldKey != nil {
		keys = append(keys, *s.oldKey)
	}
	return keys
}

// normTime drops the monotonic reading and keeps millisecond precision, the
// precision every store keeps.
func normTime(t time.Time) time.Time { return t.Round(0).Truncate(time.Millisecond) }
