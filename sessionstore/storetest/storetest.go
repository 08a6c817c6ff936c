// Package storetest is the behavioural suite that every session store must
// pass: call Run from a store's tests with a function that builds a fresh
// store, the way gin-contrib/sessions' tester package is used.
//
// Like testing/slogtest, it imports only what it tests (sessionstore) and
// the standard library: it drives the store through its interfaces alone,
// with records and values built by hand, so a store's author needs nothing
// else of ginauth to run it.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

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

	// Twin returns a second store on the same backend as Store, built with
	// Clock.Now as its clock, as another instance of the application would
	// have: the limit cases check that the two together keep a user's
	// sessions within the limit. Nil skips those checks (a store that
	// lives in one process's memory has no second instance).
	Twin func(t testing.TB) sessionstore.IndexedStore

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
		{"Limit", testLimit},
		{"LimitHammer", testLimitHammer},
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

// The lifetime the cases give signed-in sessions: ginauth's defaults
// (OWASP's), a 30-minute idle timeout within a 24-hour absolute one.
const (
	idleTimeout     = 30 * time.Minute
	absoluteTimeout = 24 * time.Hour
)

// record returns a record for a session created now that expires after
// idle, within a deadline of a day.
func record(c *Clock, userID string, idle time.Duration) *sessionstore.Record {
	now := normTime(c.Now())
	return &sessionstore.Record{
		Meta: sessionstore.Meta{UserID: userID, CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(idle), Deadline: now.Add(absoluteTimeout), IPAddress: "203.0.113.7", UserAgent: "storetest/1.0"},
	}
}

// expiry is when a session last active at last expires: after the idle
// timeout, never past its deadline.
func expiry(last, deadline time.Time) time.Time {
	e := last.Add(idleTimeout)
	if !deadline.IsZero() && deadline.Before(e) {
		return deadline
	}
	return e
}

// rotation returns the record that moving the loaded session rec to a new
// key stores now, as a rotation of its ID does: the same user, start,
// deadline and values, active now.
func rotation(c *Clock, rec *sessionstore.Record) *sessionstore.Record {
	r := rec.Clone()
	now := normTime(c.Now())
	r.LastActivity = now
	r.ExpiresAt = expiry(now, r.Deadline)
	r.Rev = 0
	return r
}

func normTime(t time.Time) time.Time { return t.Round(0).Truncate(time.Millisecond) }

// val is a session value whose JSON encoding is text.
func val(text string) sessionstore.Value { return sessionstore.Value{JSON: []byte(text)} }

// sameJSON reports whether a and b encode the same JSON value. Stores may
// keep a value's JSON in another but equivalent form (compacted, with HTML
// characters escaped), never another value: numbers are compared as the
// text they were written in, so a store that turned an integer into a
// float would fail.
func sameJSON(a, b sessionstore.Value) bool {
	x, errA := decodeJSON(a.JSON)
	y, errB := decodeJSON(b.JSON)
	return errA == nil && errB == nil && reflect.DeepEqual(x, y)
}

func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
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

// signIn creates a session of userID holding one value, as a login leaves
// it, and returns its key and the record as stored.
func signIn(t testing.TB, h *Harness, userID string) (sessionstore.Key, *sessionstore.Record) {
	t.Helper()
	rec := record(h.Clock, userID, idleTimeout)
	rec.Credential = "cred-" + userID
	rec.Auth = "password:1700000000000"
	rec.Values = map[string]sessionstore.Value{"theme": val(`"kept"`)}
	k := mustCreate(t, h, rec)
	return k, rec
}

// roundTripValues are the JSON encodings of values of every kind an
// application stores.
var roundTripValues = map[string]string{
	"string":  `"hé \"quoted\" <b> & \u2028 \ud83d\ude00"`,
	"empty":   `""`,
	"int":     `42`,
	"neg":     `-9007199254740993`, // beyond float64's exact integers
	"uint":    `18446744073709551615`,
	"float":   `3.25`,
	"tiny":    `1e-7`,
	"bool":    `true`,
	"time":    `"2026-11-27T10:30:15.123456789Z"`,
	"dur":     `90000000000`,
	"bytes":   `"AAEC/w=="`,
	"strings": `["a","b"]`,
	"ints":    `[1,2,3]`,
	"anys":    `["x",1.5,true,null]`,
	"map":     `{"k":"v","n":2.0,"nested":{"a":["b"]}}`,
	"smap":    `{"a":"b"}`,
	"imap":    `{"a":1}`,
	"nil":     `null`,
	"struct":  `{"items":["book"],"total":12.5,"at":"2026-11-27T10:30:15.123456789Z"}`,
	"spaced":  "{ \"a\" : [ 1 , 2 ] }\n",
	"nothing": `{}`,
	"none":    `[]`,
}

