// Package fakeclock is a manually driven clock for tests of time-dependent behaviour.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a clock that only moves when told to. Its zero value starts at the
// Unix epoch; New starts it at a fixed, readable date.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Start is where New(time.Time{}) sets a clock: a fixed date, on a whole
// second, so that a test that moves the clock to a boundary (an expiry
// that stores keep to the millisecond) is exactly on it, never a fraction
// of a millisecond past it as a clock started at the wall time would be.
// It lies in the future, so that absolute expiries that servers act on
// by the real time (Redis's PEXPIREAT, MongoDB's TTL index) are far ahead.
var Start = time.Date(2100, time.January, 4, 9, 0, 0, 0, time.UTC)

// New returns a clock set to t, or to Start when t is zero.
func New(t time.Time) *Clock {
	if t.IsZero() {
		t = Start
	}
	return &Clock{now: t.Round(0)}
}

// Now reports the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.Round(0)
	c.mu.Unlock()
}
