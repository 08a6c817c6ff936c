package session

import (
	"errors"
	"fmt"
	"time"
)

// Policy says how long sessions live and when they are written.
type Policy struct {
	// IdleTimeout ends a session this long after its last activity. Zero
	// means no idle timeout.
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after it began, however
	// active. Zero means no absolute timeout.
	AbsoluteTimeout time.Duration

	// TouchInterval is how often a request that changes nothing refreshes the
	// session's last activity and expiry. Requests inside the interval write
	// nothing. Zero touches on every such request.
	TouchInterval time.Duration

	// SaveUninitialized stores a new session even when nothing was put in it
	// (express-session's saveUninitialized). The default, false, gives an
	// anonymous visitor who stores nothing neither a record nor a cookie.
	SaveUninitialized bool

	// AnonymousTimeout ends a session without a user this long after it
	// began, when shorter than AbsoluteTimeout: anonymous clients can make
	// sessions at will, so theirs are short-lived. Zero means the absolute
	// timeout applies to them too.
	AnonymousTimeout time.Duration
}

// The defaults, in one place for the auth package and the gin-contrib
// adapter: OWASP's 30-minute idle and 24-hour absolute timeouts, touched at
// most once a minute, and an hour at most for anonymous sessions.
const (
	DefaultIdleTimeout      = 30 * time.Minute
	DefaultAbsoluteTimeout  = 24 * time.Hour
	DefaultTouchInterval    = time.Minute
	DefaultAnonymousTimeout = time.Hour
)

// WithDefaults fills the zero fields of p with the defaults, kept
// consistent with the fields that are set: the idle timeout is at most the
// absolute one, the touch interval at most half the idle timeout, the
// anonymous timeout at most the absolute one. Negative fields stay, for
// Validate to refuse.
func (p Policy) WithDefaults() Policy {
	if p.AbsoluteTimeout == 0 {
		p.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if p.IdleTimeout == 0 {
		p.IdleTimeout = min(DefaultIdleTimeout, max(p.AbsoluteTimeout, 0))
	}
	if p.TouchInterval == 0 {
		p.TouchInterval = min(DefaultTouchInterval, p.IdleTimeout/2)
	}
	if p.AnonymousTimeout == 0 {
		p.AnonymousTimeout = min(DefaultAnonymousTimeout, max(p.AbsoluteTimeout, 0))
	}
	return p
}

// Validate reports, on one line, a policy under which sessions would never
// end, or would be refreshed less often than they expire.
func (p Policy) Validate() error {
	switch {
	case p.IdleTimeout < 0 || p.AbsoluteTimeout < 0 || p.TouchInterval < 0 || p.AnonymousTimeout < 0:
		return errors.New("timeouts must not be negative")
	case p.IdleTimeout == 0 && p.AbsoluteTimeout == 0:
		return errors.New("a session needs an idle or an absolute timeout")
	case p.IdleTimeout > 0 && p.TouchInterval >= p.IdleTimeout:
		return fmt.Errorf("the touch interval (%v) must be shorter than the idle timeout (%v)", p.TouchInterval, p.IdleTimeout)
	case p.AbsoluteTimeout > 0 && p.IdleTimeout > p.AbsoluteTimeout:
		return fmt.Errorf("the idle timeout (%v) is longer than the absolute timeout (%v)", p.IdleTimeout, p.AbsoluteTimeout)
	}
	return nil
}

// Deadline returns the absolute expiry of a session created at created,
// for the user userID ("" for an anonymous session).
func (p Policy) Deadline(created time.Time, userID string) time.Time {
	d := p.AbsoluteTimeout
	if userID == "" && p.AnonymousTimeout > 0 && (d <= 0 || p.AnonymousTimeout < d) {
		d = p.AnonymousTimeout
	}
	if d <= 0 {
		return time.Time{}
	}
	return created.Add(d)
}

// Expiry returns when a session last active at last, with the given
// deadline, expires.
func (p Policy) Expiry(last, deadline time.Time) time.Time {
	if p.IdleTimeout <= 0 {
		return deadline
	}
	e := last.Add(p.IdleTimeout)
	if !deadline.IsZero() && deadline.Before(e) {
		return deadline
	}
	return e
}
