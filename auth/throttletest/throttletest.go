// Package throttletest is the behavioural suite that every auth.ThrottleStore
// must pass: lockout arithmetic, verdicts, many keys, attempts in flight
// that are never failures, and reservations that stay atomic under a hammer
// of parallel attempts. It imports only what it tests.
//
//	func TestMyThrottle(t *testing.T) {
//		throttletest.Run(t, func(t *testing.T) auth.ThrottleStore { return newMyThrottle(t) })
//	}
package throttletest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
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
	t.Run("Verdicts", func(t *testing.T) { testVerdicts(t, newStore(t)) })
	t.Run("Window", func(t *testing.T) { testWindow(t, newStore(t)) })
	t.Run("ManyKeys", func(t *testing.T) { testManyKeys(t, newStore(t)) })
	t.Run("CheckChangesNothing", func(t *testing.T) { testCheck(t, newStore(t)) })
	t.Run("BurstReservesAtMostTheLimit", func(t *testing.T) { testBurst(t, newStore(t)) })
	t.Run("ReservationsAreNotFailures", func(t *testing.T) { testReservationsAreNotFailures(t, newStore(t)) })
	t.Run("OneInFlightAfterALockout", func(t *testing.T) { testOneInFlightAfterLockout(t, newStore(t)) })
	t.Run("UnsettledReservationsLapse", func(t *testing.T) { testLapse(t, newStore(t)) })
	t.Run("FailureWithoutReservation", func(t *testing.T) { testUnreservedFailure(t, newStore(t)) })
	t.Run("SettledAttemptsNeverLock", func(t *testing.T) { testSettleHammer(t, newStore(t)) })
}

// h drives one store on one clock.
type h struct {
	t   *testing.T
	s   auth.ThrottleStore
	now time.Time
}

