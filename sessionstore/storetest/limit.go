package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// The cases of sessionstore.Limiter: a cap on a user's live sessions.

func limiterOf(t *testing.T, s sessionstore.IndexedStore) sessionstore.Limiter {
	t.Helper()
	l, ok := s.(sessionstore.Limiter)
	if !ok {
		t.Skip("this store does not implement sessionstore.Limiter")
	}
	return l
}

var (
	endOldest = func(max int) sessionstore.Limit { return sessionstore.Limit{Max: max, EndOldest: true} }
	refuse    = func(max int) sessionstore.Limit { return sessionstore.Limit{Max: max} }
)

// policyName names a limit's policy in subtest names.
func policyName(l sessionstore.Limit) string {
	if l.EndOldest {
		return "EndOldest"
	}
	return "Refuse"
}

// limited creates a session of userID, begun now, under the limit, and
// checks that it ended want sessions to make room.
func limited(t *testing.T, h *Harness, l sessionstore.Limiter, userID string, limit sessionstore.Limit, want int) sessionstore.Key {
	t.Helper()
	k := NewKey()
	rec := record(h.Clock, userID, idleTimeout)
	ended, err := l.CreateLimited(ctx, nil, "", k, rec, limit)
	if err != nil || ended != want {
		t.Fatalf("CreateLimited(%+v) = %d, %v; want %d ended", limit, ended, err, want)
	}
	if rec.Rev == 0 {
		t.Errorf("CreateLimited left Rev at 0")
	}
	return k
}

// refused checks that a new session of userID is refused under the limit,
// and that nothing was stored under its key.
func refused(t *testing.T, h *Harness, l sessionstore.Limiter, userID string, limit sessionstore.Limit) {
	t.Helper()
	k := NewKey()
	ended, err := l.CreateLimited(ctx, nil, "", k, record(h.Clock, userID, idleTimeout), limit)
	if !errors.Is(err, sessionstore.ErrTooManySessions) || ended != 0 {
		t.Fatalf("CreateLimited(%+v) over the limit = %d, %v; want 0, ErrTooManySessions", limit, ended, err)
	}
	wantNotFound(t, h, k, "the key of a refused session")
}

// wantSessions checks that userID's live sessions are exactly want, each
// loadable, listed oldest first; and, where the harness can count them,
// that the index holds no entry for any other.
func wantSessions(t *testing.T, h *Harness, userID string, want []sessionstore.Key, when string) {
	t.Helper()
	wantIndexLen(t, h, userID, len(want), when) // before List, which prunes
	infos, err := h.Store.List(ctx, userID)
	if err != nil {
		t.Fatalf("%s: List: %v", when, err)
	}
	wanted := make([]sessionstore.Info, len(want))
	for i, k := range want {
		wanted[i] = mustLoad(t, h, k).Info(k)
	}
	sessionstore.SortInfos(wanted)
	handles := func(infos []sessionstore.Info) (out []string) {
		for _, in := range infos {
			out = append(out, in.ID)
		}
		return out
	}
	if got, wanted := handles(infos), handles(wanted); !slices.Equal(got, wanted) {
		t.Fatalf("%s: %s's sessions are %v; want %v", when, userID, got, wanted)
	}
}