func testRoundTrip(t *testing.T, h *Harness) {
	rec := record(h.Clock, "user-1", 30*time.Minute)
	rec.Persistent = true
	rec.Credential = "cred-user-1"
	rec.Auth = "password:1700000000000,totp:1700000060000"
	rec.Values = map[string]sessionstore.Value{}
	for name, text := range roundTripValues {
		rec.Values[name] = val(text)
	}
	k := mustCreate(t, h, rec)
	if rec.Rev == 0 {
		t.Errorf("Create left Rev at 0")
	}
	got := mustLoad(t, h, k)
	for name, text := range roundTripValues {
		v, ok := got.Values[name]
		if !ok {
			t.Errorf("value %q lost", name)
			continue
		}
		if !sameJSON(v, val(text)) {
			t.Errorf("value %q = %s, want %s", name, v.JSON, text)
		}
	}
	if len(got.Values) != len(roundTripValues) {
		t.Errorf("%d values came back, want %d", len(got.Values), len(roundTripValues))
	}
	if infos, err := h.Store.List(ctx, "user-1"); err != nil || len(infos) != 1 || infos[0].Auth != rec.Auth ||
		infos[0].IPAddress != rec.IPAddress || infos[0].UserAgent != rec.UserAgent || !infos[0].CreatedAt.Equal(rec.CreatedAt) {
		t.Errorf("List = %+v, %v; want the session with its Auth %q, address, user agent and start", infos, err, rec.Auth)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"UserID", got.UserID, rec.UserID},
		{"IPAddress", got.IPAddress, rec.IPAddress},
		{"UserAgent", got.UserAgent, rec.UserAgent},
		{"Persistent", got.Persistent, true},
		{"Credential", got.Credential, rec.Credential},
		{"Auth", got.Auth, rec.Auth},
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
	v := val(`"kept"`)
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
	if len(after.Values) != 1 || !sameJSON(after.Values["v"], v) {
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
	if err != nil || len(infos) != 1 || infos[0].ID != other.ID() {
		t.Errorf("List after Destroy = %v, %v; want only %s", infos, err, other.ID())
	}
	mustLoad(t, h, other)
}

// testRegenerate: a login over an anonymous session moves it to a new key,
// storing the record the caller gives (the values it chose to carry, the
// user, a new start) and nothing of the old one's; a second regeneration
// of the signed-in session moves its index entry.
func testRegenerate(t *testing.T, h *Harness) {
	for _, keepAll := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keepAll), func(t *testing.T) {
			a, b := val(`"carried"`), val(`"dropped"`)
			anon := record(h.Clock, "", idleTimeout)
			anon.Values = map[string]sessionstore.Value{"returnTo": a, "other": b}
			oldKey := mustCreate(t, h, anon)

			h.Clock.Advance(time.Minute)
			loaded := mustLoad(t, h, oldKey)
			login := record(h.Clock, "user-9", idleTimeout)
			login.Values = map[string]sessionstore.Value{"returnTo": loaded.Values["returnTo"]}
			if keepAll {
				login.Values["other"] = loaded.Values["other"]
			}
			newKey := NewKey()
			if err := h.Store.Regenerate(ctx, oldKey, "", newKey, login); err != nil {
				t.Fatalf("Regenerate: %v", err)
			}
			if login.Rev == 0 {
				t.Errorf("Regenerate left Rev at 0")
			}
			wantNotFound(t, h, oldKey, "old key after Regenerate")
			got := mustLoad(t, h, newKey)
			if !sameJSON(got.Values["returnTo"], a) {
				t.Errorf("returnTo not carried: %v", got.Values)
			}
			if _, ok := got.Values["other"]; ok != keepAll {
				t.Errorf("other carried = %v, want %v", ok, keepAll)
			}
			if got.UserID != "user-9" || !got.CreatedAt.Equal(normTime(h.Clock.Now())) || got.Rev != login.Rev {
				t.Errorf("regenerated record = %+v, Rev %d; want user-9, begun now, Rev %d", got.Meta, got.Rev, login.Rev)
			}

			// Regenerating an indexed session moves its index entry.
			third := NewKey()
			if err := h.Store.Regenerate(ctx, newKey, "user-9", third, record(h.Clock, "user-9", idleTimeout)); err != nil {
				t.Fatalf("second Regenerate: %v", err)
			}
			wantIndexLen(t, h, "user-9", 1, "after the second Regenerate") // before List, which prunes
			infos, err := h.Store.List(ctx, "user-9")
			if err != nil || len(infos) != 1 || infos[0].ID != third.ID() {
				t.Errorf("List after second Regenerate = %v, %v; want only %s", infos, err, third.ID())
			}
			if n, err := h.Store.DestroyUser(ctx, "user-9"); err != nil || n != 1 {
				t.Errorf("DestroyUser = %d, %v", n, err)
			}
			wantIndexLen(t, h, "user-9", 0, "after DestroyUser")
		})
	}
}

