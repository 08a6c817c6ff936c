package sqlauth

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/ginauth/ginauth/auth"
)

// state is one throttle key's row: the arithmetic of auth's in-memory
// throttle (its throttleState), on Unix milliseconds, so that every store
// locks out alike.
type state struct {
	KeyHash     string `gorm:"column:key_hash;primaryKey;size:64"`
	Failures    int64  `gorm:"column:failures;not null"`
	LastAttempt int64  `gorm:"column:last_attempt;not null"` // the last reserved attempt; 0: none
	LockedUntil int64  `gorm:"column:locked_until;not null"`
	PrevUntil   int64  `gorm:"column:prev_until;not null"` // LockedUntil before the reservation that last set it
	ExpiresAt   int64  `gorm:"column:expires_at;not null"` // from then on the row has nothing left to remember
}

// delay is the lockout, in milliseconds, that the count-th consecutive
// failure imposes under r (auth.ThrottleRule's own rule: BaseDelay from the
// Failures-th on, doubling per further failure, at most MaxDelay).
func delay(r auth.ThrottleRule, count int64) int64 {
	if count < int64(r.Failures) {
		return 0
	}
	d := r.BaseDelay
	for i := int64(r.Failures); i < count && d < r.MaxDelay; i++ {
		d *= 2
	}
	return min(d, r.MaxDelay).Milliseconds()
}

// expired reports whether the row has nothing left to remember at now: its
// last attempt is more than a window old and no lockout runs.
func (s *state) expired(now int64, r auth.ThrottleRule) bool {
	return s.LastAttempt != 0 && now-s.LastAttempt > r.Window.Milliseconds() && now >= s.LockedUntil
}

// reserve counts one attempt at now under r; the caller checked that the
// key is not locked.
func (s *state) reserve(now int64, r auth.ThrottleRule) {
	if s.expired(now, r) {
		s.Failures = 0 // the streak ended
	}
	s.Failures++
	s.LastAttempt = now
	if d := delay(r, s.Failures); d > 0 {
		s.PrevUntil, s.LockedUntil = s.LockedUntil, now+d
	}
}

// release takes one reserved attempt back at now. A lockout still running
// was set by a reservation in flight (none passes while a key is locked),
// and the count it was set for no longer holds: it is lifted.
func (s *state) release(now int64) {
	s.Failures = max(s.Failures-1, 0)
	if s.LockedUntil > now {
		s.LockedUntil = s.PrevUntil
	}
}

// keepUntil is the first instant, in milliseconds, at which expired holds
// under r, whatever the clock says then: the row may be deleted from it on,
// since a missing row and an expired one count the next attempt alike.
func (s *state) keepUntil(r auth.ThrottleRule) int64 {
	return max(s.LastAttempt+r.Window.Milliseconds()+1, s.LockedUntil)
}

// keyHash names a throttle key in the table: the hex SHA-256 of the key, so
// that keys of any length and any bytes fit one short column, and compare
// byte for byte whatever the column's collation (MySQL's default ignores
// case and trailing spaces).
func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}
