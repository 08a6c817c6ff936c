package auth

import (
	"context"
	"errors"
	"time"
)

// ThrottleRule is the lockout policy for one kind of key (an account, a
// client address, a device): after Failures consecutive failures, each less
// than Window after the one before, the key is locked for BaseDelay; every
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

// inFlight is how many attempts a key with count failures may have in
// flight (reserved, not yet judged) at once: as many as it has failures
// left before a lockout, and one once it has been locked before, so that a
// burst of parallel attempts gets no more password comparisons than the
// rule allows.
func (r ThrottleRule) inFlight(count int) int {
	return max(r.Failures-count, 1)
}

func (r ThrottleRule) valid() bool {
	return r.Failures > 0 && r.Window > 0 && r.BaseDelay > 0
}

// ThrottlePolicy configures sign-in throttling. The zero value throttles with the
// defaults, in memory.
//
// An attempt is checked for a lockout as it arrives (a locked key is
// refused at once, with no bcrypt work), then waits for a bcrypt slot
// (Config.Passwords.MaxConcurrentHashes, shared fairly between client addresses),
// and only then reserves its place on its keys, atomically with a second
// check. A reservation is not a failure: it only keeps more attempts than
// a key has failures left from being judged at once. The attempt's verdict
// settles it: a wrong password counts as a failure (and may lock the key),
// a success clears the account's failures, and an attempt that could not
// be judged counts nothing. So honest sign-ins in parallel never lock
// anything, and a burst of guesses still gets no more password comparisons
// than a rule's Failures.
type ThrottlePolicy struct {
	// Disabled turns throttling off.
	Disabled bool

	// PerAccount applies to each account attempted from a client that
	// holds no device cookie of the account: the user's ID when the
	// username names one, and the normalized username when it does not,
	// so that the answer never tells whether an account exists and no
	// spelling of a name escapes its account's count. Default: the 5th
	// consecutive failure within 15 minutes locks the account for one
	// minute (the 6th attempt is refused), doubling per further failure up
	// to 15 minutes. A success clears it. Second-factor codes (the
	// second step of a sign-in, a re-authentication with a code) count on
	// a count of their own per account, under the same rule.
	PerAccount ThrottleRule

	// PerDevice applies instead of PerAccount (and PerIP) to a browser
	// that holds a device cookie of the account: a signed cookie that a
	// successful sign-in of that account gave it (OWASP's "device
	// cookies"). Whoever locks an account from outside then locks out
	// unknown clients only, never its owner's browsers; each such browser
	// has this budget of its own. Default: that of PerAccount. Such a
	// browser's second-factor codes count on a budget of their own too,
	// under the same rule: whoever has the password and locks the code
	// step from another browser does not lock out the owner's known
	// browsers either.
	PerDevice ThrottleRule

	// NoDeviceCookies turns device cookies off: every client is then
	// throttled per account, at the password and at the code step, and
	// a lockout also locks out the owner.
	NoDeviceCookies bool

	// PerIP applies to each client address (an IPv6 client's /64), across
	// accounts, so that one address cannot spray passwords over many.
	// Wrong second-factor codes from a browser without a device cookie
	// of the account count on it too, with the wrong passwords. Default:
	// 30 failures within 15 minutes, then the same backoff. A success
	// does not clear it. Requests whose address cannot be known (see
	// Config.TrustedProxies) are not counted per address.
	PerIP ThrottleRule

	// Registrations applies to each client address at registration: every
	// attempt that finds the username taken counts, since that answer tells
	// whether an account exists. Default: 10 within 15 minutes, then the
	// same backoff.
	Registrations ThrottleRule

	// Signups applies to each client address at registration too, and
	// counts the accounts it created, so that one address cannot create
	// accounts without limit. Default: the 200th account within an hour of
	// the one before locks the address out of registration for an hour,
	// doubling up to a day: enough for a classroom signing up at once.
	Signups ThrottleRule

	// Mails applies to each account that mail is asked for (a password
	// reset, a verification link, an address change), and counts every
	// request, so that nobody can flood its owner's mailbox. Past it,
	// requests for someone else's account are dropped silently (the
	// answer never says whether an account exists), and the signed-in
	// owner's refused (429). Default: 3 within an hour, then a quarter of
	// an hour, doubling up to an hour.
	Mails ThrottleRule

	// MailsPerIP applies to each client address asking for mail, across
	// accounts. Default: 100 within a quarter of an hour, then the same
	// backoff: a hundred people behind one address may each ask once.
	MailsPerIP ThrottleRule

	// Store keeps the counts. Default: in this process's memory (bounded).
	// Use a shared store (redisauth.NewThrottleStore, or sqlauth.NewThrottleStore on
	// the application's SQL database) when several instances serve the
	// application.
	Store ThrottleStore
}

func (t ThrottlePolicy) withDefaults() ThrottlePolicy {
	def := func(r *ThrottleRule, like ThrottleRule) {
		if r.Failures == 0 {
			r.Failures = like.Failures
		}
		if r.Window == 0 {
			r.Window = like.Window
		}
		if r.BaseDelay == 0 {
			r.BaseDelay = like.BaseDelay
		}
		if r.MaxDelay == 0 {
			r.MaxDelay = like.MaxDelay
		}
		r.MaxDelay = max(r.MaxDelay, r.BaseDelay)
	}
	std := ThrottleRule{Failures: 5, Window: 15 * time.Minute, BaseDelay: time.Minute, MaxDelay: 15 * time.Minute}
	def(&t.PerAccount, std)
	def(&t.PerDevice, t.PerAccount)
	std.Failures = 30
	def(&t.PerIP, std)
	std.Failures = 10
	def(&t.Registrations, std)
	def(&t.Signups, ThrottleRule{Failures: 200, Window: time.Hour, BaseDelay: time.Hour, MaxDelay: 24 * time.Hour})
	def(&t.Mails, ThrottleRule{Failures: 3, Window: time.Hour, BaseDelay: 15 * time.Minute, MaxDelay: time.Hour})
	def(&t.MailsPerIP, ThrottleRule{Failures: 100, Window: 15 * time.Minute, BaseDelay: 15 * time.Minute, MaxDelay: time.Hour})
	if t.Store == nil {
		t.Store = NewMemoryThrottleStore(MemoryThrottleStoreOptions{})
	}
	return t
}