// testLimit: the limit's rules, one call at a time.
func testLimit(t *testing.T, h *Harness) {
	l := limiterOf(t, h.Store)
	user := func(t *testing.T) string { return "limited-" + t.Name() }

	t.Run("EndOldest", func(t *testing.T) {
		uid := user(t)
		var keys []sessionstore.Key
		for i := range 5 {
			want := 0
			if i >= 3 {
				want = 1
			}
			keys = append(keys, limited(t, h, l, uid, endOldest(3), want))
			h.Clock.Advance(time.Second)
		}
		wantNotFound(t, h, keys[0], "the oldest session, ended")
		wantNotFound(t, h, keys[1], "the second oldest session, ended")
		wantSessions(t, h, uid, keys[2:], "after five sign-ins with a limit of 3")
		// A lower limit ends as many as it takes.
		last := limited(t, h, l, uid, endOldest(1), 3)
		wantSessions(t, h, uid, []sessionstore.Key{last}, "after a sign-in with a limit of 1")
	})

	t.Run("Refuse", func(t *testing.T) {
		uid := user(t)
		var keys []sessionstore.Key
		for range 3 {
			keys = append(keys, limited(t, h, l, uid, refuse(3), 0))
			h.Clock.Advance(time.Second)
		}
		refused(t, h, l, uid, refuse(3))
		refused(t, h, l, uid, refuse(1))
		wantSessions(t, h, uid, keys, "after refused sign-ins")
		// A session that ends makes room for one.
		if err := h.Store.Destroy(ctx, keys[1]); err != nil {
			t.Fatal(err)
		}
		k := limited(t, h, l, uid, refuse(3), 0)
		refused(t, h, l, uid, refuse(3))
		wantSessions(t, h, uid, []sessionstore.Key{keys[0], keys[2], k}, "after a logout and a sign-in")
	})

	// The oldest session is the one that began first, whatever the order
	// the store received them in (a rotated session keeps its start); of
	// sessions that began together, the one with the smaller key.
	t.Run("Oldest", func(t *testing.T) {
		uid := user(t)
		t0 := h.Clock.Now()
		h.Clock.Set(t0.Add(10 * time.Second))
		later := limited(t, h, l, uid, endOldest(3), 0)
		h.Clock.Set(t0)
		earlier := limited(t, h, l, uid, endOldest(3), 0)
		h.Clock.Set(t0.Add(20 * time.Second))
		limited(t, h, l, uid, endOldest(2), 1)
		wantNotFound(t, h, earlier, "the session that began first")
		mustLoad(t, h, later)

		uid += "-tie"
		a := limited(t, h, l, uid, endOldest(2), 0)
		b := limited(t, h, l, uid, endOldest(2), 0)
		if bytes.Compare(a[:], b[:]) > 0 {
			a, b = b, a
		}
		h.Clock.Advance(time.Second)
		c := limited(t, h, l, uid, endOldest(2), 1)
		wantNotFound(t, h, a, "of two sessions begun together, the one with the smaller key")
		wantSessions(t, h, uid, []sessionstore.Key{b, c}, "after a tie")
	})

	// A sign-in over one of the user's own sessions replaces it: the
	// session regenerated from does not count, so a user at the limit can
	// sign in again from a device, and nothing else ends. A sign-in over an
	// anonymous session, or another user's, adds one.
	t.Run("Regenerate", func(t *testing.T) {
		for _, limit := range []sessionstore.Limit{endOldest(3), refuse(3)} {
			for _, from := range []string{"own", "anonymous", "another user's"} {
				t.Run(policyName(limit)+"/"+from, func(t *testing.T) {
					uid := user(t)
					var keys []sessionstore.Key
					for range 3 {
						keys = append(keys, limited(t, h, l, uid, limit, 0))
						h.Clock.Advance(time.Second)
					}
					oldKey, oldUser := keys[1], uid
					switch from {
					case "anonymous":
						oldKey, oldUser = mustCreate(t, h, record(h.Clock, "", idleTimeout)), ""
					case "another user's":
						oldUser = uid + "-other"
						oldKey, _ = signIn(t, h, oldUser)
					}
					newKey := NewKey()
					ended, err := l.CreateLimited(ctx, &oldKey, oldUser, newKey, record(h.Clock, uid, idleTimeout), limit)
					switch {
					case from == "own":
						if err != nil || ended != 0 {
							t.Fatalf("CreateLimited over an own session at the limit = %d, %v; want 0, nil", ended, err)
						}
						wantNotFound(t, h, oldKey, "the session regenerated from")
						wantSessions(t, h, uid, []sessionstore.Key{keys[0], keys[2], newKey}, "after a sign-in over an own session")
					case limit.EndOldest:
						if err != nil || ended != 1 {
							t.Fatalf("CreateLimited over a %s session at the limit = %d, %v; want 1, nil", from, ended, err)
						}
						wantNotFound(t, h, oldKey, "the session regenerated from")
						wantSessions(t, h, uid, []sessionstore.Key{keys[1], keys[2], newKey}, "after a sign-in over a "+from+" session")
					default:
						if !errors.Is(err, sessionstore.ErrTooManySessions) || ended != 0 {
							t.Fatalf("CreateLimited over a %s session at the limit = %d, %v; want 0, ErrTooManySessions", from, ended, err)
						}
						wantNotFound(t, h, newKey, "the key of a refused session")
						if got := mustLoad(t, h, oldKey); got.UserID != oldUser {
							t.Errorf("a refused sign-in changed the session it was over: %+v", got.Meta)
						}
						wantSessions(t, h, uid, keys, "after a refused sign-in")
					}
					if oldUser != uid && oldUser != "" {
						if infos, err := h.Store.List(ctx, oldUser); err != nil || len(infos) != 1-ended {
							t.Errorf("the other user lists %d sessions, %v; want %d", len(infos), err, 1-ended)
						}
					}
				})
			}
		}
	})

	// Regenerate's rule holds: an old session that is gone (or not the
	// named user's) moves nothing, stores nothing, and ends nothing; at the
	// limit, the answer is still ErrNotFound, as a login over a gone
	// session is retried as a plain one.
	t.Run("RegenerateGone", func(t *testing.T) {
		gones := []struct {
			name string
			gone func(t *testing.T, k sessionstore.Key, uid string) string // the user CreateLimited names
		}{
			{"Destroyed", func(t *testing.T, k sessionstore.Key, uid string) string {
				if err := h.Store.Destroy(ctx, k); err != nil {
					t.Fatal(err)
				}
				return uid
			}},
			{"Revoked", func(t *testing.T, k sessionstore.Key, uid string) string {
				if err := h.Store.DestroyID(ctx, uid, k.ID()); err != nil {
					t.Fatal(err)
				}
				return uid
			}},
			{"OtherUser", func(*testing.T, sessionstore.Key, string) string { return "someone-else" }},
			{"Missing", func(*testing.T, sessionstore.Key, string) string { return "" }},
		}
		for _, limit := range []sessionstore.Limit{endOldest(3), refuse(3)} {
			for _, g := range gones {
				t.Run(policyName(limit)+"/"+g.name, func(t *testing.T) {
					uid := user(t)
					var keys []sessionstore.Key
					for range 3 {
						keys = append(keys, limited(t, h, l, uid, limit, 0))
					}
					old := mustCreate(t, h, record(h.Clock, uid+"-old", idleTimeout))
					oldUser := g.gone(t, old, uid+"-old")
					if g.name == "Missing" {
						old = NewKey()
					}
					newKey := NewKey()
					// At the limit, refusing or not: not found comes first.
					ended, err := l.CreateLimited(ctx, &old, oldUser, newKey, record(h.Clock, uid, idleTimeout), limit)
					if !errors.Is(err, sessionstore.ErrNotFound) || ended != 0 {
						t.Fatalf("CreateLimited from a gone session = %d, %v; want 0, ErrNotFound", ended, err)
					}
					wantNotFound(t, h, newKey, "the new key after a refused regeneration")
					wantSessions(t, h, uid, keys, "after a refused regeneration")
				})
			}
		}
		t.Run("Expired", func(t *testing.T) {
			uid := user(t)
			var keys []sessionstore.Key
			for range 3 {
				keys = append(keys, limited(t, h, l, uid, endOldest(3), 0))
			}
			short := record(h.Clock, uid, time.Minute)
			old := mustCreate(t, h, short)
			h.Clock.Set(short.ExpiresAt)
			newKey := NewKey()
			ended, err := l.CreateLimited(ctx, &old, uid, newKey, record(h.Clock, uid, idleTimeout), endOldest(3))
			if !errors.Is(err, sessionstore.ErrNotFound) || ended != 0 {
				t.Fatalf("CreateLimited from an expired session = %d, %v; want 0, ErrNotFound", ended, err)
			}
			wantNotFound(t, h, newKey, "the new key after a refused regeneration")
			if h.Prune != nil {
				h.Prune(t)
			}
			infos, err := h.Store.List(ctx, uid)
			if err != nil || len(infos) != 3 {
				t.Fatalf("List = %d sessions, %v; want the 3 live ones", len(infos), err)
			}
			for _, k := range keys {
				if !slices.ContainsFunc(infos, func(in sessionstore.Info) bool { return in.ID == k.ID() }) {
					t.Errorf("session %s is not listed", k.ID())
				}
			}
		})
	})

	// Sessions that expired, by idle timeout or by deadline, are not
	// counted, and not reported ended.
	t.Run("Expired", func(t *testing.T) {
		uid := user(t)
		mustCreate(t, h, record(h.Clock, uid, time.Minute))
		mustCreate(t, h, record(h.Clock, uid, time.Minute))
		deadline := record(h.Clock, uid, time.Hour)
		deadline.Deadline = normTime(h.Clock.Now().Add(90 * time.Second))
		deadline.ExpiresAt = deadline.Deadline
		mustCreate(t, h, deadline)
		long := mustCreate(t, h, record(h.Clock, uid, time.Hour))
		h.Clock.Advance(2 * time.Minute)
		k := limited(t, h, l, uid, refuse(2), 0)
		refused(t, h, l, uid, refuse(2))
		last := limited(t, h, l, uid, endOldest(1), 2)
		wantNotFound(t, h, long, "the live session ended")
		wantNotFound(t, h, k, "the live session ended")
		if h.Prune != nil {
			h.Prune(t)
		}
		wantSessions(t, h, uid, []sessionstore.Key{last}, "after expired sessions")
	})

	// Other users' sessions, and anonymous ones, are not counted, and
	// never ended.
	t.Run("OtherUsers", func(t *testing.T) {
		uid := user(t)
		var others, anons []sessionstore.Key
		for range 5 {
			k, _ := signIn(t, h, uid+"-neighbour")
			others = append(others, k)
			anons = append(anons, mustCreate(t, h, record(h.Clock, "", idleTimeout)))
		}
		// A user ID that the other's starts with is another user too.
		prefix := limited(t, h, l, uid+"-n", refuse(1), 0)
		k := limited(t, h, l, uid, refuse(1), 0)
		refused(t, h, l, uid, refuse(1))
		last := limited(t, h, l, uid, endOldest(1), 1)
		wantNotFound(t, h, k, "the user's session ended")
		wantSessions(t, h, uid, []sessionstore.Key{last}, "after the sign-ins")
		wantSessions(t, h, uid+"-neighbour", others, "the other user's sessions")
		wantSessions(t, h, uid+"-n", []sessionstore.Key{prefix}, "the other user's sessions")
		for _, k := range anons {
			mustLoad(t, h, k)
		}
	})

	// Anonymous sessions are never limited.
	t.Run("Anonymous", func(t *testing.T) {
		for _, limit := range []sessionstore.Limit{refuse(1), endOldest(1)} {
			var keys []sessionstore.Key
			for range 3 {
				keys = append(keys, limited(t, h, l, "", limit, 0))
			}
			for _, k := range keys {
				mustLoad(t, h, k)
			}
		}
	})

	// A limit that allows no session is a mistake, not a refusal, and
	// changes nothing.
	t.Run("BadLimit", func(t *testing.T) {
		uid := user(t)
		keep := limited(t, h, l, uid, refuse(1), 0)
		for _, limit := range []sessionstore.Limit{{Max: 0}, {Max: -1, EndOldest: true}, {EndOldest: true}} {
			k := NewKey()
			ended, err := l.CreateLimited(ctx, nil, "", k, record(h.Clock, uid, idleTimeout), limit)
			if err == nil || errors.Is(err, sessionstore.ErrTooManySessions) || ended != 0 {
				t.Errorf("CreateLimited(%+v) = %d, %v; want an error that is not ErrTooManySessions", limit, ended, err)
			}
			wantNotFound(t, h, k, "after a bad limit")
		}
		wantSessions(t, h, uid, []sessionstore.Key{keep}, "after bad limits")
	})
}

