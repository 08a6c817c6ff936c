package models

import (
	"context"
	"errors"
	"time"
)

// Email is the part of a user model that account recovery and email
// verification need. Embed it beside User in a type whose users have an
// address:
//
//	type Account struct {
//		models.User
//		models.Email
//	}
//
// Users without an address keep Email nil (NULL in SQL), so that the unique
// index admits any number of them. The address is stored normalized (see
// auth.NormalizeEmail) and compared exactly.
type Email struct {
	Email         *string `gorm:"size:254;uniqueIndex" json:"email,omitempty"`
	EmailVerified bool    `gorm:"not null;default:false" json:"emailVerified"`
}

// AuthEmail implements EmailOwner.
func (e *Email) AuthEmail() string {
	if e.Email == nil {
		return ""
	}
	return *e.Email
}

// AuthEmailVerified implements EmailOwner.
func (e *Email) AuthEmailVerified() bool { return e.Email != nil && e.EmailVerified }

// EmailOwner is implemented by user types that have an email address; a
// pointer to any struct that embeds Email does.
type EmailOwner interface {
	// AuthEmail returns the normalized address, or "" when there is none.
	AuthEmail() string
	// AuthEmailVerified reports whether the owner proved the address is
	// theirs by following a link sent to it.
	AuthEmailVerified() bool
}

// ErrEmailTaken is returned by an EmailStore for an address another user
// has.
var ErrEmailTaken = errors.New("models: email taken")

// EmailStore is what a UserStore also implements to keep users' addresses
// (gormusers does, for types that embed Email). The auth package finds it
// by a type assertion on the UserStore. Addresses reach it normalized.
type EmailStore[U Authenticatable] interface {
	// CreateWithEmail is UserStore.Create with an unverified address, in
	// one write: ErrUsernameTaken or ErrEmailTaken when either is taken.
	CreateWithEmail(ctx context.Context, username, passwordHash, email string) (U, error)
	// FindByEmail returns the user with the address, or ErrUserNotFound.
	FindByEmail(ctx context.Context, email string) (U, error)
	// SetEmail gives the user an unverified address ("" removes it):
	// ErrEmailTaken when another user has it, ErrUserNotFound when there
	// is no such user.
	SetEmail(ctx context.Context, id, email string) error
	// MarkEmailVerified marks the user's address verified if it is still
	// email, and answers ErrUserNotFound otherwise (no such user, or the
	// address changed since the link was sent).
	MarkEmailVerified(ctx context.Context, id, email string) error
}

// A Token is what a TokenStore keeps of a single-use token sent by mail
// (a password reset or an address's confirmation link): never the token,
// only its SHA-256.
type Token struct {
	// Hash is the SHA-256 of the token.
	Hash [32]byte
	// Purpose tells what the token is for, such as "password_reset".
	// A token is found only under its purpose.
	Purpose string
	// UserID is the AuthID of the user the token was sent for.
	UserID string
	// Email is the address the token confirms, for purposes that have one.
	Email string
	// Session is the public ID (session.Info.ID) of the session the token
	// ends, for the link of a new sign-in's notice.
	Session string
	// Credential is the fingerprint of the user's password hash when the
	// token was made: a token for a password reset is void once the
	// password changes.
	Credential string
	// ExpiresAt is when the token stops being accepted.
	ExpiresAt time.Time
}

// ErrTokenNotFound is returned by ConsumeToken for a token that is not
// (or no longer) kept.
var ErrTokenNotFound = errors.New("models: token not found")

// TokenStore keeps the hashes of single-use tokens. A UserStore implements
// it next to EmailStore (gormusers does, in a table of its own); the auth
// package finds it by a type assertion. A user has at most one token of
// each purpose, so the tokens kept number at most the users times the
// purposes, whatever clients do.
type TokenStore interface {
	// IssueToken keeps t, replacing the user's earlier token of the same
	// purpose: a newer request voids the older link.
	IssueToken(ctx context.Context, t Token) error
	// ConsumeToken deletes the token with this hash and purpose and
	// returns it, expired or not (the caller judges expiry with its
	// clock). Of any number of calls for one token, on any number of
	// processes, exactly one gets it; the others get ErrTokenNotFound.
	ConsumeToken(ctx context.Context, hash [32]byte, purpose string) (Token, error)
	// DeleteTokens deletes the user's tokens of the purpose, or of every
	// purpose when purpose is "".
	DeleteTokens(ctx context.Context, userID, purpose string) error
}
