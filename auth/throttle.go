package auth

import (
	"context"
	"time"
)

// ThrottleRule is the lockout policy for one kind of key (an account, or a
// client address): after Failures consecutive failures, each less than
// Window after the one before, the key is locked for BaseDelay; every
// further failure after a lockout doubles the delay, up to MaxDelay. Window
// without failures forgets them.
type ThrottleRule struct {
	Failures  int
	Window    time.Duration
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// delay returns the lockout that the count-th consecutive failure imposes.
func (r ThrottleRule) delay(count int) time.Duration {
	if count < r.Failures {
		return 0
	}
	d := r.BaseDelay
	for i := r.Failures; i < count && d < r.MaxDelay; i++ {
		d *= 2
	}
	return min(d, r.MaxDelay)
}

func (r ThrottleRule) valid() bool {
	return r.Failures > 0 && r.Window > 0 && r.BaseDelay > 0
}

// Throttle configures login throttling. The zero value throttles with the
// defaults, in memory.
type Throttle struct {
	// Disabled turns throttling off.
	Disabled bool

	// PerAccount applies to each account attempted: the user's ID when the
	// username names one, and the normalized username when it does not, so
	// that the answer never tells whether an account exists and no
	// spelling of a name escapes its account's count. Default: the 5th
	// consecutive failure within 15 minutes locks the account for one
	// minute (the 6th attempt is refused), doubling per further failure up
	// to 15 minutes. A success clears it.
	//
	// An attempt counts from the moment it starts until it is judged, so
	// that a burst gets no more password comparisons than Failures: more
	// simultaneous sign-ins of one account than that are refused like a
	// burst, even with the right password.
	PerAccount ThrottleRule

	// PerIP applies to each client address (an IPv6 client's /64), across
	// accounts, so that one address cannot spray passwords over many.
	// Default: 30 failures within 15 minutes, then the same backoff. A
	// success does not clear it. Requests whose address cannot be known
	// (see Config.TrustedProxies) are not counted per address.
	PerIP ThrottleRule

	// Registrations applies to each client address at registration: every
	// attempt that finds the username taken counts, since that answer tells
	// whether an account exists. Default: 10 within 15 minutes, then the
	// same backoff.
	Registrations ThrottleRule

	// Store keeps the counts. Default: in this process's memory (bounded).
	// Use a shared store (redisauth.NewThrottle, or sqlauth.NewThrottle on
	// the application's SQL database) when several instances serve the
	// application.
	Store ThrottleStore
}

func (t Throttle) withDefaults() Throttle {
	def := func(r *ThrottleRule, failures int) {
		if r.Failures == 0 {
			r.Failures = failures
		}
		if r.Window == 0 {
			r.Window = 15 * time.Minute
		}
		if r.BaseDelay == 0 {
			r.BaseDelay = time.Minute
		}
		if r.MaxDelay == 0 {
			r.MaxDelay = 15 * time.Minute
		}
		r.MaxDelay = max(r.MaxDelay, r.BaseDelay)
	}
	def(&t.PerAccount, 5)
	def(&t.PerIP, 30)
	def(&t.Registrations, 10)
	if t.Store == nil {
		t.Store = NewMemoryThrottle(MemoryThrottleOptions{})
	}
	return t
}

// ThrottleKey is one key an attempt counts against, with its rule.
type ThrottleKey struct {
	Key  string
	Rule ThrottleRule
	// Account marks the key of the account attempted: a successful
	// attempt clears its failures. Other keys (a client's address) only
	// get the successful attempt back.
	Account bool
}

// ThrottleStore keeps consecutive failure counts and lockouts. An attempt
// reserves its place before the password is checked, so that a burst of
// parallel attempts cannot all pass one check: Reserve counts the attempt
// as a failure at once, and Release gives it back when it turns out not to
// be one. Every method is safe for concurrent use; times come from the
// caller's clock.
type ThrottleStore interface {
	// Reserve checks and counts one attempt, atomically, against every
	// key. When a key is locked at now it counts nothing and returns how
	// long the longest lockout still runs. Otherwise it counts the attempt
	// as a failure on every key, locking each key that reaches its rule's
	// limit, and returns 0. A reserved attempt that fails needs nothing
	// more.
	Reserve(ctx context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error)

	// Release gives back an attempt reserved on keys that did not fail
	// (it succeeded, or could not be judged): each key's count goes down
	// by one, lifting a lockout that the reservation caused. When
	// succeeded is true, the keys marked Account forget their failures.
	Release(ctx context.Context, now time.Time, keys []ThrottleKey, succeeded bool) error
}

// throttleState is one key's count, for the in-process store. (The Redis
// store runs the same arithmetic in a script.)
type throttleState struct {
	count       int
	last        time.Time // the last reserved attempt
	lockedUntil time.Time
	prevUntil   time.Time // lockedUntil before the last reservation that set it
}

// reserve counts one attempt at now under rule r; the caller checked that
// the key is not locked.
func (s *throttleState) reserve(now time.Time, r ThrottleRule) {
	if s.expired(now, r) {
		s.count = 0 // the streak ended
	}
	s.count++
	s.last = now
	if d := r.delay(s.count); d > 0 {
		s.prevUntil, s.lockedUntil = s.lockedUntil, now.Add(d)
	}
}

// release takes one reserved attempt back at now. A lockout that is still
// running was set by a reservation in flight (no other passes while a key
// is locked), and the count it was set for no longer holds: it is lifted.
func (s *throttleState) release(now time.Time) {
	s.count = max(s.count-1, 0)
	if s.lockedUntil.After(now) {
		s.lockedUntil = s.prevUntil
	}
}

// expired reports whether the state has nothing left to remember at now.
func (s *throttleState) expired(now time.Time, r ThrottleRule) bool {
	return !s.last.IsZero() && now.Sub(s.last) > r.Window && !now.Before(s.lockedUntil)
}
