// Package storetest is the behavioural suite that every session store must
// pass: call Run from a store's tests with a function that builds a fresh
// store, the way gin-contrib/sessions' tester package is used.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// Clock is the manually driven clock the suite moves instead of sleeping.
type Clock = fakeclock.Clock

// NewClock returns a clock for a harness, set to a fixed date on a whole
// second, in the future (so that absolute expiries a backend acts on by the
// real time are far ahead): the cases move it to exactly a boundary, and
// records keep milliseconds.
func NewClock() *Clock { return fakeclock.New(time.Time{}) }

// Harness is one store under test, and the few backend-specific things the
// suite cannot do through the store's interface.
type Harness struct {
	// Store is the store under test, built with Clock.Now as its clock.
	Store sessionstore.IndexedStore

	// Clock drives the store.
	Clock *Clock

	// Corrupt writes something under key that is not a session record, as
	// a damaged or foreign entry would look in the backend. Nil skips the
	// corrupt-record case.
	Corrupt func(t testing.TB, key sessionstore.Key)

	// IndexLen returns how many entries the backend's index of userID holds,
	// including entries of sessions that ended but were not pruned. Nil
	// skips the raw index checks.
	IndexLen func(t testing.TB, userID string) int

	// Prune runs the store's background expiry work once. Nil: the store
	// needs none.
	Prune func(t testing.TB)

	// Down returns a store of the same kind whose backend does not answer.
	// Nil skips the outage cases.
	Down func(t testing.TB) sessionstore.IndexedStore

	// IndexSize is how many sessions the per-user index cases create.
	// Default 10,000.
	IndexSize int
}

// Factory builds a fresh, empty store for one test case and registers its
// cleanup with t.
type Factory func(t *testing.T) *Harness

// Run runs every case of the suite against stores built by newHarness.
func Run(t *testing.T, newHarness Factory) {
	cases := []struct {
		name string
		fn   func(*testing.T, *Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Expiry", testExpiry},
		{"Touch", testTouch},
		{"Destroy", testDestroy},
		{"Regenerate", testRegenerate},
		{"NoResurrection", testNoResurrection},
		{"RegenerateRevoked", testRegenerateRevoked},
		{"RegenerateRacingRevoke", testRegenerateRacingRevoke},
		{"RegenerateKeepsStart", testRegenerateKeepsStart},
		{"Contract", testContract},
		{"ConflictMerge", testConflictMerge},
		{"SameSessionHammer", testSameSessionHammer},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"UserIndex", testUserIndex},
		{"IndexPruned", testIndexPruned},
		{"Corrupt", testCorrupt},
		{"Down", testDown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			if h.IndexSize == 0 {
				h.IndexSize = 10_000
			}
			c.fn(t, h)
		})
	}
}

var ctx = context.Background()

// policy is the lifetime the cases give the sessions they commit: ginauth's
// defaults, without the shorter one of anonymous sessions.
var policy = session.Policy{
	IdleTimeout:     session.DefaultIdleTimeout,
	AbsoluteTimeout: session.DefaultAbsoluteTimeout,
	TouchInterval:   session.DefaultTouchInterval,
}

// NewKey returns a fresh random key, as a new session would have.
func NewKey() sessionstore.Key { return session.NewID().Key() }

// record returns a record for a session created now that expires after
// idle, within a deadline of a day.
func record(c *Clock, userID string, idle time.Duration) *sessionstore.Record {
	now := c.Now().Truncate(time.Millisecond)
	return &sessionstore.Record{
		Meta: sessionstore.Meta{UserID: userID, CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(idle), Deadline: now.Add(24 * time.Hour), IPAddress: "203.0.113.7", UserAgent: "storetest/1.0"},
	}
}

func mustCreate(t testing.TB, h *Harness, rec *sessionstore.Record) sessionstore.Key {
	t.Helper()
	k := NewKey()
	if err := h.Store.Create(ctx, k, rec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return k
}

func mustLoad(t testing.TB, h *Harness, k sessionstore.Key) *sessionstore.Record {
	t.Helper()
	rec, err := h.Store.Load(ctx, k)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return rec
}

func wantNotFound(t testing.TB, h *Harness, k sessionstore.Key, when string) {
	t.Helper()
	if rec, err := h.Store.Load(ctx, k); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("%s: Load = %v, %v; want ErrNotFound", when, rec, err)
	}
}

type cart struct {
	Items []string  `json:"items"`
	Total float64   `json:"total"`
	At    time.Time `json:"at"`
}

func init() { session.Register(cart{}) }