// ThrottleKey is one key an attempt counts against, with its rule.
type ThrottleKey struct {
	Key  string
	Rule ThrottleRule
}

// Verdict is what became of an attempt, for one of its keys.
type Verdict uint8

const (
	// Unjudged: the attempt was not a failure on this key (it could not be
	// judged, or it succeeded and the key keeps its failures, as a client
	// address does). Nothing is counted.
	Unjudged Verdict = iota
	// Failed: a failure, counted; it locks the key at its rule's limit.
	Failed
	// Cleared: a success that makes the key forget its failures (an
	// account's, a device's).
	Cleared
)

// Settlement is the verdict of an attempt on one key.
type Settlement struct {
	ThrottleKey
	Verdict Verdict
	// Reserved says that the attempt holds a reservation on the key, which
	// the settlement gives back. An attempt that gave up before it reserved
	// (a client that hung up while waiting for a bcrypt slot) is settled
	// as Failed on its address without one.
	Reserved bool
}

// ErrInFlight is returned by ThrottleStore.Reserve when a key already has
// as many attempts in flight as its rule lets it have (see Throttle): the
// attempt is not refused for good, it may come back shortly. The login
// answers it 503 busy with Retry-After.
var ErrInFlight = errors.New("auth: too many attempts of one key in flight")

// ErrThrottleFull is returned by a bounded ThrottleStore that cannot
// remember one more key without forgetting a live one (a running lockout,
// or failures within their window). The login answers it 503 busy rather
// than let the attempt through uncounted.
var ErrThrottleFull = errors.New("auth: the throttle store is full of live keys")

// ThrottleStore keeps failure counts, lockouts, and the attempts in flight
// on each key. Every method is safe for concurrent use; times come from the
// caller's clock. Conformance: auth/throttletest.
type ThrottleStore interface {
	// Check returns how long the longest lockout of keys still runs at now,
	// or 0. It changes nothing and creates no key.
	Check(ctx context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error)

	// Reserve checks and reserves one attempt on every key, atomically.
	// When a key is locked at now it reserves nothing and returns how long
	// the longest lockout still runs. When a key already has the attempts
	// in flight its rule allows (ThrottleRule.inFlight of its failures) it
	// reserves nothing and returns ErrInFlight. Otherwise it reserves the
	// attempt on every key and returns 0. A reservation that is never
	// settled (a crashed process) stops counting after a minute.
	Reserve(ctx context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error)

	// Settle records an attempt's verdicts, atomically, and returns the
	// longest lockout that a Failed verdict started, or 0.
	Settle(ctx context.Context, now time.Time, s []Settlement) (time.Duration, error)
}

// ReservationTTL is how long a reservation that is never settled keeps
// counting as an attempt in flight: far longer than a bcrypt comparison,
// short enough that a process that crashed mid-attempt does not hold a key
// for long.
const ReservationTTL = time.Minute

// throttleState is one key's state, with the arithmetic every store shares
// (the Redis and SQL stores run the same on Unix milliseconds): a count of
// consecutive failures, the last failure, the end of the running lockout,
// and the reservations in flight.
type throttleState struct {
	count       int
	last        time.Time // the last failure
	lockedUntil time.Time
	flying      int
	flyingAt    time.Time // the last reservation
}

// streak returns the failures that still count at now under r: none once
// Window has passed since the last one and no lockout runs.
func (s *throttleState) streak(now time.Time, r ThrottleRule) int {
	if !s.last.IsZero() && now.Sub(s.last) > r.Window && !now.Before(s.lockedUntil) {
		return 0
	}
	return s.count
}

// inFlight returns the reservations that still count at now.
func (s *throttleState) inFlight(now time.Time) int {
	if s.flying > 0 && now.Sub(s.flyingAt) >= ReservationTTL {
		return 0
	}
	return s.flying
}

// canReserve reports whether one more attempt may be reserved at now; the
// caller checked that the key is not locked.
func (s *throttleState) canReserve(now time.Time, r ThrottleRule) bool {
	return s.inFlight(now) < r.inFlight(s.streak(now, r))
}

func (s *throttleState) reserve(now time.Time) {
	s.flying = s.inFlight(now) + 1
	s.flyingAt = now
}

// settle applies a verdict at now and returns the lockout it started.
func (s *throttleState) settle(now time.Time, r ThrottleRule, v Verdict, reserved bool) time.Duration {
	if reserved {
		s.flying = max(s.inFlight(now)-1, 0)
	}
	switch v {
	case Failed:
		s.count = s.streak(now, r) + 1
		s.last = now
		if d := r.delay(s.count); d > 0 {
			s.lockedUntil = now.Add(d)
			return d
		}
	case Cleared:
		s.count, s.last, s.lockedUntil = 0, time.Time{}, time.Time{}
	}
	return 0
}

// live reports whether the state has something to remember at now: a
// running lockout, failures within their window, or reservations in
// flight. A key that is not live may be forgotten.
func (s *throttleState) live(now time.Time, r ThrottleRule) bool {
	return now.Before(s.lockedUntil) || s.streak(now, r) > 0 || s.inFlight(now) > 0
}
