package session

import (
	"errors"
	"fmt"
	"time"
)

// Lifetime says how long sessions live. It is the one place ginauth reads
// timeouts from: the middleware, the auth package and the gin-contrib
// adapter all go by the Manager's. Zero fields take the defaults, which
// follow OWASP's advice.
type Lifetime struct {
	// Idle ends a session this long after its last activity. Default 30
	// minutes (or Absolute, when that is shorter).
	Idle time.Duration

	// Absolute ends a session this long after it began (for a signed-in
	// session: the sign-in), however active. Default 24 hours.
	Absolute time.Duration

	// Anonymous ends a session that is bound to no user this long after it
	// began. Anonymous clients can make sessions at will, so theirs are
	// short-lived. Default one hour (or Absolute, when that is shorter).
	Anonymous time.Duration

	// TouchInterval is how often a request that changes nothing refreshes
	// the session's last activity and expiry in the store
	// (express-session's touch; connect-mongo's touchAfter). A read-only
	// request inside it writes nothing. Default one minute (or half of
	// Idle, when that is shorter); it must be shorter than Idle, and idle
	// expiry is accurate to within it.
	TouchInterval time.Duration

	// Remember is the lifetime of a "remember me" cookie (a persistent one,
	// see Binding.Remember), capped by the session's absolute expiry.
	// Default Absolute. Other cookies last as long as the browser session.
	Remember time.Duration
}

// The defaults: OWASP's 30-minute idle and 24-hour absolute timeouts,
// touched at most once a minute, and an hour at most for anonymous
// sessions.
const (
	defaultIdle      = 30 * time.Minute
	defaultAbsolute  = 24 * time.Hour
	defaultTouch     = time.Minute
	defaultAnonymous = time.Hour
)

// withDefaults fills the zero fields with the defaults, kept consistent with
// the fields that are set. Negative fields stay, for validate to refuse.
func (p Lifetime) withDefaults() Lifetime {
	if p.Absolute == 0 {
		p.Absolute = defaultAbsolute
	}
	if p.Idle == 0 {
		p.Idle = min(defaultIdle, max(p.Absolute, 0))
	}
	if p.TouchInterval == 0 {
		p.TouchInterval = min(defaultTouch, p.Idle/2)
	}
	if p.Anonymous == 0 {
		p.Anonymous = min(defaultAnonymous, max(p.Absolute, 0))
	}
	if p.Remember == 0 {
		p.Remember = p.Absolute
	}
	return p
}

// validate reports, on one line, a lifetime under which sessions would
// never end, or would be refreshed less often than they expire.
func (p Lifetime) validate() error {
	switch {
	case p.Idle < 0 || p.Absolute < 0 || p.TouchInterval < 0 || p.Anonymous < 0 || p.Remember < 0:
		return errors.New("timeouts must not be negative")
	case p.Idle == 0 && p.Absolute == 0:
		return errors.New("a session needs an idle or an absolute timeout")
	case p.Idle > 0 && p.TouchInterval >= p.Idle:
		return fmt.Errorf("the touch interval (%v) must be shorter than the idle timeout (%v)", p.TouchInterval, p.Idle)
	case p.Absolute > 0 && p.Idle > p.Absolute:
		return fmt.Errorf("the idle timeout (%v) is longer than the absolute timeout (%v)", p.Idle, p.Absolute)
	}
	return nil
}

// deadline returns the absolute expiry of a session created at created,
// for the user userID ("" for an anonymous session).
func (p Lifetime) deadline(created time.Time, userID string) time.Time {
	d := p.Absolute
	if userID == "" && p.Anonymous > 0 && (d <= 0 || p.Anonymous < d) {
		d = p.Anonymous
	}
	if d <= 0 {
		return time.Time{}
	}
	return created.Add(d)
}

// expiry returns when a session last active at last, with the given
// deadline, expires.
func (p Lifetime) expiry(last, deadline time.Time) time.Time {
	if p.Idle <= 0 {
		return deadline
	}
	e := last.Add(p.Idle)
	if !deadline.IsZero() && deadline.Before(e) {
		return deadline
	}
	return e
}

// timedOut applies the timeouts in process, so that a shortened timeout
// takes effect on sessions stored under a longer one.
func (p Lifetime) timedOut(createdAt, lastActivity, deadline time.Time, userID string, now time.Time) bool {
	if p.Idle > 0 && now.Sub(lastActivity) >= p.Idle {
		return true
	}
	if !createdAt.IsZero() {
		if p.Absolute > 0 && now.Sub(createdAt) >= p.Absolute {
			return true
		}
		if userID == "" && p.Anonymous > 0 && now.Sub(createdAt) >= p.Anonymous {
			return true
		}
	}
	return !deadline.IsZero() && !now.Before(deadline)
}