// roundTripValues are values of every kind an application stores.
func roundTripValues() map[string]any {
	at := time.Date(2026, 11, 27, 10, 30, 15, 123456789, time.UTC)
	return map[string]any{
		"string":  "hé \"quoted\" <b>",
		"empty":   "",
		"int":     42,
		"neg":     int64(-9007199254740993), // beyond float64's exact integers
		"uint":    uint64(18446744073709551615),
		"float":   3.25,
		"bool":    true,
		"time":    at,
		"dur":     90 * time.Second,
		"bytes":   []byte{0, 1, 2, 255},
		"strings": []string{"a", "b"},
		"ints":    []int{1, 2, 3},
		"anys":    []any{"x", 1.5, true, nil},
		"map":     map[string]any{"k": "v", "n": 2.0, "nested": map[string]any{"a": []any{"b"}}},
		"smap":    map[string]string{"a": "b"},
		"imap":    map[string]int{"a": 1},
		"nil":     nil,
		"struct":  cart{Items: []string{"book"}, Total: 12.5, At: at},
	}
}

func equalValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	if ca, ok := a.(cart); ok {
		cb, ok := b.(cart)
		return ok && ca.At.Equal(cb.At) && reflect.DeepEqual(ca.Items, cb.Items) && ca.Total == cb.Total
	}
	return reflect.DeepEqual(a, b)
}

func testRoundTrip(t *testing.T, h *Harness) {
	rec := record(h.Clock, "user-1", 30*time.Minute)
	rec.Persistent = true
	rec.Values = map[string]sessionstore.Value{}
	for name, x := range roundTripValues() {
		v, err := session.EncodeValue(x)
		if err != nil {
			t.Fatalf("EncodeValue(%s): %v", name, err)
		}
		rec.Values[name] = v
	}
	k := mustCreate(t, h, rec)
	if rec.Rev == 0 {
		t.Errorf("Create left Rev at 0")
	}
	got := mustLoad(t, h, k)
	for name, want := range roundTripValues() {
		v, ok := got.Values[name]
		if !ok {
			t.Errorf("value %q lost", name)
			continue
		}
		x, err := session.Decode(v)
		if err != nil {
			t.Errorf("Decode(%s): %v", name, err)
			continue
		}
		if !equalValue(x, want) {
			t.Errorf("value %q = %#v (%T), want %#v (%T)", name, x, x, want, want)
		}
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"UserID", got.UserID, rec.UserID},
		{"IPAddress", got.IPAddress, rec.IPAddress},
		{"UserAgent", got.UserAgent, rec.UserAgent},
		{"Persistent", got.Persistent, true},
		{"Rev", got.Rev, rec.Rev},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	for _, c := range []struct {
		field     string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, rec.CreatedAt},
		{"LastActivity", got.LastActivity, rec.LastActivity},
		{"ExpiresAt", got.ExpiresAt, rec.ExpiresAt},
		{"Deadline", got.Deadline, rec.Deadline},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}

	// A value that cannot be stored is an error, never a silent drop.
	if _, err := session.EncodeValue(struct{ C chan int }{}); !errors.Is(err, sessionstore.ErrEncode) {
		t.Errorf("EncodeValue(unregistered struct) = %v, want ErrEncode", err)
	}
	if _, err := session.EncodeValue(make(chan int)); !errors.Is(err, sessionstore.ErrEncode) {
		t.Errorf("EncodeValue(chan) = %v, want ErrEncode", err)
	}
}

func testExpiry(t *testing.T, h *Harness) {
	rec := record(h.Clock, "user-1", time.Minute)
	k := mustCreate(t, h, rec)
	h.Clock.Set(rec.ExpiresAt.Add(-time.Millisecond)) // the last millisecond it lives
	loaded := mustLoad(t, h, k)
	h.Clock.Set(rec.ExpiresAt)
	wantNotFound(t, h, k, "at expiry")
	if err := h.Store.Update(ctx, k, loaded); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Update after expiry = %v, want ErrNotFound", err)
	}
	if err := h.Store.Touch(ctx, k, h.Clock.Now(), h.Clock.Now().Add(time.Hour)); err != nil {
		t.Errorf("Touch after expiry = %v, want nil", err)
	}
	wantNotFound(t, h, k, "after touching an expired session")
	if infos, err := h.Store.List(ctx, "user-1"); err != nil || len(infos) != 0 {
		t.Errorf("List after expiry = %v, %v; want none", infos, err)
	}
}