// testNoResurrection: requests that loaded a session before a logout
// destroyed it write nothing back: an update fails, again and again, and a
// touch does nothing.
func testNoResurrection(t *testing.T, h *Harness) {
	rec := record(h.Clock, "", idleTimeout)
	rec.Values = map[string]sessionstore.Value{"n": val(`1`)}
	k := mustCreate(t, h, rec)
	// Two requests load the session; a logout destroys it; both finish.
	early := mustLoad(t, h, k)
	raw := mustLoad(t, h, k)
	if err := h.Store.Destroy(ctx, k); err != nil {
		t.Fatal(err)
	}
	early.Values["n"] = val(`2`)
	if err := h.Store.Update(ctx, k, early); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Update of a destroyed session = %v, want ErrNotFound", err)
	}
	// Trying again must not recreate it under the same key either.
	early.Values["n"] = val(`1`)
	if err := h.Store.Update(ctx, k, early); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("second Update of a destroyed session = %v, want ErrNotFound", err)
	}
	h.Clock.Advance(2 * time.Minute)
	now := h.Clock.Now()
	if err := h.Store.Touch(ctx, k, now, now.Add(idleTimeout)); err != nil {
		t.Errorf("touching a destroyed session = %v, want nil", err)
	}
	if err := h.Store.Update(ctx, k, raw); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Update of a destroyed record = %v, want ErrNotFound", err)
	}
	wantNotFound(t, h, k, "after writes to a destroyed session")
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
// is revoked (by every way there is to end one), then the request rotates
// its ID, carrying the user over. The move must fail and store nothing:
// the revoke stands. A login (a fresh authentication) over the gone
// session still succeeds: Regenerate reports the old session gone and
// leaves the new key free, and Create stores the new session under it.
func testRegenerateRevoked(t *testing.T, h *Harness) {
	revokes := []struct {
		name   string
		revoke func(t *testing.T, uid string, k sessionstore.Key, rec *sessionstore.Record)
	}{
		{"DestroyUser", func(t *testing.T, uid string, _ sessionstore.Key, _ *sessionstore.Record) {
			if n, err := h.Store.DestroyUser(ctx, uid); err != nil || n != 1 {
				t.Fatalf("DestroyUser = %d, %v; want 1", n, err)
			}
		}},
		{"DestroyID", func(t *testing.T, uid string, k sessionstore.Key, _ *sessionstore.Record) {
			if err := h.Store.DestroyID(ctx, uid, k.ID()); err != nil {
				t.Fatalf("DestroyID: %v", err)
			}
		}},
		{"Destroy", func(t *testing.T, _ string, k sessionstore.Key, _ *sessionstore.Record) {
			if err := h.Store.Destroy(ctx, k); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
		}},
		{"Expired", func(t *testing.T, _ string, _ sessionstore.Key, rec *sessionstore.Record) {
			h.Clock.Set(rec.ExpiresAt)
		}},
	}
	for i, rv := range revokes {
		t.Run(rv.name, func(t *testing.T) {
			uid := fmt.Sprintf("revoked-%d", i)
			k, _ := signIn(t, h, uid)
			loaded := mustLoad(t, h, k)
			rv.revoke(t, uid, k, loaded)

			rotated := NewKey()
			if err := h.Store.Regenerate(ctx, k, uid, rotated, rotation(h.Clock, loaded)); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("Regenerate of a session, carrying its user, after it was revoked = %v; want ErrNotFound", err)
			}
			wantNotFound(t, h, rotated, "the session regenerated from a revoked one")
			wantNotFound(t, h, k, "the revoked session")
			wantIndexEmpty(t, h, uid, "after a refused regeneration")
			again := NewKey()
			if err := h.Store.Regenerate(ctx, k, uid, again, rotation(h.Clock, loaded)); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Errorf("second Regenerate = %v; want ErrNotFound", err)
			}
			wantNotFound(t, h, again, "after a second Regenerate")

			// A login signs the user in anew: the gone session does not
			// stand in its way.
			loginKey := NewKey()
			login := record(h.Clock, uid, idleTimeout)
			login.Credential = "cred-" + uid
			if err := h.Store.Regenerate(ctx, k, uid, loginKey, login); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("Regenerate of a login over a revoked session = %v; want ErrNotFound", err)
			}
			if err := h.Store.Create(ctx, loginKey, login); err != nil {
				t.Fatalf("Create of the login under the key Regenerate refused = %v", err)
			}
			if got := mustLoad(t, h, loginKey); got.UserID != uid || !got.CreatedAt.Equal(normTime(h.Clock.Now())) {
				t.Errorf("login over a revoked session stored %+v", got.Meta)
			}
			if infos, err := h.Store.List(ctx, uid); err != nil || len(infos) != 1 || infos[0].ID != loginKey.ID() {
				t.Errorf("List after the login = %v, %v; want only %s", infos, err, loginKey.ID())
			}
		})
	}

	t.Run("Store", func(t *testing.T) {
		// No record under oldKey: nothing moved.
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
		other, _ := signIn(t, h, "owner-raw")
		newKey = NewKey()
		rec = record(h.Clock, "intruder-raw", time.Hour)
		if err := h.Store.Regenerate(ctx, other, "intruder-raw", newKey, rec); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("Regenerate of another user's session = %v, want ErrNotFound", err)
		}
		wantNotFound(t, h, newKey, "after Regenerate of another user's session")
		wantIndexEmpty(t, h, "intruder-raw", "after Regenerate of another user's session")
		if got := mustLoad(t, h, other); got.UserID != "owner-raw" {
			t.Errorf("the other user's session after a refused Regenerate: %+v", got.Meta)
		}
	})
}

