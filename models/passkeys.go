package models

import (
	"context"
	"encoding/base64"
	"time"
)

// Passkey is a WebAuthn credential a user registered: what a
// PasskeyStore keeps of it. None of it is secret (the private key never
// leaves the authenticator), but the public key and the counter are what
// every sign-in with it is checked against.
type Passkey struct {
	// ID is the credential ID the authenticator chose (at most 1023
	// bytes); unique across all users.
	ID     []byte
	UserID string
	// Name is the user's label for it ("laptop", "phone").
	Name string
	// PublicKey is the credential's COSE public key.
	PublicKey []byte
	// AttestationType and AAGUID say what made it, as far as the
	// registration told.
	AttestationType string
	AAGUID          []byte
	// Transports are the authenticator's hints ("internal", "usb",
	// "hybrid", ...), given back to browsers when asking for it.
	Transports []string
	// SignCount is the authenticator's signature counter at its last
	// use: 0 for authenticators that keep none.
	SignCount uint32
	// BackupEligible and BackedUp are the flags of its last use: whether
	// it may be synced to other devices, and whether it is.
	BackupEligible bool
	BackedUp       bool
	CreatedAt      time.Time
	// LastUsedAt is zero until its first sign-in.
	LastUsedAt time.Time
}

// Handle names the passkey in URLs and lists: its ID in base64url,
// unpadded (as WebAuthn's JSON writes credential IDs).
func (p Passkey) Handle() string { return base64.RawURLEncoding.EncodeToString(p.ID) }

// PasskeyStore is what a UserStore also implements to keep users'
// passkeys (gormusers does, in a table of its own). Every method that
// changes something is atomic across processes sharing the store.
type PasskeyStore interface {
	// AddPasskey keeps a new passkey: ErrFactorExists when a passkey with
	// its ID exists already (of this user or another).
	AddPasskey(ctx context.Context, p Passkey) error
	// Passkey returns the passkey with this credential ID, whoever's it
	// is, or ErrNoFactor.
	Passkey(ctx context.Context, id []byte) (Passkey, error)
	// Passkeys lists the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID string) ([]Passkey, error)
	// UsePasskey records a sign-in with the passkey: its counter moves
	// from was to now, its flags and last use are set, if its counter is
	// still was. It reports whether it did: of any number of calls with
	// one was and a now that differs from it, on any number of processes,
	// one gets true (a counter that moved meanwhile means another sign-in
	// used it). An authenticator that keeps no counter answers 0 every
	// time: with was and now both 0, every call gets true (each sign-in's
	// single-use challenge is what stops a replay then). ErrNoFactor when
	// the passkey is gone.
	UsePasskey(ctx context.Context, id []byte, was, now uint32, backedUp bool, at time.Time) (bool, error)
	// RenamePasskey sets the name of the user's passkey: ErrNoFactor when
	// the user has no passkey with this ID.
	RenamePasskey(ctx context.Context, userID string, id []byte, name string) error
	// DeletePasskey deletes the user's passkey: ErrNoFactor when the user
	// has no passkey with this ID (another user's included).
	DeletePasskey(ctx context.Context, userID string, id []byte) error
}