func testTouch(t *testing.T, h *Harness) {
	rec := record(h.Clock, "", 30*time.Minute)
	v, _ := session.EncodeValue("kept")
	rec.Values = map[string]sessionstore.Value{"v": v}
	k := mustCreate(t, h, rec)
	before := mustLoad(t, h, k)

	h.Clock.Advance(20 * time.Minute)
	now := h.Clock.Now()
	if err := h.Store.Touch(ctx, k, now, now.Add(30*time.Minute)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	h.Clock.Advance(20 * time.Minute) // past the original expiry
	after := mustLoad(t, h, k)
	if !after.LastActivity.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("LastActivity = %v, want %v", after.LastActivity, now)
	}
	if !after.ExpiresAt.Equal(now.Add(30 * time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("ExpiresAt = %v, want %v", after.ExpiresAt, now.Add(30*time.Minute))
	}
	if after.Rev != before.Rev {
		t.Errorf("Touch moved Rev from %d to %d: it rewrote the record", before.Rev, after.Rev)
	}
	if !after.Values["v"].Equal(v) {
		t.Errorf("Touch changed values: %v", after.Values)
	}
	// A touch never moves expiry backwards.
	if err := h.Store.Touch(ctx, k, now.Add(-time.Hour), now.Add(-time.Minute)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if got := mustLoad(t, h, k); !got.ExpiresAt.Equal(after.ExpiresAt) {
		t.Errorf("an older touch moved ExpiresAt back to %v", got.ExpiresAt)
	}
	// An update after a touch keeps the touched expiry unless it extends it.
	after.Values = map[string]sessionstore.Value{"v": v, "w": v}
	after.ExpiresAt = after.ExpiresAt.Add(-10 * time.Minute)
	if err := h.Store.Update(ctx, k, after); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := mustLoad(t, h, k); got.ExpiresAt.Before(now.Add(30 * time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("an update with an earlier expiry shortened the session to %v", got.ExpiresAt)
	}
}

func testDestroy(t *testing.T, h *Harness) {
	k := mustCreate(t, h, record(h.Clock, "user-1", time.Hour))
	other := mustCreate(t, h, record(h.Clock, "user-1", time.Hour))
	if err := h.Store.Destroy(ctx, k); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantIndexLen(t, h, "user-1", 1, "after Destroy") // before List, which prunes
	wantNotFound(t, h, k, "after Destroy")
	if err := h.Store.Destroy(ctx, k); err != nil {
		t.Errorf("Destroy of a missing session = %v, want nil", err)
	}
	infos, err := h.Store.List(ctx, "user-1")
	if err != nil || len(infos) != 1 || infos[0].Handle != other.Handle() {
		t.Errorf("List after Destroy = %v, %v; want only %s", infos, err, other.Handle())
	}
	mustLoad(t, h, other)
}

func testRegenerate(t *testing.T, h *Harness) {
	p := policy
	for _, keepAll := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keepAll), func(t *testing.T) {
			s := session.New(h.Clock.Now())
			a, _ := session.EncodeValue("carried")
			b, _ := session.EncodeValue("dropped")
			s.Set("returnTo", a)
			s.Set("other", b)
			if _, err := s.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			oldKey := s.Key()

			h.Clock.Advance(time.Minute)
			loaded, err := session.Load(ctx, h.Store, s.ID())
			if err != nil {
				t.Fatalf("LoadSession: %v", err)
			}
			keep := func(name string) bool { return keepAll || name == "returnTo" }
			loaded.Regenerate(h.Clock.Now(), keep)
			if err := loaded.SetUser("user-9", "", false); err != nil {
				t.Fatalf("SetUser: %v", err)
			}
			out, err := loaded.Commit(ctx, h.Store, h.Clock.Now(), p)
			if err != nil || !out.Created {
				t.Fatalf("Commit after Regenerate = %+v, %v", out, err)
			}
			if loaded.Key() == oldKey {
				t.Fatal("Regenerate kept the key")
			}
			wantNotFound(t, h, oldKey, "old ID after Regenerate")
			got := mustLoad(t, h, loaded.Key())
			if !got.Values["returnTo"].Equal(a) {
				t.Errorf("returnTo not carried: %v", got.Values)
			}
			if _, ok := got.Values["other"]; ok != keepAll {
				t.Errorf("other carried = %v, want %v", ok, keepAll)
			}
			if got.UserID != "user-9" || !got.CreatedAt.Equal(h.Clock.Now().Truncate(time.Millisecond)) {
				t.Errorf("regenerated record = %+v", got)
			}

			// Regenerating an indexed session moves its index entry.
			loaded.Regenerate(h.Clock.Now(), nil)
			if err := loaded.SetUser("user-9", "", false); err != nil {
				t.Fatal(err)
			}
			if _, err := loaded.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			wantIndexLen(t, h, "user-9", 1, "after the second Regenerate") // before List, which prunes
			infos, err := h.Store.List(ctx, "user-9")
			if err != nil || len(infos) != 1 || infos[0].Handle != loaded.Handle() {
				t.Errorf("List after second Regenerate = %v, %v; want only %s", infos, err, loaded.Handle())
			}
			if n, err := h.Store.DestroyUser(ctx, "user-9"); err != nil || n != 1 {
				t.Errorf("DestroyUser = %d, %v", n, err)
			}
			wantIndexLen(t, h, "user-9", 0, "after DestroyUser")
		})
	}
}