// testRegenerateRacingRevoke: requests rotate the IDs of a user's
// sessions, each carrying the user over, while the user's sessions are
// revoked. Whatever the order, no session of the user survives: a
// regeneration that came first is revoked with the rest, one that came
// after fails.
func testRegenerateRacingRevoke(t *testing.T, h *Harness) {
	const n = 16
	const uid = "racer"
	type move struct {
		from, to sessionstore.Key
		loaded   *sessionstore.Record
	}
	moves := make([]move, n)
	for i := range moves {
		k, _ := signIn(t, h, uid)
		moves[i] = move{from: k, to: NewKey(), loaded: mustLoad(t, h, k)}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n+1)
	start := make(chan struct{})
	for _, m := range moves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := h.Store.Regenerate(ctx, m.from, uid, m.to, rotation(h.Clock, m.loaded))
			if err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
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
	for i, m := range moves {
		for _, k := range []sessionstore.Key{m.from, m.to} {
			if rec, err := h.Store.Load(ctx, k); err == nil {
				t.Errorf("session %d, regenerated while its user's sessions were revoked, is live: %+v", i, rec.Meta)
			}
		}
	}
	if infos, err := h.Store.List(ctx, uid); err != nil || len(infos) != 0 {
		t.Errorf("after the revoke, List = %d sessions, %v; want none", len(infos), err)
	}
}

// testRegenerateKeepsStart: rotating a signed-in session's ID keeps the
// time it began and its deadline, so that the absolute timeout still
// counts from the sign-in however often the ID rotates; a login stores a
// new start.
func testRegenerateKeepsStart(t *testing.T, h *Harness) {
	start := normTime(h.Clock.Now())
	k, _ := signIn(t, h, "rotator")
	for elapsed := 20 * time.Minute; elapsed < absoluteTimeout; elapsed += 20 * time.Minute {
		h.Clock.Set(start.Add(elapsed))
		loaded, err := h.Store.Load(ctx, k)
		if err != nil {
			t.Fatalf("at %v after sign-in: Load = %v", elapsed, err)
		}
		next := NewKey()
		if err := h.Store.Regenerate(ctx, k, "rotator", next, rotation(h.Clock, loaded)); err != nil {
			t.Fatalf("at %v after sign-in: Regenerate = %v", elapsed, err)
		}
		got := mustLoad(t, h, next)
		if !got.CreatedAt.Equal(start) || !got.Deadline.Equal(start.Add(absoluteTimeout)) {
			t.Fatalf("at %v after sign-in, the regenerated session began at %v with deadline %v; want %v and %v",
				elapsed, got.CreatedAt, got.Deadline, start, start.Add(absoluteTimeout))
		}
		k = next
	}
	h.Clock.Set(start.Add(absoluteTimeout - time.Millisecond))
	mustLoad(t, h, k)
	h.Clock.Set(start.Add(absoluteTimeout))
	wantNotFound(t, h, k, "at the absolute timeout of the first sign-in")

	// A login is a new start.
	h.Clock.Set(start.Add(absoluteTimeout - time.Millisecond))
	login := NewKey()
	if err := h.Store.Regenerate(ctx, k, "rotator", login, record(h.Clock, "rotator", idleTimeout)); err != nil {
		t.Fatalf("login: %v", err)
	}
	if got := mustLoad(t, h, login); !got.CreatedAt.Equal(normTime(h.Clock.Now())) {
		t.Errorf("a login kept the start %v; want %v", got.CreatedAt, normTime(h.Clock.Now()))
	}
}

