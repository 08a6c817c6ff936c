package auth

import "time"

// EventType names an account event.
type EventType string

// The account events.
const (
	EventLoginSuccess   EventType = "login_success"
	EventLoginFailure   EventType = "login_failure"
	EventLockout        EventType = "lockout"     // an attempt refused by throttling (see Event.Action)
	EventLoginError     EventType = "login_error" // a login that could not be judged (see Event.Code)
	EventLogout         EventType = "logout"
	EventLogoutAll      EventType = "logout_all"
	EventPasswordChange EventType = "password_change"
	EventRegister       EventType = "register"
	EventSessionRevoked EventType = "session_revoked"

	EventResetRequested       EventType = "password_reset_requested" // a reset link mailed
	EventPasswordReset        EventType = "password_reset"           // a password set with a reset link
	EventEmailVerified        EventType = "email_verified"
	EventEmailChangeRequested EventType = "email_change_requested" // a confirmation link mailed to a new address
	EventEmailChange          EventType = "email_change"           // a new address took effect
	EventReauth               EventType = "reauth"                 // a signed-in user proved a factor again
	EventSecondFactorFailure  EventType = "second_factor_failure"  // a wrong second-factor code (Event.Action: "totp" or "recovery_code")
	EventFactorChange         EventType = "factor_change"          // a second factor enabled, disabled or its recovery codes replaced, a passkey added or removed (Event.Action)
	EventPasskeyClone         EventType = "passkey_clone"          // a passkey sign-in refused: the authenticator's counter did not move forward, a sign of a cloned authenticator
)

// Event describes something that happened to an account, for audit logs. It
// never carries a password, a hash or a session ID.
type Event struct {
	Type EventType
	Time time.Time
	// UserID is the account's ID when it is known (not for a failed login).
	UserID string
	// Username is the normalized username given, for login events; it is
	// what the client typed, so it may name no account.
	Username  string
	IPAddress string
	UserAgent string
	// Session is the handle of the session concerned, when there is one:
	// the new session at login, the revoked one for session_revoked.
	Session string
	// Revoked counts the sessions that logout_all, password_change and
	// password_reset ended.
	Revoked int
	// RetryAfter is how long a lockout lasts.
	RetryAfter time.Duration
	// Action is the flow a lockout refused, or in which a login_failure
	// happened: "login", "register" (lockouts only), "password_change" (a
	// wrong current password) or "reauth" (a wrong password to
	// re-authenticate), "second_factor" (lockouts of codes); for a
	// login_success after a second factor, and a reauth, the factor proven
	// ("totp", "recovery_code"; "" for the password alone).
	Action string
	// Code says why a login_error could not be judged: CodeBusy,
	// CodeHTTPSRequired, CodeStoreUnavailable or CodeInternal.
	Code string
}

// The codes of a login_error (Event.Code), as the HTTP contract names the
// same failures.
const (
	CodeBusy             = "busy"              // no bcrypt slot in time (ErrBusy)
	CodeHTTPSRequired    = "https_required"    // a Secure cookie over plain HTTP (session.ErrHTTPSRequired)
	CodeStoreUnavailable = "store_unavailable" // a store failed
	CodeInternal         = "internal_error"    // anything else
)