func testNoResurrection(t *testing.T, h *Harness) {
	p := policy
	s := session.New(h.Clock.Now())
	v, _ := session.EncodeValue(1)
	s.Set("n", v)
	if _, err := s.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
		t.Fatal(err)
	}
	// Two requests load the session; a logout destroys it; both finish.
	early, err := session.Load(ctx, h.Store, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	toucher, err := session.Load(ctx, h.Store, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	raw := mustLoad(t, h, s.Key())
	if err := h.Store.Destroy(ctx, s.Key()); err != nil {
		t.Fatal(err)
	}
	v2, _ := session.EncodeValue(2)
	early.Set("n", v2)
	if _, err := early.Commit(ctx, h.Store, h.Clock.Now(), p); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Commit of a destroyed session = %v, want ErrNotFound", err)
	}
	// Trying again must not recreate it under the same ID either.
	early.Set("n", v)
	if _, err := early.Commit(ctx, h.Store, h.Clock.Now(), p); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("second Commit of a destroyed session = %v, want ErrNotFound", err)
	}
	h.Clock.Advance(2 * time.Minute)
	if _, err := toucher.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
		t.Errorf("touching a destroyed session = %v, want nil", err)
	}
	if err := h.Store.Update(ctx, s.Key(), raw); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Update of a destroyed record = %v, want ErrNotFound", err)
	}
	wantNotFound(t, h, s.Key(), "after writes to a destroyed session")
}

// signIn commits a new session of userID holding one value, as a login
// leaves it.
func signIn(t testing.TB, h *Harness, userID string) *session.Session {
	t.Helper()
	s := session.New(h.Clock.Now())
	if err := s.SetUser(userID, "cred-"+userID, false); err != nil {
		t.Fatal(err)
	}
	v, _ := session.EncodeValue("kept")
	s.Set("theme", v)
	if _, err := s.Commit(ctx, h.Store, h.Clock.Now(), policy); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return s
}

func mustLoadSession(t testing.TB, h *Harness, id session.ID) *session.Session {
	t.Helper()
	s, err := session.Load(ctx, h.Store, id)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// wantIndexLen checks, where the harness can count them, that the index of
// userID holds want entries: the removals the suite makes leave none behind.
func wantIndexLen(t testing.TB, h *Harness, userID string, want int, when string) {
	t.Helper()
	if h.IndexLen == nil {
		return
	}
	if got := h.IndexLen(t, userID); got != want {
		t.Errorf("%s: the index of %s holds %d entries, want %d", when, userID, got, want)
	}
}

// wantIndexEmpty checks that userID has no listed session and, where the
// harness can count them, no index entry either (once pruned).
func wantIndexEmpty(t testing.TB, h *Harness, userID, when string) {
	t.Helper()
	if infos, err := h.Store.List(ctx, userID); err != nil || len(infos) != 0 {
		t.Errorf("%s: List = %v, %v; want none", when, infos, err)
	}
	if h.Prune != nil {
		h.Prune(t) // entries of expired sessions may wait for it
	}
	if h.IndexLen != nil {
		if n := h.IndexLen(t, userID); n != 0 {
			t.Errorf("%s: the index holds %d entries, want none", when, n)
		}
	}
}

// testRegenerateRevoked: a request loads a signed-in session, the session
// is revoked (by every way there is to end one), then the request
// regenerates it. Carrying the user over must fail and store nothing: the
// revoke stands. A login (a fresh authentication) over the gone session
// still succeeds.
func testRegenerateRevoked(t *testing.T, h *Harness) {
	revokes := []struct {
		name   string
		revoke func(t *testing.T, s *session.Session)
	}{
		{"DestroyUser", func(t *testing.T, s *session.Session) {
			if n, err := h.Store.DestroyUser(ctx, s.UserID()); err != nil || n != 1 {
				t.Fatalf("DestroyUser = %d, %v; want 1", n, err)
			}
		}},
		{"DestroyHandle", func(t *testing.T, s *session.Session) {
			if err := h.Store.DestroyHandle(ctx, s.UserID(), s.Handle()); err != nil {
				t.Fatalf("DestroyHandle: %v", err)
			}
		}},
		{"Destroy", func(t *testing.T, s *session.Session) {
			if err := h.Store.Destroy(ctx, s.Key()); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
		}},
		{"Expired", func(t *testing.T, s *session.Session) {
			h.Clock.Advance(s.Meta().ExpiresAt.Sub(h.Clock.Now()))
		}},
	}
	for i, rv := range revokes {
		t.Run(rv.name, func(t *testing.T) {
			uid := fmt.Sprintf("revoked-%d", i)
			s := signIn(t, h, uid)
			rotating := mustLoadSession(t, h, s.ID())
			login := mustLoadSession(t, h, s.ID())
			rv.revoke(t, s)

			rotating.Rotate()
			if out, err := rotating.Commit(ctx, h.Store, h.Clock.Now(), policy); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("Commit of a session regenerated with its user after it was revoked = %+v, %v; want ErrNotFound", out, err)
			}
			wantNotFound(t, h, rotating.Key(), "the session regenerated from a revoked one")
			wantNotFound(t, h, s.Key(), "the revoked session")
			wantIndexEmpty(t, h, uid, "after a refused regeneration")
			if out, err := rotating.Commit(ctx, h.Store, h.Clock.Now(), policy); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Errorf("second Commit = %+v, %v; want ErrNotFound", out, err)
			}
			wantNotFound(t, h, rotating.Key(), "after a second Commit")

			// A login signs the user in anew: the gone session does not
			// stand in its way.
			login.Regenerate(h.Clock.Now(), nil)
			if err := login.SetUser(uid, "cred-"+uid, false); err != nil {
				t.Fatal(err)
			}
			if out, err := login.Commit(ctx, h.Store, h.Clock.Now(), policy); err != nil || !out.Created {
				t.Fatalf("login over a revoked session = %+v, %v; want Created", out, err)
			}
			if got := mustLoad(t, h, login.Key()); got.UserID != uid || !got.CreatedAt.Equal(normTime(h.Clock.Now())) {
				t.Errorf("login over a revoked session stored %+v", got.Meta)
			}
			if infos, err := h.Store.List(ctx, uid); err != nil || len(infos) != 1 || infos[0].Handle != login.Handle() {
				t.Errorf("List after the login = %v, %v; want only %s", infos, err, login.Handle())
			}
		})
	}

	t.Run("Store", func(t *testing.T) {
		// The store's own contract: no record under oldKey, nothing moved.
		gone, newKey := NewKey(), NewKey()
		rec := record(h.Clock, "revoked-raw", time.Hour)
		if err := h.Store.Regenerate(ctx, gone, "revoked-raw", newKey, rec); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("Regenerate from a key that holds nothing = %v, want ErrNotFound", err)
		}
		wantNotFound(t, h, newKey, "after Regenerate from a key that holds nothing")
		wantIndexEmpty(t, h, "revoked-raw", "after Regenerate from a key that holds nothing")

		// A live session of another user is not this user's to carry over:
		// a session revoked and its key reused, or a caller that names the
		// wrong user, moves nothing.
		other := signIn(t, h, "owner-raw")
		newKey = NewKey()
		rec = record(h.Clock, "intruder-raw", time.Hour)
		if err := h.Store.Regenerate(ctx, other.Key(), "intruder-raw", newKey, rec); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("Regenerate of another user's session = %v, want ErrNotFound", err)
		}
		wantNotFound(t, h, newKey, "after Regenerate of another user's session")
		wantIndexEmpty(t, h, "intruder-raw", "after Regenerate of another user's session")
		if got := mustLoad(t, h, other.Key()); got.UserID != "owner-raw" {
			t.Errorf("the other user's session after a refused Regenerate: %+v", got.Meta)
		}
	})
}

