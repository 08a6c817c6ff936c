package models

import (
	"context"
	"errors"
)

// TOTP is what a FactorStore keeps of a user's authenticator app: the
// secret, sealed (encrypted) by the auth package, never in the clear;
// whether its owner confirmed it with a correct code (only then does it
// guard sign-in); and the last time step a code was accepted for, so that
// no step is accepted twice.
type TOTP struct {
	Sealed    []byte
	Confirmed bool
	LastStep  int64
}

// ErrNoFactor is returned by a FactorStore for a factor the user does not
// have (or no longer has, or not in the state asked for).
var ErrNoFactor = errors.New("models: no such factor")

// FactorStore is what a UserStore also implements to keep users' second
// factors (gormusers does, in tables of its own). The auth package finds
// it by a type assertion. Every method that changes something is atomic
// across processes sharing the store.
type FactorStore interface {
	// TOTP returns the user's enrolment, or ErrNoFactor.
	TOTP(ctx context.Context, userID string) (TOTP, error)
	// SetTOTP keeps a new, unconfirmed enrolment: it replaces an
	// unconfirmed one, and refuses with ErrFactorExists while a confirmed
	// one exists (that must be deleted first).
	SetTOTP(ctx context.Context, userID string, sealed []byte) error
	// ConfirmTOTP makes the unconfirmed enrolment whose secret is sealed
	// active, with step as the last step used: ErrNoFactor when there is
	// no such unconfirmed enrolment (another replaced it, or it is
	// confirmed already).
	ConfirmTOTP(ctx context.Context, userID string, sealed []byte, step int64) error
	// UseTOTPStep records step as used if it is later than the last step
	// used by a confirmed enrolment, and reports whether it did: of any
	// number of calls with one step, on any number of processes, one gets
	// true. ErrNoFactor without a confirmed enrolment.
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// DeleteTOTP deletes the enrolment, confirmed or not; none is no
	// error.
	DeleteTOTP(ctx context.Context, userID string) error

	// SetRecoveryCodes replaces the user's recovery codes with these (the
	// SHA-256 of each code); none deletes them.
	SetRecoveryCodes(ctx context.Context, userID string, hashes [][32]byte) error
	// UseRecoveryCode deletes the user's code with this hash and reports
	// whether there was one: of any number of calls for one code, on any
	// number of processes, one gets true.
	UseRecoveryCode(ctx context.Context, userID string, hash [32]byte) (bool, error)
	// RecoveryCodesLeft counts the user's unused codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
}

// ErrFactorExists is returned by SetTOTP while a confirmed enrolment
// exists.
var ErrFactorExists = errors.New("models: a confirmed factor exists")
