package storetest

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// Clock is a clock that moves only when told to: the suite moves it
// instead of sleeping. Give its Now method to the store under test. It is
// safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// clockStart is where NewClock sets a clock: a fixed date, on a whole
// second, so that a case that moves the clock to a boundary (an expiry,
// which stores keep to the millisecond) is exactly on it, never a fraction
// of a millisecond past it as a clock started at the wall time would be.
// It lies in the future, so that absolute expiries that backends act on by
// the real time (Redis's PEXPIREAT, MongoDB's TTL index) are far ahead.
var clockStart = time.Date(2100, time.January, 4, 9, 0, 0, 0, time.UTC)

// NewClock returns a clock for a harness, set to a fixed date on a whole
// second, in the future.
func NewClock() *Clock { return &Clock{now: clockStart} }

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

// NewKey returns a fresh random key, as a new session would have: 256 bits
// from crypto/rand.
func NewKey() sessionstore.Key {
	var k sessionstore.Key
	// crypto/rand.Read never returns an error; on a broken system it aborts
	// the program rather than hand out predictable bytes.
	_, _ = rand.Read(k[:])
	return k
}