// testRegenerateRacingRevoke: requests regenerate sessions of a user, each
// carrying the user over, while the user's sessions are revoked. Whatever
// the order, no session of the user survives: a regeneration that came
// first is revoked with the rest, one that came after fails.
func testRegenerateRacingRevoke(t *testing.T, h *Harness) {
	const n = 16
	const uid = "racer"
	loaded := make([]*session.Session, n)
	for i := range loaded {
		loaded[i] = mustLoadSession(t, h, signIn(t, h, uid).ID())
	}
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	start := make(chan struct{})
	for _, s := range loaded {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s.Rotate()
			if _, err := s.Commit(ctx, h.Store, h.Clock.Now(), policy); err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		if _, err := h.Store.DestroyUser(ctx, uid); err != nil {
			errs <- err
		}
	}()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, s := range loaded {
		if rec, err := h.Store.Load(ctx, s.Key()); err == nil {
			t.Errorf("session %d, regenerated while its user's sessions were revoked, is live: %+v", i, rec.Meta)
		}
	}
	if infos, err := h.Store.List(ctx, uid); err != nil || len(infos) != 0 {
		t.Errorf("after the revoke, List = %d sessions, %v; want none", len(infos), err)
	}
}

// testRegenerateKeepsStart: regenerating a signed-in session keeps the
// time it began, so that the absolute timeout still counts from the
// sign-in however often the ID rotates; a login starts a new one.
func testRegenerateKeepsStart(t *testing.T, h *Harness) {
	start := normTime(h.Clock.Now())
	s := signIn(t, h, "rotator")
	id := s.ID()
	for elapsed := 20 * time.Minute; elapsed < policy.AbsoluteTimeout; elapsed += 20 * time.Minute {
		h.Clock.Set(start.Add(elapsed))
		r, err := session.Load(ctx, h.Store, id)
		if err != nil {
			t.Fatalf("at %v after sign-in: Load = %v", elapsed, err)
		}
		r.Rotate()
		if _, err := r.Commit(ctx, h.Store, h.Clock.Now(), policy); err != nil {
			t.Fatalf("at %v after sign-in: Commit = %v", elapsed, err)
		}
		got := mustLoad(t, h, r.Key())
		if !got.CreatedAt.Equal(start) || !got.Deadline.Equal(start.Add(policy.AbsoluteTimeout)) {
			t.Fatalf("at %v after sign-in, the regenerated session began at %v with deadline %v; want %v and %v",
				elapsed, got.CreatedAt, got.Deadline, start, start.Add(policy.AbsoluteTimeout))
		}
		id = r.ID()
	}
	h.Clock.Set(start.Add(policy.AbsoluteTimeout - time.Millisecond))
	last := mustLoadSession(t, h, id)
	h.Clock.Set(start.Add(policy.AbsoluteTimeout))
	if _, err := session.Load(ctx, h.Store, id); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("at the absolute timeout of the first sign-in, Load = %v; want ErrNotFound", err)
	}

	// A login is a new start.
	h.Clock.Set(start.Add(policy.AbsoluteTimeout - time.Millisecond))
	last.Regenerate(h.Clock.Now(), nil)
	if err := last.SetUser("rotator", "cred-rotator", false); err != nil {
		t.Fatal(err)
	}
	if _, err := last.Commit(ctx, h.Store, h.Clock.Now(), policy); err != nil {
		t.Fatalf("login: %v", err)
	}
	if got := mustLoad(t, h, last.Key()); !got.CreatedAt.Equal(normTime(h.Clock.Now())) {
		t.Errorf("a login kept the start %v; want %v", got.CreatedAt, normTime(h.Clock.Now()))
	}
}