// testContract pins down the edges every store must agree on.
func testContract(t *testing.T, h *Harness) {
	v := val(`"original"`)
	rec := record(h.Clock, "owner", time.Hour)
	rec.Values = map[string]sessionstore.Value{"v": v}
	k := mustCreate(t, h, rec)

	// Create never replaces a record.
	dup := record(h.Clock, "intruder", time.Hour)
	if err := h.Store.Create(ctx, k, dup); !errors.Is(err, sessionstore.ErrConflict) {
		t.Errorf("Create on a used key = %v, want ErrConflict", err)
	}
	if got := mustLoad(t, h, k); got.UserID != "owner" || !sameJSON(got.Values["v"], v) {
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
	if err := h.Store.DestroyID(ctx, "", anon.ID()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("DestroyID(\"\", anonymous) = %v, want ErrNotFound", err)
	}
	if n, err := h.Store.DestroyUser(ctx, ""); err != nil || n != 0 {
		t.Errorf("DestroyUser(\"\") = %d, %v; want 0", n, err)
	}
	mustLoad(t, h, anon)
}

// testConflictMerge: of two requests that loaded one session, the second
// to write loses the compare-and-swap, changing nothing; reloading and
// applying its changes again keeps both requests' changes.
func testConflictMerge(t *testing.T, h *Harness) {
	v := val(`"base"`)
	rec := record(h.Clock, "", idleTimeout)
	rec.Values = map[string]sessionstore.Value{"base": v, "gone": v}
	k := mustCreate(t, h, rec)
	a, b := mustLoad(t, h, k), mustLoad(t, h, k)
	va, vb := val(`"from a"`), val(`"from b"`)
	a.Values["a"] = va
	if err := h.Store.Update(ctx, k, a); err != nil {
		t.Fatal(err)
	}
	// b's compare-and-swap must fail, and change nothing...
	b.Values["b"] = vb
	delete(b.Values, "gone")
	if err := h.Store.Update(ctx, k, b); !errors.Is(err, sessionstore.ErrConflict) {
		t.Errorf("Update with a stale revision = %v, want ErrConflict", err)
	}
	if got := mustLoad(t, h, k); got.Rev != a.Rev || len(got.Values) != 3 || !sameJSON(got.Values["a"], va) {
		t.Errorf("a refused Update changed the record: Rev %d (want %d), values %v", got.Rev, a.Rev, got.Values)
	}
	// ...and b, reloaded with its changes applied again, keeps a's change.
	fresh := mustLoad(t, h, k)
	fresh.Values["b"] = vb
	delete(fresh.Values, "gone")
	if err := h.Store.Update(ctx, k, fresh); err != nil {
		t.Fatal(err)
	}
	got := mustLoad(t, h, k)
	if !sameJSON(got.Values["a"], va) || !sameJSON(got.Values["b"], vb) || !sameJSON(got.Values["base"], v) {
		t.Errorf("after concurrent updates values = %v; want a, b and base", got.Values)
	}
	if _, ok := got.Values["gone"]; ok {
		t.Errorf("deleted value came back")
	}
}

// setValue sets one value of the session under k the way a request does:
// load, change, compare-and-swap, and on a conflict reload and change
// again.
func setValue(h *Harness, k sessionstore.Key, name string, v sessionstore.Value) error {
	const attempts = 64
	for attempt := 1; ; attempt++ {
		r, err := h.Store.Load(ctx, k)
		if err != nil {
			return err
		}
		if r.Values == nil {
			r.Values = make(map[string]sessionstore.Value)
		}
		r.Values[name] = v
		err = h.Store.Update(ctx, k, r)
		if !errors.Is(err, sessionstore.ErrConflict) || attempt == attempts {
			return err
		}
		if attempt > 2 {
			time.Sleep(time.Duration(attempt) * 100 * time.Microsecond) // spread out writers that keep colliding
		}
	}
}

func testSameSessionHammer(t *testing.T, h *Harness) {
	rec := record(h.Clock, "", idleTimeout)
	rec.Values = map[string]sessionstore.Value{"start": val(`0`)}
	k := mustCreate(t, h, rec)
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := setValue(h, k, fmt.Sprintf("w%d", i), val(fmt.Sprint(i))); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent update: %v", err)
	}
	got := mustLoad(t, h, k)
	for i := range writers {
		if v, ok := got.Values[fmt.Sprintf("w%d", i)]; !ok || !sameJSON(v, val(fmt.Sprint(i))) {
			t.Errorf("writer %d lost its change; values: %v", i, len(got.Values))
		}
	}
}

