// Package problem is ginauth's HTTP error contract: every error a client is
// told is a status and the JSON body {"error": message, "code": code}, and
// this package holds each of them, once. It imports nothing of ginauth, so
// that the session manager and the HTTP edge (middleware, handlers) write
// the same answers; which error becomes which problem is decided at the
// edge (middleware.WriteError).
package problem

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Problem is what a client is told about an error: a status, a code for
// programs and a message for people.
type Problem struct {
	Status  int
	Code    string
	Message string
}

// The problems of the HTTP contract.
var (
	BadRequest               = &Problem{400, "bad_request", "The request is malformed."}
	InvalidUsername          = &Problem{400, "bad_request", "Usernames are 1 to 64 letters, digits or . _ - @ +."}
	WeakPassword             = &Problem{400, "weak_password", "The password is too short or too easy to guess."}
	CommonPassword           = &Problem{400, "common_password", "That password is one of the most common ones, which attackers try first. Choose another."}
	PasswordIsUsername       = &Problem{400, "common_password", "The password must not be your username. Choose another."}
	BreachedPassword         = &Problem{400, "breached_password", "That password has appeared in a data breach, so attackers have it on their lists. Choose another."}
	PasswordTooLong          = &Problem{400, "password_too_long", "The password is longer than 72 bytes."}
	InvalidEmail             = &Problem{400, "invalid_email", "That is not an email address."}
	NoEmail                  = &Problem{400, "no_email", "The account has no email address."}
	InvalidToken             = &Problem{400, "invalid_token", "The link is invalid or has expired. Ask for a new one."}
	InvalidPasskeyName       = &Problem{400, "bad_request", "A passkey's name is at most 64 printable characters."}
	ProviderState            = &Problem{400, "invalid_state", "That sign-in link is not this browser's, or has expired. Start again."}
	PasskeyRejected          = &Problem{400, "passkey_rejected", "The passkey's answer could not be verified. Try again."}
	ProviderRefused          = &Problem{401, "provider_refused", "The sign-in with the provider did not succeed. Start again."}
	Unauthenticated          = &Problem{401, "unauthenticated", "Sign in to continue."}
	SessionExpired           = &Problem{401, "session_expired", "Your session has expired. Sign in again."}
	InvalidCode              = &Problem{401, "invalid_code", "That code is not right, or was used already."}
	InvalidCredentials       = &Problem{401, "invalid_credentials", "Invalid username or password."}
	WrongPassword            = &Problem{401, "invalid_credentials", "The current password is wrong."}
	HTTPSRequired            = &Problem{403, "https_required", "Signing in needs HTTPS: the session cookie is Secure, and this request came over plain HTTP."}
	ReauthRequired           = &Problem{403, "reauth_required", "Confirm your password to continue."}
	EmailUnverified          = &Problem{403, "email_unverified", "Verify your email address first: we sent you a link."}
	CrossOrigin              = &Problem{403, "cross_origin", "Cross-origin requests are not allowed here."}
	NotFound                 = &Problem{404, "not_found", "No such session."}
	NoProvider               = &Problem{404, "not_found", "No such provider."}
	NoIdentity               = &Problem{404, "not_found", "No such linked account."}
	NoPasskey                = &Problem{404, "not_found", "No such passkey."}
	NoMail                   = &Problem{404, "not_found", "This application sends no mail."}
	SecondFactorEnabled      = &Problem{409, "second_factor_enabled", "An authenticator app is set up already. Remove it first."}
	NoSecondFactor           = &Problem{400, "no_second_factor", "No authenticator app is set up."}
	NoAccount                = &Problem{403, "no_account", "No account is linked to that one. Sign in another way and link it from your account."}
	LinkRequired             = &Problem{409, "link_required", "An account with that email address exists. Sign in to it, then link the provider from your account."}
	IdentityTaken            = &Problem{409, "identity_taken", "That account is linked to another user."}
	LastSignInMethod         = &Problem{409, "last_sign_in_method", "That is your account's last way to sign in. Add a password or a passkey first."}
	PasskeyExists            = &Problem{409, "passkey_exists", "That passkey is registered already, or the account has as many as allowed."}
	UsernameTaken            = &Problem{409, "username_taken", "That username is taken."}
	EmailTaken               = &Problem{409, "email_taken", "That email address belongs to another account."}
	TooManySessions          = &Problem{409, "too_many_sessions", "You are signed in on as many devices as allowed. Sign out on one of them first."}
	PayloadTooLarge          = &Problem{413, "payload_too_large", "The request body is too large."}
	UnsupportedMedia         = &Problem{415, "unsupported_media_type", "Send JSON or a form."}
	TooManyAttempts          = &Problem{429, "too_many_attempts", "Too many failed sign-in attempts. Try again later."}
	TooManyMails             = &Problem{429, "too_many_attempts", "Too many mails asked for. Try again later."}
	TooManySignups           = &Problem{429, "too_many_attempts", "Too many registrations from your network. Try again later."}
	Internal                 = &Problem{500, "internal_error", "Something went wrong."}
	StoreUnavailable         = &Problem{503, "store_unavailable", "The session store is unavailable. Try again shortly."}
	ProviderUnavailable      = &Problem{503, "provider_unavailable", "The provider could not be reached. Try again shortly."}
	Busy                     = &Problem{503, "busy", "Too many sign-ins at once. Try again shortly."}
	PasswordCheckUnavailable = &Problem{503, "password_check_unavailable", "The new password could not be checked right now. Nothing was changed; try again shortly."}
)

// Write answers the request with p, aborts the handler chain and marks the
// response uncacheable. A positive retryAfter is sent as Retry-After, in
// whole seconds, at least one.
func Write(c *gin.Context, p *Problem, retryAfter time.Duration) {
	if retryAfter > 0 {
		secs := int(retryAfter.Round(time.Second) / time.Second)
		c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(p.Status, body{Code: p.Code, Error: p.Message})
}

// body is the JSON of a problem.
type body struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}