func normTime(t time.Time) time.Time { return t.Round(0).Truncate(time.Millisecond) }

// testContract pins down the edges every store must agree on.
func testContract(t *testing.T, h *Harness) {
	v, _ := session.EncodeValue("original")
	rec := record(h.Clock, "owner", time.Hour)
	rec.Values = map[string]sessionstore.Value{"v": v}
	k := mustCreate(t, h, rec)

	// Create never replaces a record.
	dup := record(h.Clock, "intruder", time.Hour)
	if err := h.Store.Create(ctx, k, dup); !errors.Is(err, sessionstore.ErrConflict) {
		t.Errorf("Create on a used key = %v, want ErrConflict", err)
	}
	if got := mustLoad(t, h, k); got.UserID != "owner" || !got.Values["v"].Equal(v) {
		t.Errorf("Create on a used key changed the record: %+v", got)
	}
	if infos, _ := h.Store.List(ctx, "intruder"); len(infos) != 0 {
		t.Errorf("Create on a used key indexed it under the other user")
	}

	// Update never moves a session to another user.
	moved := mustLoad(t, h, k)
	moved.UserID = "intruder"
	if err := h.Store.Update(ctx, k, moved); !errors.Is(err, sessionstore.ErrConflict) {
		t.Errorf("Update with another user = %v, want ErrConflict", err)
	}
	if got := mustLoad(t, h, k); got.UserID != "owner" {
		t.Errorf("Update moved the session to %q", got.UserID)
	}
	if infos, _ := h.Store.List(ctx, "owner"); len(infos) != 1 {
		t.Errorf("owner lists %d sessions after a refused move, want 1", len(infos))
	}

	// Anonymous sessions are not indexed: the empty user ID reaches none.
	anon := mustCreate(t, h, record(h.Clock, "", time.Hour))
	if infos, err := h.Store.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Errorf("List(\"\") = %d, %v; want none", len(infos), err)
	}
	if err := h.Store.DestroyHandle(ctx, "", anon.Handle()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("DestroyHandle(\"\", anonymous) = %v, want ErrNotFound", err)
	}
	if n, err := h.Store.DestroyUser(ctx, ""); err != nil || n != 0 {
		t.Errorf("DestroyUser(\"\") = %d, %v; want 0", n, err)
	}
	mustLoad(t, h, anon)
}

func testConflictMerge(t *testing.T, h *Harness) {
	p := policy
	s := session.New(h.Clock.Now())
	v, _ := session.EncodeValue("base")
	s.Set("base", v)
	s.Set("gone", v)
	if _, err := s.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
		t.Fatal(err)
	}
	a, _ := session.Load(ctx, h.Store, s.ID())
	b, _ := session.Load(ctx, h.Store, s.ID())
	va, _ := session.EncodeValue("from a")
	vb, _ := session.EncodeValue("from b")
	a.Set("a", va)
	b.Set("b", vb)
	b.Delete("gone")
	if _, err := a.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
		t.Fatal(err)
	}
	// b's raw compare-and-swap must fail...
	stale := b.Record()
	if err := h.Store.Update(ctx, s.Key(), stale); !errors.Is(err, sessionstore.ErrConflict) {
		t.Errorf("Update with a stale revision = %v, want ErrConflict", err)
	}
	// ...and its commit merges instead of overwriting a's change.
	if _, err := b.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
		t.Fatal(err)
	}
	got := mustLoad(t, h, s.Key())
	if !got.Values["a"].Equal(va) || !got.Values["b"].Equal(vb) || !got.Values["base"].Equal(v) {
		t.Errorf("after concurrent commits values = %v; want a, b and base", got.Values)
	}
	if _, ok := got.Values["gone"]; ok {
		t.Errorf("deleted value came back")
	}
}