func testConcurrentDistinct(t *testing.T, h *Harness) {
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rec := record(h.Clock, fmt.Sprintf("user-%d", w), idleTimeout)
				x := val(fmt.Sprintf(`"%d/%d"`, w, i))
				rec.Values = map[string]sessionstore.Value{"who": x}
				k := NewKey()
				if err := h.Store.Create(ctx, k, rec); err != nil {
					errs <- err
					return
				}
				r, err := h.Store.Load(ctx, k)
				if err != nil {
					errs <- err
					return
				}
				if got := r.Values["who"]; !sameJSON(got, x) {
					errs <- fmt.Errorf("session %d/%d read %s", w, i, got.JSON)
					return
				}
				r.Values["i"] = val(fmt.Sprint(i))
				if err := h.Store.Update(ctx, k, r); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := h.Store.Destroy(ctx, k); err != nil {
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
		want[k.ID()] = true
	}
	for _, in := range infos {
		if !want[in.ID] {
			t.Fatalf("List returned unknown handle %s", in.ID)
		}
		if in.UserID != "heavy" || in.IPAddress != "203.0.113.7" || in.UserAgent != "storetest/1.0" || in.CreatedAt.IsZero() || in.LastActivity.IsZero() {
			t.Fatalf("List entry lacks metadata: %+v", in)
		}
	}

	// Revoke one by handle.
	victim := keys[n/2]
	if err := h.Store.DestroyID(ctx, "heavy", victim.ID()); err != nil {
		t.Fatalf("DestroyID: %v", err)
	}
	wantIndexLen(t, h, "heavy", n-1, "after DestroyID") // before List, which prunes
	wantNotFound(t, h, victim, "after DestroyID")
	if err := h.Store.DestroyID(ctx, "heavy", victim.ID()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("second DestroyID = %v, want ErrNotFound", err)
	}
	// Another user's handle, and malformed handles, are not found.
	for _, bad := range []string{otherKeys[0].ID(), "", "%", "not-a-handle", otherKeys[0].String(), victim.ID()[:8] + "%"} {
		if err := h.Store.DestroyID(ctx, "heavy", bad); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Errorf("DestroyID(%q) = %v, want ErrNotFound", bad, err)
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
	if err != nil || len(infos) != 1 || infos[0].ID != live.ID() {
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
		"Load":        func() error { _, err := down.Load(ctx, k); return err },
		"Create":      func() error { return down.Create(ctx, k, rec.Clone()) },
		"Update":      func() error { return down.Update(ctx, k, rec.Clone()) },
		"Touch":       func() error { return down.Touch(ctx, k, h.Clock.Now(), h.Clock.Now().Add(time.Hour)) },
		"Regenerate":  func() error { return down.Regenerate(ctx, k, "", NewKey(), rec.Clone()) },
		"Destroy":     func() error { return down.Destroy(ctx, k) },
		"List":        func() error { _, err := down.List(ctx, "user-d"); return err },
		"DestroyID":   func() error { return down.DestroyID(ctx, "user-d", k.ID()) },
		"DestroyUser": func() error { _, err := down.DestroyUser(ctx, "user-d"); return err },
	}
	if l, ok := down.(sessionstore.Limiter); ok {
		ops["CreateLimited"] = func() error {
			_, err := l.CreateLimited(ctx, nil, "", NewKey(), rec.Clone(), sessionstore.Limit{Max: 1})
			return err
		}
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, sessionstore.ErrUnavailable) {
			t.Errorf("%s on a down store = %v, want ErrUnavailable", name, err)
		}
	}
}