// testLimitHammer: parallel sign-ins of one user, on one store instance and,
// where the harness has one, on two over the same backend. Half of them
// sign in over an anonymous session. However they interleave, the user is
// left with at most Max live sessions; refusing, exactly Max sign-ins
// succeed (no refusal while fewer were live); ending the oldest, every
// sign-in succeeds and together they end exactly N-Max sessions. A session
// is loadable exactly when it is listed: an ended session is destroyed, not
// only dropped from the index.
func testLimitHammer(t *testing.T, h *Harness) {
	l := limiterOf(t, h.Store)
	for _, limit := range []sessionstore.Limit{endOldest(3), refuse(3)} {
		t.Run(policyName(limit), func(t *testing.T) {
			for round := range 3 {
				hammer(t, h, []sessionstore.Limiter{l}, limit, fmt.Sprintf("crowd-%s-%d", policyName(limit), round))
			}
		})
	}
	t.Run("Twin", func(t *testing.T) {
		if h.Twin == nil {
			t.Skip("this store has no second instance")
		}
		twin := limiterOf(t, h.Twin(t))
		for _, limit := range []sessionstore.Limit{endOldest(3), refuse(3)} {
			t.Run(policyName(limit), func(t *testing.T) {
				for round := range 3 {
					hammer(t, h, []sessionstore.Limiter{l, twin}, limit, fmt.Sprintf("twin-crowd-%s-%d", policyName(limit), round))
				}
			})
		}
	})
}