func testSameSessionHammer(t *testing.T, h *Harness) {
	p := policy
	s := session.New(h.Clock.Now())
	v, _ := session.EncodeValue(0)
	s.Set("start", v)
	if _, err := s.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
		t.Fatal(err)
	}
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := session.Load(ctx, h.Store, s.ID())
			if err != nil {
				errs <- err
				return
			}
			x, _ := session.EncodeValue(i)
			r.Set(fmt.Sprintf("w%d", i), x)
			if _, err := r.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent commit: %v", err)
	}
	got := mustLoad(t, h, s.Key())
	for i := range writers {
		if _, ok := got.Values[fmt.Sprintf("w%d", i)]; !ok {
			t.Errorf("writer %d lost its change; values: %v", i, len(got.Values))
		}
	}
}

func testConcurrentDistinct(t *testing.T, h *Harness) {
	p := policy
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				uid := fmt.Sprintf("user-%d", w)
				s := session.New(h.Clock.Now())
				_ = s.SetUser(uid, "", false)
				x, _ := session.EncodeValue(fmt.Sprintf("%d/%d", w, i))
				s.Set("who", x)
				if _, err := s.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
					errs <- err
					return
				}
				r, err := session.Load(ctx, h.Store, s.ID())
				if err != nil {
					errs <- err
					return
				}
				if got, _ := r.Get("who"); !got.Equal(x) {
					errs <- fmt.Errorf("session %d/%d read %s", w, i, got.JSON)
					return
				}
				y, _ := session.EncodeValue(i)
				r.Set("i", y)
				if _, err := r.Commit(ctx, h.Store, h.Clock.Now(), p); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := h.Store.Destroy(ctx, r.Key()); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		infos, err := h.Store.List(ctx, fmt.Sprintf("user-%d", w))
		if err != nil || len(infos) != each/2 {
			t.Errorf("user-%d has %d sessions (%v), want %d", w, len(infos), err, each/2)
		}
	}
}

