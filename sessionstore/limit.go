package sessionstore

import (
	"context"
	"errors"
	"fmt"
)

// ErrTooManySessions means the user already has as many live sessions as
// the limit allows, and the limit refuses new ones rather than end old
// ones.
var ErrTooManySessions = errors.New("sessionstore: the user has too many sessions")

// Limit caps the number of live sessions a user may have at once (OWASP
// ASVS 5.0 7.1.2; Spring Security's maximumSessions).
type Limit struct {
	// Max is the most live sessions a user may have, the new one
	// included. It must be at least 1.
	Max int

	// EndOldest makes room for a new session by destroying the user's
	// oldest sessions. Without it, a new session that would take the user
	// past Max is refused with ErrTooManySessions.
	EndOldest bool
}

// Validate reports a limit that no store can apply: Max below 1.
func (l Limit) Validate() error {
	if l.Max < 1 {
		return fmt.Errorf("sessionstore: a session limit's Max must be at least 1, not %d", l.Max)
	}
	return nil
}

// Limiter is implemented by stores that cap a user's live sessions
// atomically. Every store of ginauth is one.
type Limiter interface {
	// CreateLimited stores rec under newKey, as Create does when oldKey is
	// nil, and as Regenerate does otherwise (moving the session from
	// *oldKey, which belonged to oldUserID), and leaves rec.UserID at most
	// limit.Max live sessions, the new one included. The session
	// regenerated from does not count against the limit, nor do expired
	// sessions or other users' sessions.
	//
	// When the user already has limit.Max live sessions: with
	// limit.EndOldest, the oldest of them (by CreatedAt, then by key) are
	// destroyed to make room, and ended reports how many; without it,
	// nothing changes and the error matches ErrTooManySessions.
	//
	// It is atomic with every other CreateLimited of the same user, on
	// every instance of the store: however many run in parallel, they
	// never leave the user more than limit.Max live sessions, and without
	// EndOldest they never refuse while the user has fewer.
	//
	// Regenerate's rule for an old session that is gone (or is not
	// oldUserID's) applies unchanged, and before the limit's: CreateLimited
	// answers ErrNotFound, ends nothing and stores nothing under newKey.
	// A limit with Max below 1 is an error (see Limit.Validate), and so
	// changes nothing. Anonymous sessions (rec.UserID "") are never
	// counted or limited: for one, CreateLimited is Create or Regenerate.
	CreateLimited(ctx context.Context, oldKey *Key, oldUserID string, newKey Key, rec *Record, limit Limit) (ended int, err error)
}
