package models

import (
	"context"
	"errors"
	"time"
)

// Identity links a user to an account at another provider (an OpenID
// Provider, an OAuth 2.0 service): the provider's stable name in the
// application, and the subject the provider knows the user by. A user has
// zero or more; an identity belongs to one user. Identities are found by
// (Provider, Subject), never by email.
type Identity struct {
	Provider string // the provider's name in the application ("google", "corp")
	Subject  string // the provider's ID of the user ("sub"), at most 255 bytes
	UserID   string
	// Email is the address the provider gave at the last sign-in, for the
	// account page; it decides nothing.
	Email      string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until a sign-in with it after the link
}

// ErrIdentityExists is returned by LinkIdentity for an identity linked
// already (to this user or another).
var ErrIdentityExists = errors.New("models: that identity is linked already")

// IdentityStore is what a UserStore also implements to keep users' linked
// identities (gormusers does, in a table of its own). Every method that
// changes something is atomic across processes sharing the store.
type IdentityStore interface {
	// LinkIdentity keeps a new identity: ErrIdentityExists when
	// (Provider, Subject) is linked already, to any user; of any number of
	// parallel links of one identity, one wins.
	LinkIdentity(ctx context.Context, id Identity) error
	// Identity returns the identity (Provider, Subject), or ErrNoFactor.
	Identity(ctx context.Context, provider, subject string) (Identity, error)
	// Identities lists the user's identities, oldest first.
	Identities(ctx context.Context, userID string) ([]Identity, error)
	// UseIdentity records a sign-in with the identity: its last use and
	// the email the provider gave. ErrNoFactor when it is gone.
	UseIdentity(ctx context.Context, provider, subject, email string, at time.Time) error
	// UnlinkIdentity deletes the user's identity with this provider and
	// subject: ErrNoFactor when the user has none such (another user's
	// included).
	UnlinkIdentity(ctx context.Context, userID, provider, subject string) error
}
