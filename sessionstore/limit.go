package sessionstore

import (
	"context"
	"errors"
)

// ErrTooManySessions means the user has as many live sessions as the limit
// allows, and the limit refuses new ones.
var ErrTooManySessions = errors.New("sessionstore: the user has too many sessions")

// Limit caps a user's live sessions.
type Limit struct {
	// Max is the most live sessions a user may have, the new one included.
	Max int
	// EndOldest makes room by destroying the user's oldest sessions;
	// without it a new session over the limit is refused.
	EndOldest bool
}

// Limiter is implemented by stores that cap a user's live sessions
// atomically. Every store of ginauth is one.
type Limiter interface {
	// CreateLimited stores rec (whose UserID is set) under newKey, as
	// Create does when oldKey is nil and as Regenerate does otherwise, and
	// leaves the user at most limit.Max live sessions, the new one included.
	CreateLimited(ctx context.Context, oldKey *Key, oldUserID string, newKey Key, rec *Record, limit Limit) (ended int, err error)
}
