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
	Failures    int64  `gorm:"column:failures;not null"`     // consecutive failures counted
	LastFailure int64  `gorm:"column:last_failure;not null"` // 0: none
	LockedUntil int64  `gorm:"column:locked_until;not null"`
	InFlight    int64  `gorm:"column:in_flight;not null"`  // reservations not yet settled
	FlyingAt    int64  `gorm:"column:flying_at;not null"`  // the last reservation
	ExpiresAt   int64  `gorm:"column:expires_at;not null"` // from then on the row has nothing left to remember
}

// reservationTTL is auth.ReservationTTL in milliseconds.
var reservationTTL = auth.ReservationTTL.Milliseconds()

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

// streak returns the failures that still count at now under r: none once
// Window has passed since the last one and no lockout runs.
func (s *state) streak(now int64, r auth.ThrottleRule) int64 {
	if s.LastFailure != 0 && now-s.LastFailure > r.Window.Milliseconds() && now >= s.LockedUntil {
		return 0
	}
	return s.Failures
}

// inFlight returns the reservations that still count at now: none once
// auth.ReservationTTL has passed since the last one.
func (s *state) inFlight(now int64) int64 {
	if s.InFlight > 0 && now-s.FlyingAt >= reservationTTL {
		return 0
	}
	return s.InFlight
}

// canReserve reports whether one more attempt may be reserved at now under
// r: fewer are in flight than the key has failures left before a lockout,
// or than one once it has been locked. The caller checked that the key is
// not locked.
func (s *state) canReserve(now int64, r auth.ThrottleRule) bool {
	return s.inFlight(now) < max(int64(r.Failures)-s.streak(now, r), 1)
}

// reserve puts one more attempt in flight at now.
func (s *state) reserve(now int64) {
	s.InFlight = s.inFlight(now) + 1
	s.FlyingAt = now
}

// settle applies a verdict at now under r, giving back a reservation when
// reserved, and returns the lockout it started, in milliseconds.
func (s *state) settle(now int64, r auth.ThrottleRule, v auth.Verdict, reserved bool) int64 {
	if reserved {
		s.InFlight = max(s.inFlight(now)-1, 0)
	}
	switch v {
	case auth.Failed:
		s.Failures = s.streak(now, r) + 1
		s.LastFailure = now
		if d := delay(r, s.Failures); d > 0 {
			s.LockedUntil = now + d
			return d
		}
	case auth.Cleared:
		s.Failures, s.LastFailure, s.LockedUntil = 0, 0, 0
	}
	return 0
}

// keepUntil is the first instant, in milliseconds, from which the row has
// nothing left to remember under r, whatever the clock says then: no
// failure within its window, no lockout, no reservation in flight. The row
// may be deleted from it on, since a missing row and such a row count the
// next attempt alike.
func (s *state) keepUntil(r auth.ThrottleRule) int64 {
	var until int64
	if s.Failures > 0 {
		until = s.LastFailure + r.Window.Milliseconds() + 1
	}
	if s.InFlight > 0 {
		until = max(until, s.FlyingAt+reservationTTL)
	}
	return max(until, s.LockedUntil)
}

// keyHash names a throttle key in the table: the hex SHA-256 of the key, so
// that keys of any length and any bytes fit one short column, and compare
// byte for byte whatever the column's collation (MySQL's default ignores
// case and trailing spaces).
func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}
