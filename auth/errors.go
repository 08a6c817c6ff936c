package auth

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the account service. Test for them with errors.Is; the HTTP
// edge (middleware.WriteError) gives each its status and code. Store
// failures come as errors matching sessionstore.ErrUnavailable, whichever
// store failed (sessions, users or the throttle's).
var (
	// ErrUnauthenticated: the request has no signed-in session. A session
	// that had ended answers session.ErrExpired instead.
	ErrUnauthenticated = errors.New("auth: not signed in")

	// ErrInvalidCredentials: a wrong username or password, never saying
	// which.
	ErrInvalidCredentials = errors.New("auth: invalid username or password")

	// ErrWrongPassword: the current password given to ChangePassword is
	// wrong. It matches ErrInvalidCredentials too.
	ErrWrongPassword = fmt.Errorf("%w: the current password is wrong", ErrInvalidCredentials)

	// ErrInvalidUsername: a new username that NormalizeUsername refuses.
	ErrInvalidUsername = errors.New("auth: usernames are 1 to 64 letters, digits or . _ - @ +")

	// ErrWeakPassword: a new password the password rules refuse. A password
	// shorter than the minimum answers an error matching it that says the
	// minimum; ErrCommonPassword, ErrPasswordIsUsername and
	// ErrBreachedPassword match it too, and so does any refusal of a
	// PasswordChecker.
	ErrWeakPassword = errors.New("auth: the password is too weak")

	// ErrCommonPassword: a new password among the 10,000 most common ones
	// (see Passwords.AllowCommon), in any letter case. It matches
	// ErrWeakPassword.
	ErrCommonPassword error = &refusal{"auth: the password is one of the most common ones", ErrWeakPassword}

	// ErrPasswordIsUsername: a new password that is the user's username, in
	// any letter case. It matches ErrCommonPassword and ErrWeakPassword.
	ErrPasswordIsUsername error = &refusal{"auth: the password is the username", ErrCommonPassword}

	// ErrBreachedPassword: a new password found among the passwords of
	// known data breaches, by a PasswordChecker (the hibp package's). It
	// matches ErrWeakPassword.
	ErrBreachedPassword error = &refusal{"auth: the password appears in known data breaches", ErrWeakPassword}

	// ErrPasswordCheckUnavailable: a PasswordChecker could not judge a new
	// password (a breach service that did not answer, with its checker
	// set to fail closed). The password was neither accepted nor refused:
	// nothing changed, and the same request may succeed later. Every error
	// of a checker that is not a refusal is wrapped in it.
	ErrPasswordCheckUnavailable = errors.New("auth: the password could not be checked")

	// ErrPasswordTooLong: a new password over bcrypt's 72 bytes.
	ErrPasswordTooLong = errors.New("auth: the password is longer than 72 bytes")

	// ErrInvalidPassword: a password that is not valid UTF-8.
	ErrInvalidPassword = errors.New("auth: the password is not valid UTF-8")

	// ErrUsernameTaken: registration of a name somebody has.
	ErrUsernameTaken = errors.New("auth: that username is taken")

	// ErrTooManyAttempts: a lockout refused the attempt; the error is a
	// *RetryError saying for how long.
	ErrTooManyAttempts = errors.New("auth: too many failed attempts")

	// ErrTooManySignups: the client's address registered too many
	// accounts, or found too many names taken; a *RetryError.
	ErrTooManySignups = errors.New("auth: too many registrations from this address")

	// ErrInvalidEmail: an address that NormalizeEmail refuses.
	ErrInvalidEmail = errors.New("auth: that is not an email address")

	// ErrEmailTaken: an address another account has, where saying so
	// reveals nothing the asker could not know (registration, which is
	// throttled like a taken username; an operator's change).
	ErrEmailTaken = errors.New("auth: that email address is taken")

	// ErrNoEmail: mail for a user who has no address.
	ErrNoEmail = errors.New("auth: the account has no email address")

	// ErrEmailUnverified: a correct password for an account whose address
	// is not verified, with Recovery.RequireVerifiedEmail.
	ErrEmailUnverified = errors.New("auth: the email address is not verified yet")

	// ErrInvalidToken: a mailed token that is malformed, unknown, used,
	// expired or superseded.
	ErrInvalidToken = errors.New("auth: the link is invalid or has expired")

	// ErrTooManyMails: the client's address or the account asked for too
	// many mails; a *RetryError.
	ErrTooManyMails = errors.New("auth: too many mails asked for")

	// ErrPasskeyRejected: a WebAuthn response that does not verify (another
	// origin or RP ID, a challenge not issued or used already or expired,
	// a bad signature, a counter gone backwards, a malformed or oversized
	// attestation) or that comes without a ceremony to finish. Nothing was
	// stored. The auth/passkey package answers it.
	ErrPasskeyRejected = errors.New("auth: the passkey response was rejected")

	// ErrInvalidPasskeyName: a passkey's name of more than 64 characters,
	// or with control characters.
	ErrInvalidPasskeyName = errors.New("auth: a passkey's name is at most 64 printable characters")

	// ErrNoPasskey: a passkey the user does not have.
	ErrNoPasskey = errors.New("auth: no such passkey")

	// ErrPasskeyExists: a registration of an authenticator the account has
	// registered already, or one passkey too many for the account.
	ErrPasskeyExists = errors.New("auth: that passkey is registered already, or the account has as many as allowed")

	// The errors of a sign-in with another provider (the auth/oauth
	// package's).

	// ErrNoProvider: no provider of that name.
	ErrNoProvider = errors.New("auth: no such provider")
	// ErrProviderState: a provider's callback whose state is missing,
	// used, expired, or another browser's.
	ErrProviderState = errors.New("auth: the sign-in with the provider is not this browser's, or has expired")
	// ErrProviderRefused: the provider refused (its error, a code it would
	// not exchange), or what it sent does not verify (an ID token's issuer,
	// audience, expiry, signature or nonce).
	ErrProviderRefused = errors.New("auth: the sign-in with the provider failed")
	// ErrProviderUnavailable: the provider could not be reached.
	ErrProviderUnavailable = errors.New("auth: the provider could not be reached")
	// ErrNoAccount: an identity linked to no account, where sign-up is off.
	ErrNoAccount = errors.New("auth: no account is linked to that identity")
	// ErrLinkRequired: an identity whose email is an existing account's,
	// which the provider may not link by email: the user signs in another
	// way and links it from their account.
	ErrLinkRequired = errors.New("auth: an account with that email exists; sign in to it and link the provider")
	// ErrIdentityTaken: a link of an identity another account has.
	ErrIdentityTaken = errors.New("auth: that identity is linked to another account")
	// ErrNoIdentity: an identity the user does not have.
	ErrNoIdentity = errors.New("auth: no such linked identity")
	// ErrLastSignInMethod: removing the last way the user has to sign in.
	ErrLastSignInMethod = errors.New("auth: that is the account's last way to sign in")

	// ErrNoMail: a mail feature of an Auth without Config.Recovery.
	ErrNoMail = errors.New("auth: this application sends no mail")

	// ErrBusy: no bcrypt slot in time, or the throttle cannot take one more
	// key; a *RetryError when retrying can help.
	ErrBusy = errors.New("auth: too many sign-ins at once")
)

// RetryError is an error that says when to try again.
type RetryError struct {
	Err   error         // what refused: ErrTooManyAttempts, ErrTooManySignups or ErrBusy
	After time.Duration // how long to wait
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v; try again in %v", e.Err, e.After.Round(time.Second))
}

func (e *RetryError) Unwrap() error { return e.Err }

func retry(err error, after time.Duration) error { return &RetryError{Err: err, After: after} }

// busy is ErrBusy with its cause.
func busy(cause error) error { return fmt.Errorf("%w: %w", ErrBusy, cause) }

// refusal is a sentinel that refuses a new password for a reason of its
// own, and matches the broader sentinel it refines.
type refusal struct {
	msg  string
	kind error
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.kind }