func hammer(t *testing.T, h *Harness, stores []sessionstore.Limiter, limit sessionstore.Limit, uid string) {
	t.Helper()
	const n = 20
	type call struct {
		key   sessionstore.Key
		from  *sessionstore.Key // an anonymous session, or nil
		ended int
		err   error
	}
	calls := make([]call, n)
	for i := range calls {
		calls[i].key = NewKey()
		if i%2 == 1 {
			k := mustCreate(t, h, record(h.Clock, "", idleTimeout))
			calls[i].from = &k
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range calls {
		c := &calls[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c.ended, c.err = stores[i%len(stores)].CreateLimited(ctx, c.from, "", c.key, record(h.Clock, uid, idleTimeout), limit)
		}()
	}
	close(start)
	wg.Wait()

	succeeded, ended := 0, 0
	for i, c := range calls {
		ended += c.ended
		switch {
		case c.err == nil:
			succeeded++
		case errors.Is(c.err, sessionstore.ErrTooManySessions) && !limit.EndOldest:
		default:
			t.Errorf("sign-in %d: CreateLimited = %d, %v", i, c.ended, c.err)
		}
		if c.from != nil {
			_, err := h.Store.Load(ctx, *c.from)
			if gone := errors.Is(err, sessionstore.ErrNotFound); gone != (c.err == nil) {
				t.Errorf("sign-in %d over an anonymous session: CreateLimited = %v, and the anonymous session: Load = %v", i, c.err, err)
			}
		}
	}
	want := limit.Max
	if limit.EndOldest {
		want = n
	}
	if succeeded != want {
		t.Errorf("%d of %d parallel sign-ins succeeded, want %d", succeeded, n, want)
	}
	if wantEnded := n - limit.Max; limit.EndOldest && ended != wantEnded {
		t.Errorf("parallel sign-ins ended %d sessions in all, want %d", ended, wantEnded)
	}
	infos, err := h.Store.List(ctx, uid)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(infos) != limit.Max {
		t.Errorf("after %d parallel sign-ins with %+v, the user has %d live sessions, want %d", n, limit, len(infos), limit.Max)
	}
	listed := make(map[string]bool)
	for _, in := range infos {
		listed[in.ID] = true
	}
	for i, c := range calls {
		_, err := h.Store.Load(ctx, c.key)
		if live := err == nil; live != listed[c.key.ID()] || (live && c.err != nil) {
			t.Errorf("sign-in %d (%v): Load = %v, listed = %v", i, c.err, err, listed[c.key.ID()])
		}
	}
	wantIndexLen(t, h, uid, limit.Max, "after the parallel sign-ins")
}
