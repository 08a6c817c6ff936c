package sessionstore

import (
	"errors"
	"fmt"
)

// Errors that stores and sessions return. Test for them with errors.Is.
var (
	// ErrNotFound means there is no live session under the key: it never
	// existed, expired, or was destroyed.
	ErrNotFound = errors.New("sessionstore: session not found")

	// ErrConflict means an update lost a race: the record changed since it
	// was loaded. Session.Commit handles it by merging and retrying.
	ErrConflict = errors.New("sessionstore: session changed concurrently")

	// ErrUnavailable wraps every failure to reach or use the backing store
	// (network, server down, timeout, pool closed). Callers answer 503.
	ErrUnavailable = errors.New("sessionstore: store unavailable")

	// ErrCorrupt means a record exists but cannot be decoded. The session
	// layer treats it as no session and logs it.
	ErrCorrupt = errors.New("sessionstore: corrupt session record")

	// ErrEncode means a value could not be encoded for storage: it does not
	// marshal to JSON, or its type is not registered (see Register).
	ErrEncode = errors.New("sessionstore: cannot encode session value")
)

// Unavailable wraps err so that it matches ErrUnavailable and still matches
// (and prints) the original error. Stores use it for backend failures.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Corrupt wraps err so that it matches ErrCorrupt.
func Corrupt(err error) error {
	if err == nil || errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}
