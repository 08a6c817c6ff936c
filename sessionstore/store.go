package sessionstore

import (
	"context"
	"time"
)

// Store keeps session records by key. Every method is safe for concurrent
// use. Backend failures are returned wrapped in ErrUnavailable; a record that
// exists but cannot be decoded is reported as ErrCorrupt.
type Store interface {
	// Load returns the live record under key, or ErrNotFound. The caller owns
	// the returned record.
	Load(ctx context.Context, key Key) (*Record, error)

	// Create stores a new record under key and indexes it under rec.UserID
	// when that is set. It sets rec.Rev. It never replaces a record: a key
	// already in use (which a fresh 256-bit key never is) answers an error
	// matching ErrConflict and changes nothing.
	Create(ctx context.Context, key Key, rec *Record) error

	// Update rewrites the record under key if its stored revision still equals
	// rec.Rev, and sets rec.Rev to the new revision. It answers ErrConflict if
	// the revision moved (or rec.UserID differs from the stored user: an
	// update never moves a session to another user), and ErrNotFound if the
	// record was destroyed or expired: an update never brings a session back.
	Update(ctx context.Context, key Key, rec *Record) error

	// Touch moves a live record's last activity and expiry forward without
	// rewriting its body. Touching a record that is gone does nothing: it is
	// not an error and it does not recreate the record.
	Touch(ctx context.Context, key Key, lastActivity, expiresAt time.Time) error

	// Regenerate moves a session to a new key: it creates rec under newKey
	// and destroys the record under oldKey, so that the old ID stops
	// working. oldUserID is the user the old record belongs to ("" for
	// none). The move is atomic with every way of ending the old session
	// (Destroy, DestroyID, DestroyUser, expiry): when the old record is
	// gone, or does not belong to oldUserID, Regenerate answers ErrNotFound
	// and leaves no record under newKey; and a DestroyUser of oldUserID
	// that runs while the move does either makes it fail or destroys the
	// new record too. So a request that loaded a session before it was
	// revoked cannot bring it back under a new ID. (A login over a session
	// that is gone, which owes that session nothing, calls Create instead.)
	Regenerate(ctx context.Context, oldKey Key, oldUserID string, newKey Key, rec *Record) error

	// Destroy deletes the record under key. Destroying a missing record is
	// not an error.
	Destroy(ctx context.Context, key Key) error
}

// UserIndex finds sessions by user. Entries of expired or destroyed sessions
// are pruned, and never listed or counted. Anonymous sessions (user "") are
// not indexed: the empty user ID lists, revokes and counts nothing.
type UserIndex interface {
	// List returns the live sessions of the user, oldest first.
	List(ctx context.Context, userID string) ([]Info, error)

	// DestroyID destroys the user's session whose Key.ID is handle.
	// It answers ErrNotFound when the user has no live session with that
	// handle, including when the handle names another user's session.
	DestroyID(ctx context.Context, userID, handle string) error

	// DestroyUser destroys every session of the user in one batch and returns
	// how many live sessions it destroyed.
	DestroyUser(ctx context.Context, userID string) (int, error)
}

// IndexedStore is a Store with a per-user index: what the auth package
// needs. Every store of ginauth is one.
type IndexedStore interface {
	Store
	UserIndex
}
