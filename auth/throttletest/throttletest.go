// Package throttletest is the behavioural suite that every auth.ThrottleStore
// must pass: lockout arithmetic, release, many keys, and reservations that
// stay atomic under a hammer of parallel attempts.
//
//	func TestMyThrottle(t *testing.T) {
//		throttletest.Run(t, func(t *testing.T) auth.ThrottleStore { return newMyThrottle(t) })
//	}
package throttletest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/testenv"
)

// Factory returns a fresh throttle store for one case. The cases use keys of
// their own, so stores may be shared.
type Factory func(t *testing.T) auth.ThrottleStore

// Rule is the rule the cases throttle with: ginauth's per-account default.
var Rule = auth.ThrottleRule{Failures: 5, Window: 15 * time.Minute, BaseDelay: time.Minute, MaxDelay: 15 * time.Minute}

var start = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// Run runs every case against stores from newStore.
func Run(t *testing.T, newStore Factory) {
	t.Run("Lockout", func(t *testing.T) { testLockout(t, newStore(t)) })
	t.Run("Release", func(t *testing.T) { testRelease(t, newStore(t)) })
	t.Run("Window", func(t *testing.T) { testWindow(t, newStore(t)) })
	t.Run("ManyKeys", func(t *testing.T) { testManyKeys(t, newStore(t)) })
	t.Run("BurstReservesAtMostTheLimit", func(t *testing.T) { testBurst(t, newStore(t)) })
	t.Run("ReleasedAttemptsNeverLock", func(t *testing.T) { testReleaseHammer(t, newStore(t)) })
}

// h drives one store on one clock.
type h struct {
	t   *testing.T
	s   auth.ThrottleStore
	now time.Time
}

func (h *h) reserve(keys ...auth.ThrottleKey) time.Duration {
	h.t.Helper()
	d, err := h.s.Reserve(context.Background(), h.now, keys)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *h) release(succeeded bool, keys ...auth.ThrottleKey) {
	h.t.Helper()
	if err := h.s.Release(context.Background(), h.now, keys, succeeded); err != nil {
		h.t.Fatal(err)
	}
}

func key(kind string, rule auth.ThrottleRule, account bool) auth.ThrottleKey {
	return auth.ThrottleKey{Key: kind + ":" + testenv.Unique(), Rule: rule, Account: account}
}

// Reserved attempts count as failures: the 5th locks, further ones are
// refused with the time left, and failures after a lockout double it.
func testLockout(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user := key("u", Rule, true)
	for i := range 5 {
		if d := h.reserve(user); d != 0 {
			t.Fatalf("attempt %d refused for %v", i+1, d)
		}
		h.now = h.now.Add(time.Minute)
	}
	// The 5th attempt, a minute ago, locked the key for a minute.
	h.now = h.now.Add(-time.Minute)
	if d := h.reserve(user); d != time.Minute {
		t.Fatalf("6th attempt: refused for %v, want 1m", d)
	}
	h.now = h.now.Add(30 * time.Second)
	if d := h.reserve(user); d != 30*time.Second {
		t.Fatalf("half way: refused for %v, want 30s", d)
	}
	h.now = h.now.Add(30 * time.Second)
	// Each attempt after a lockout locks again, twice as long, up to the
	// maximum; refused attempts count nothing.
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		if d := h.reserve(user); d != 0 {
			t.Fatalf("attempt after the lockout refused for %v", d)
		}
		for range 3 {
			if d := h.reserve(user); d != want {
				t.Fatalf("lockout %v, want %v", d, want)
			}
		}
		h.now = h.now.Add(want)
	}
}