func testUserIndex(t *testing.T, h *Harness) {
	n := h.IndexSize
	keys := createMany(t, h, "heavy", n)
	otherKeys := createMany(t, h, "other", 3)

	infos, err := h.Store.List(ctx, "heavy")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(infos) != n {
		t.Fatalf("List returned %d sessions, want %d", len(infos), n)
	}
	want := make(map[string]bool, n)
	for _, k := range keys {
		want[k.Handle()] = true
	}
	for _, in := range infos {
		if !want[in.Handle] {
			t.Fatalf("List returned unknown handle %s", in.Handle)
		}
		if in.UserID != "heavy" || in.IPAddress != "203.0.113.7" || in.UserAgent != "storetest/1.0" || in.CreatedAt.IsZero() || in.LastActivity.IsZero() {
			t.Fatalf("List entry lacks metadata: %+v", in)
		}
	}

	// Revoke one by handle.
	victim := keys[n/2]
	if err := h.Store.DestroyHandle(ctx, "heavy", victim.Handle()); err != nil {
		t.Fatalf("DestroyHandle: %v", err)
	}
	wantIndexLen(t, h, "heavy", n-1, "after DestroyHandle") // before List, which prunes
	wantNotFound(t, h, victim, "after DestroyHandle")
	if err := h.Store.DestroyHandle(ctx, "heavy", victim.Handle()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("second DestroyHandle = %v, want ErrNotFound", err)
	}
	// Another user's handle, and malformed handles, are not found.
	for _, bad := range []string{otherKeys[0].Handle(), "", "%", "not-a-handle", otherKeys[0].String(), victim.Handle()[:8] + "%"} {
		if err := h.Store.DestroyHandle(ctx, "heavy", bad); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("DestroyHandle(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	mustLoad(t, h, otherKeys[0])

	// Revoke all: one batch.
	got, err := h.Store.DestroyUser(ctx, "heavy")
	if err != nil {
		t.Fatalf("DestroyUser: %v", err)
	}
	wantIndexLen(t, h, "heavy", 0, "after DestroyUser") // before List, which prunes
	if got != n-1 {
		t.Errorf("DestroyUser destroyed %d, want %d", got, n-1)
	}
	for _, k := range []sessionstore.Key{keys[0], keys[n-1]} {
		wantNotFound(t, h, k, "after DestroyUser")
	}
	if infos, err := h.Store.List(ctx, "heavy"); err != nil || len(infos) != 0 {
		t.Errorf("List after DestroyUser = %d, %v", len(infos), err)
	}
	if h.IndexLen != nil {
		if got := h.IndexLen(t, "heavy"); got != 0 {
			t.Errorf("index holds %d entries after DestroyUser", got)
		}
	}
	if infos, err := h.Store.List(ctx, "other"); err != nil || len(infos) != 3 {
		t.Errorf("another user's sessions: %d, %v; want 3", len(infos), err)
	}
	if n, err := h.Store.DestroyUser(ctx, "nobody"); err != nil || n != 0 {
		t.Errorf("DestroyUser(nobody) = %d, %v", n, err)
	}
}

// createMany creates n sessions of userID, a few goroutines at a time.
func createMany(t *testing.T, h *Harness, userID string, n int) []sessionstore.Key {
	t.Helper()
	keys := make([]sessionstore.Key, n)
	const workers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				k := NewKey()
				if err := h.Store.Create(ctx, k, record(h.Clock, userID, time.Hour)); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				keys[i] = k
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("Create: %v", firstErr)
	}
	return keys
}

func testIndexPruned(t *testing.T, h *Harness) {
	// Sessions that end by idle timeout, by deadline, and one that lives.
	idle := record(h.Clock, "pruned", 10*time.Minute)
	mustCreate(t, h, idle)
	short := record(h.Clock, "pruned", time.Hour)
	short.Deadline = h.Clock.Now().Add(20 * time.Minute).Truncate(time.Millisecond)
	short.ExpiresAt = short.Deadline
	mustCreate(t, h, short)
	h.Clock.Advance(30 * time.Minute)
	live := mustCreate(t, h, record(h.Clock, "pruned", time.Hour))

	infos, err := h.Store.List(ctx, "pruned")
	if err != nil || len(infos) != 1 || infos[0].Handle != live.Handle() {
		t.Fatalf("List = %v, %v; want only the live session", infos, err)
	}
	if h.Prune != nil {
		h.Prune(t)
	}
	if h.IndexLen != nil {
		if got := h.IndexLen(t, "pruned"); got != 1 {
			t.Errorf("index holds %d entries; want the 1 live one", got)
		}
	}
	h.Clock.Advance(2 * time.Hour)
	if infos, err := h.Store.List(ctx, "pruned"); err != nil || len(infos) != 0 {
		t.Errorf("List after all expired = %v, %v", infos, err)
	}
	if h.Prune != nil {
		h.Prune(t)
	}
	if h.IndexLen != nil {
		if got := h.IndexLen(t, "pruned"); got != 0 {
			t.Errorf("index holds %d entries after every session expired", got)
		}
	}
}

func testCorrupt(t *testing.T, h *Harness) {
	if h.Corrupt == nil {
		t.Skip("this store keeps no bytes that can be corrupted")
	}
	k := mustCreate(t, h, record(h.Clock, "user-c", time.Hour))
	h.Corrupt(t, k)
	if rec, err := h.Store.Load(ctx, k); !errors.Is(err, sessionstore.ErrCorrupt) && !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Load of a corrupt record = %v, %v; want ErrCorrupt or ErrNotFound", rec, err)
	}
	if _, err := h.Store.List(ctx, "user-c"); err != nil {
		t.Errorf("List with a corrupt record = %v", err)
	}
	if err := h.Store.Destroy(ctx, k); err != nil {
		t.Errorf("Destroy of a corrupt record = %v", err)
	}
	wantNotFound(t, h, k, "after destroying a corrupt record")
}

func testDown(t *testing.T, h *Harness) {
	if h.Down == nil {
		t.Skip("this store has no backend to lose")
	}
	down := h.Down(t)
	k := NewKey()
	rec := record(h.Clock, "user-d", time.Hour)
	ops := map[string]func() error{
		"Load":          func() error { _, err := down.Load(ctx, k); return err },
		"Create":        func() error { return down.Create(ctx, k, rec.Clone()) },
		"Update":        func() error { return down.Update(ctx, k, rec.Clone()) },
		"Touch":         func() error { return down.Touch(ctx, k, h.Clock.Now(), h.Clock.Now().Add(time.Hour)) },
		"Regenerate":    func() error { return down.Regenerate(ctx, k, "", NewKey(), rec.Clone()) },
		"Destroy":       func() error { return down.Destroy(ctx, k) },
		"List":          func() error { _, err := down.List(ctx, "user-d"); return err },
		"DestroyHandle": func() error { return down.DestroyHandle(ctx, "user-d", k.Handle()) },
		"DestroyUser":   func() error { _, err := down.DestroyUser(ctx, "user-d"); return err },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, sessionstore.ErrUnavailable) {
			t.Errorf("%s on a down store = %v, want ErrUnavailable", name, err)
		}
	}
	s, err := session.Load(ctx, down, session.NewID())
	if s != nil || !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Errorf("LoadSession on a down store = %v, %v; want no session and ErrUnavailable", s, err)
	}
}