// reserve reserves an attempt and returns the lockout that refused it, or 0;
// an ErrInFlight fails the test.
func (h *h) reserve(keys ...auth.ThrottleKey) time.Duration {
	h.t.Helper()
	d, err := h.s.Reserve(context.Background(), h.now, keys)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *h) check(keys ...auth.ThrottleKey) time.Duration {
	h.t.Helper()
	d, err := h.s.Check(context.Background(), h.now, keys)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *h) settle(v auth.Verdict, keys ...auth.ThrottleKey) time.Duration {
	h.t.Helper()
	s := make([]auth.Settlement, len(keys))
	for i, k := range keys {
		s[i] = auth.Settlement{ThrottleKey: k, Verdict: v, Reserved: true}
	}
	d, err := h.s.Settle(context.Background(), h.now, s)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// attempt is one whole attempt: reserved, then settled with v. It returns
// the lockout that refused it (nothing settled then), or 0.
func (h *h) attempt(v auth.Verdict, keys ...auth.ThrottleKey) time.Duration {
	h.t.Helper()
	if d := h.reserve(keys...); d != 0 {
		return d
	}
	h.settle(v, keys...)
	return 0
}

func key(kind string, rule auth.ThrottleRule) auth.ThrottleKey {
	return auth.ThrottleKey{Key: kind + ":" + unique(), Rule: rule}
}

var seq atomic.Int64

// unique returns a name no other case or run uses.
func unique() string {
	return fmt.Sprintf("%d-%d-%d", time.Now().UnixNano(), os.Getpid(), seq.Add(1))
}

// Failures lock a key at the rule's limit; further attempts are refused
// with the time left; failures after a lockout double it.
func testLockout(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user := key("u", Rule)
	for i := range 4 {
		if d := h.attempt(auth.Failed, user); d != 0 {
			t.Fatalf("attempt %d refused for %v", i+1, d)
		}
		h.now = h.now.Add(time.Minute)
	}
	h.reserve(user)
	if d := h.settle(auth.Failed, user); d != time.Minute {
		t.Fatalf("the 5th failure started a lockout of %v, want 1m", d)
	}
	if d := h.reserve(user); d != time.Minute {
		t.Fatalf("6th attempt: refused for %v, want 1m", d)
	}
	if d := h.check(user); d != time.Minute {
		t.Fatalf("Check during the lockout: %v, want 1m", d)
	}
	h.now = h.now.Add(30 * time.Second)
	if d := h.reserve(user); d != 30*time.Second {
		t.Fatalf("half way: refused for %v, want 30s", d)
	}
	h.now = h.now.Add(30 * time.Second)
	if d := h.check(user); d != 0 {
		t.Fatalf("Check after the lockout: %v", d)
	}
	// Each failure after a lockout locks again, twice as long, up to the
	// maximum; refused attempts count nothing.
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		if d := h.attempt(auth.Failed, user); d != 0 {
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

// Cleared forgets a key's failures; Unjudged counts nothing and keeps them.
func testVerdicts(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user, ip := key("u", Rule), key("ip", Rule)
	for range 4 {
		h.attempt(auth.Failed, user, ip)
	}
	// A success: the account forgets, the address keeps its four.
	h.reserve(user, ip)
	h.s.Settle(context.Background(), h.now, []auth.Settlement{
		{ThrottleKey: user, Verdict: auth.Cleared, Reserved: true},
		{ThrottleKey: ip, Verdict: auth.Unjudged, Reserved: true},
	})
	for i := range 4 {
		if d := h.attempt(auth.Failed, user); d != 0 {
			t.Fatalf("account attempt %d after a success refused for %v", i+1, d)
		}
	}
	if d := h.attempt(auth.Failed, ip); d != 0 {
		t.Fatalf("address refused for %v after four failures", d)
	}
	if d := h.reserve(ip); d != time.Minute {
		t.Fatalf("address after five failures: refused for %v, want 1m", d)
	}
	// Unjudged attempts count nothing, however many.
	other := key("u", Rule)
	for i := range 20 {
		if d := h.attempt(auth.Unjudged, other); d != 0 {
			t.Fatalf("unjudged attempt %d refused for %v", i+1, d)
		}
	}
	// Settling a key the store never saw is harmless.
	h.settle(auth.Cleared, key("u", Rule), key("ip", Rule))
	h.settle(auth.Unjudged, key("u", Rule))
}

// Failures further apart than the window do not add up.
func testWindow(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user := key("u", Rule)
	for range 12 {
		if d := h.attempt(auth.Failed, user); d != 0 {
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
	user, ip := key("u", Rule), key("ip", strict)
	if d := h.attempt(auth.Failed, user, ip); d != 0 {
		t.Fatalf("first attempt refused for %v", d)
	}
	for range 10 {
		if d := h.reserve(key("u", Rule), ip); d != 3*time.Minute {
			t.Fatalf("locked address: refused for %v, want 3m", d)
		}
		if d := h.reserve(user, ip); d != 3*time.Minute {
			t.Fatalf("locked address: refused for %v, want 3m", d)
		}
	}
	// The refusals reserved nothing on the account: it has one failure, and
	// room for four attempts at once.
	h.now = h.now.Add(3 * time.Minute)
	for i := range 4 {
		if d, err := h.s.Reserve(context.Background(), h.now, []auth.ThrottleKey{user}); d != 0 || err != nil {
			t.Fatalf("account reservation %d: %v, %v: refused attempts were counted", i+1, d, err)
		}
	}
}

// Check reads: it counts nothing and reserves nothing.
func testCheck(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user := key("u", Rule)
	for range 100 {
		if d := h.check(user); d != 0 {
			t.Fatalf("Check of a fresh key: %v", d)
		}
	}
	for i := range 5 {
		if d, err := h.s.Reserve(context.Background(), h.now, []auth.ThrottleKey{user}); d != 0 || err != nil {
			t.Fatalf("reservation %d after checks: %v, %v", i+1, d, err)
		}
	}
}

// A burst of parallel reservations at one key gets exactly as many as the
// rule's failures; the rest are told too many are in flight, and nothing is
// locked by it.
func testBurst(t *testing.T, s auth.ThrottleStore) {
	user := key("u", Rule)
	const n = 200
	var granted, inFlight atomic.Int64
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			d, err := s.Reserve(context.Background(), start, []auth.ThrottleKey{user})
			switch {
			case errors.Is(err, auth.ErrInFlight):
				inFlight.Add(1)
			case err != nil:
				t.Error(err)
			case d == 0:
				granted.Add(1)
			default:
				t.Errorf("a reservation was refused for a lockout of %v, with no failure yet", d)
			}
		}()
	}
	close(release)
	wg.Wait()
	if g := granted.Load(); g != int64(Rule.Failures) || inFlight.Load() != n-g {
		t.Errorf("%d parallel attempts: %d reserved, %d in flight; want exactly %d reserved", n, g, inFlight.Load(), Rule.Failures)
	}
	h := &h{t: t, s: s, now: start}
	if d := h.check(user); d != 0 {
		t.Errorf("reservations alone locked the key for %v", d)
	}
	// All of them fail: now it is locked.
	for range Rule.Failures {
		h.settle(auth.Failed, user)
	}
	if d := h.check(user); d != time.Minute {
		t.Errorf("after the burst's failures: locked for %v, want 1m", d)
	}
}

// Attempts in flight are not failures: as many as the limit reserved at
// once, all settled without failing, leave the key as it was.
func testReservationsAreNotFailures(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	ip := key("ip", Rule)
	for range 3 {
		for range Rule.Failures {
			if d := h.reserve(ip); d != 0 {
				t.Fatalf("refused for %v with nothing failed", d)
			}
		}
		if d := h.check(ip); d != 0 {
			t.Fatalf("reservations in flight locked the key for %v", d)
		}
		for range Rule.Failures {
			h.settle(auth.Unjudged, ip)
		}
	}
	for i := range Rule.Failures - 1 {
		if d := h.attempt(auth.Failed, ip); d != 0 {
			t.Fatalf("failure %d refused for %v: the count leaked", i+1, d)
		}
	}
}

// Once a key has been locked, one attempt at a time is judged: the next
// failure locks it again.
func testOneInFlightAfterLockout(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user := key("u", Rule)
	for range Rule.Failures {
		h.attempt(auth.Failed, user)
	}
	h.now = h.now.Add(Rule.BaseDelay)
	if d := h.reserve(user); d != 0 {
		t.Fatalf("after the lockout: refused for %v", d)
	}
	if _, err := h.s.Reserve(context.Background(), h.now, []auth.ThrottleKey{user}); !errors.Is(err, auth.ErrInFlight) {
		t.Fatalf("a second attempt in flight after a lockout: %v, want ErrInFlight", err)
	}
	if d := h.settle(auth.Failed, user); d != 2*Rule.BaseDelay {
		t.Fatalf("the failure after a lockout locked for %v, want %v", d, 2*Rule.BaseDelay)
	}
}

// A reservation never settled (its process crashed) stops counting after
// auth.ReservationTTL.
func testLapse(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	user := key("u", Rule)
	for range Rule.Failures {
		h.reserve(user)
	}
	h.now = h.now.Add(auth.ReservationTTL - time.Millisecond)
	if _, err := h.s.Reserve(context.Background(), h.now, []auth.ThrottleKey{user}); !errors.Is(err, auth.ErrInFlight) {
		t.Fatalf("just before the reservations lapse: %v, want ErrInFlight", err)
	}
	h.now = h.now.Add(time.Millisecond)
	if d := h.reserve(user); d != 0 {
		t.Fatalf("after the reservations lapsed: refused for %v", d)
	}
}

// A failure settled without a reservation (a client that hung up before its
// turn) counts like any failure, and gives back no one else's reservation.
func testUnreservedFailure(t *testing.T, s auth.ThrottleStore) {
	h := &h{t: t, s: s, now: start}
	ip := key("ip", Rule)
	h.reserve(ip) // someone else's attempt, in flight
	for range Rule.Failures - 1 {
		if _, err := h.s.Settle(context.Background(), h.now, []auth.Settlement{{ThrottleKey: ip, Verdict: auth.Failed}}); err != nil {
			t.Fatal(err)
		}
	}
	// Four failures, one in flight: no room for another.
	if _, err := h.s.Reserve(context.Background(), h.now, []auth.ThrottleKey{ip}); !errors.Is(err, auth.ErrInFlight) {
		t.Fatalf("with 4 failures and 1 in flight: %v, want ErrInFlight", err)
	}
	if d, _ := h.s.Settle(context.Background(), h.now, []auth.Settlement{{ThrottleKey: ip, Verdict: auth.Failed}}); d != time.Minute {
		t.Fatalf("the 5th unreserved failure locked for %v, want 1m", d)
	}
}

// Attempts that all succeed (from one address) never add up to a lockout,
// however they interleave.
func testSettleHammer(t *testing.T, s auth.ThrottleStore) {
	ip := key("ip", Rule)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				now := start.Add(time.Duration(g*25+i) * time.Millisecond)
				d, err := s.Reserve(context.Background(), now, []auth.ThrottleKey{ip})
				switch {
				case errors.Is(err, auth.ErrInFlight):
					continue
				case err != nil:
					t.Error(err)
					return
				case d > 0:
					t.Errorf("refused for a lockout of %v with nothing failed", d)
					return
				}
				if _, err := s.Settle(context.Background(), now, []auth.Settlement{{ThrottleKey: ip, Verdict: auth.Unjudged, Reserved: true}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h := &h{t: t, s: s, now: start.Add(time.Second)}
	for i := range Rule.Failures {
		if d, err := h.s.Reserve(context.Background(), h.now, []auth.ThrottleKey{ip}); d != 0 || err != nil {
			t.Fatalf("after settled attempts, reservation %d: %v, %v: the count leaked", i+1, d, err)
		}
	}
}