// A success gives the attempt back and clears the account key; other keys
// get the attempt back only; a lockout the attempt's reservation caused is
// lifted.
func testRelease(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user, ip := key("u", Rule, true), key("ip", Rule, false)
	for range 4 {
		h.reserve(user, ip)
	}
	// The 5th reservation locks both; the attempt succeeds.
	if d := h.reserve(user, ip); d != 0 {
		t.Fatalf("5th attempt refused for %v", d)
	}
	if d := h.reserve(user); d != time.Minute {
		t.Fatalf("while the 5th is in flight: refused for %v, want 1m", d)
	}
	h.release(true, user, ip)
	// The account forgot everything: five more attempts before a lockout.
	for i := range 4 {
		if d := h.reserve(user); d != 0 {
			t.Fatalf("account attempt %d after a success refused for %v", i+1, d)
		}
	}
	// The address kept its four failures: one more locks it.
	if d := h.reserve(ip); d != 0 {
		t.Fatalf("address refused for %v after the success gave its attempt back", d)
	}
	if d := h.reserve(ip); d != time.Minute {
		t.Fatalf("address after five failures: refused for %v, want 1m", d)
	}
	// An attempt that could not be judged gives its place back too.
	other := key("u", Rule, true)
	for range 4 {
		h.reserve(other)
	}
	h.reserve(other)
	h.release(false, other)
	if d := h.reserve(other); d != 0 {
		t.Fatalf("after an unjudged attempt was released: refused for %v", d)
	}
	if d := h.reserve(other); d != time.Minute {
		t.Fatalf("refused for %v, want 1m", d)
	}
	// Releasing a key the store never saw is harmless.
	h.release(true, key("u", Rule, true), key("ip", Rule, false))
}

// Failures further apart than the window do not add up.
func testWindow(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user := key("u", Rule, true)
	for range 12 {
		if d := h.reserve(user); d != 0 {
			t.Fatalf("spread-out failures refused for %v", d)
		}
		h.now = h.now.Add(Rule.Window + time.Second)
	}
}

// Keys are independent; the longest lockout wins; a refused attempt counts
// on no key.
func testManyKeys(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	strict := auth.ThrottleRule{Failures: 1, Window: time.Hour, BaseDelay: 3 * time.Minute, MaxDelay: time.Hour}
	user, ip := key("u", Rule, true), key("ip", strict, false)
	if d := h.reserve(user, ip); d != 0 {
		t.Fatalf("first attempt refused for %v", d)
	}
	for range 10 {
		if d := h.reserve(key("u", Rule, true), ip); d != 3*time.Minute {
			t.Fatalf("locked address: refused for %v, want 3m", d)
		}
		if d := h.reserve(user, ip); d != 3*time.Minute {
			t.Fatalf("locked address: refused for %v, want 3m", d)
		}
	}
	// The refusals did not count against the account: it has one failure.
	h.now = h.now.Add(3 * time.Minute)
	for i := range 3 {
		if d := h.reserve(user); d != 0 {
			t.Fatalf("account attempt %d refused for %v: refused attempts were counted", i+2, d)
		}
	}
}

// A burst of parallel attempts at one key gets exactly the rule's number of
// reservations; the rest are refused.
func testBurst(t *testing.T, s auth.ThrottleStore) {
	user := key("u", Rule, true)
	const n = 200
	var granted atomic.Int64
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			d, err := s.Reserve(context.Background(), start, []auth.ThrottleKey{user})
			if err != nil {
				t.Error(err)
				return
			}
			if d == 0 {
				granted.Add(1)
			}
		}()
	}
	close(release)
	wg.Wait()
	if g := granted.Load(); g != int64(Rule.Failures) {
		t.Errorf("%d parallel attempts: %d reserved, want exactly %d", n, g, Rule.Failures)
	}
}

// Attempts that are all released (successes from one address) never add up
// to a lockout, however they interleave.
func testReleaseHammer(t *testing.T, s auth.ThrottleStore) {
	ip := key("ip", Rule, false)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				now := start.Add(time.Duration(g*25+i) * time.Millisecond)
				d, err := s.Reserve(context.Background(), now, []auth.ThrottleKey{ip})
				if err != nil {
					t.Error(err)
					return
				}
				if d > 0 {
					continue // others were in flight: refused, nothing to give back
				}
				if err := s.Release(context.Background(), now, []auth.ThrottleKey{ip}, true); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h := &h{t: t, s: s, now: start.Add(time.Second)}
	for i := range Rule.Failures - 1 {
		if d := h.reserve(ip); d != 0 {
			t.Fatalf("after released attempts, attempt %d refused for %v: the count leaked", i+1, d)
		}
	}
}
