package auth

import (
	"context"
	"time"
)

// ThrottleRule is the lockout policy for one kind of key (a username, or a
// client IP address): after Failures consecutive failures, each less than
// Window after the one before, the key is locked for BaseDelay; every
// further failure after a lockout doubles the delay, up to MaxDelay. A
// success resets the username's count. Window without failures forgets
// them.
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

// Throttle configures login throttling. The zero value throttles with the
// defaults, in memory.
type Throttle struct {
	// Disabled turns throttling off.
	Disabled bool

	// PerUsername applies to each (normalized) username, known or not, so
	// that the answer never tells whether an account exists. Default: the
	// 6th consecutive failure within 15 minutes is refused, locked for one
	// minute, doubling per further failure up to 15 minutes.
	PerUsername ThrottleRule

	// PerIP applies to each client address, across usernames, so that one
	// address cannot spray passwords over many accounts. Default: 30
	// failures within 15 minutes, then the same backoff.
	PerIP ThrottleRule

	// Store keeps the counts. Default: in this process's memory (bounded).
	// Use NewRedisThrottle to share them between instances.
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
	def(&t.PerUsername, 5)
	def(&t.PerIP, 30)
	if t.Store == nil {
		t.Store = NewMemoryThrottle(0)
	}
	return t
}

func (r ThrottleRule) valid() bool {
	return r.Failures > 0 && r.Window > 0 && r.BaseDelay > 0
}

// ThrottleKey is one key a login attempt counts against, with its rule.
type ThrottleKey struct {
	Key  string
	Rule ThrottleRule
}

// ThrottleStore keeps consecutive failure counts and lockouts. Every method
// is safe for concurrent use; times come from the caller's clock.
type ThrottleStore interface {
	// Locked returns how long the longest lockout among keys still runs
	// at now; zero when none is locked.
	Locked(ctx context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error)
	// Fail records one failure against every key and returns the longest
	// lockout that is now running.
	Fail(ctx context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error)
	// Reset forgets the failures of keys.
	Reset(ctx context.Context, keys []ThrottleKey) error
}

// throttleState is one key's count, shared by the stores' logic.
type throttleState struct {
	count       int
	last        time.Time // last failure
	lockedUntil time.Time
}

// fail applies one failure at now under rule r.
func (s *throttleState) fail(now time.Time, r ThrottleRule) {
	if !s.last.IsZero() && now.Sub(s.last) > r.Window && !now.Before(s.lockedUntil) {
		s.count = 0 // the streak ended
	}
	s.count++
	s.last = now
	if d := r.delay(s.count); d > 0 {
		s.lockedUntil = now.Add(d)
	}
}

// expired reports whether the state has nothing left to remember at now.
func (s *throttleState) expired(now time.Time, r ThrottleRule) bool {
	return now.Sub(s.last) > r.Window && !now.Before(s.lockedUntil)
}
