package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

// Problem is an error that carries what an HTTP client is told: a status, a
// machine-readable code and a message for people. The prebuilt routes and
// the middleware answer with it as {"error": Message, "code": Code}.
//
// Compare with errors.Is against the sentinels below; a Problem made from a
// sentinel with With or WithRetry matches it.
type Problem struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // sent as Retry-After when positive

	base  *Problem
	cause error
}

// Error returns the code and the message, as "code: message".
func (p *Problem) Error() string { return p.Code + ": " + p.Message }

// Unwrap returns the underlying cause, if any (never shown to clients).
func (p *Problem) Unwrap() error { return p.cause }

// Is reports whether target is p or the sentinel p was made from.
func (p *Problem) Is(target error) bool {
	t, ok := target.(*Problem)
	return ok && (t == p || t == p.base)
}

// With returns a copy of the sentinel p with another message.
func (p *Problem) With(message string) *Problem {
	c := *p
	c.Message, c.base = message, p.root()
	return &c
}

// WithRetry returns a copy of p that tells the client when to retry.
func (p *Problem) WithRetry(d time.Duration) *Problem {
	c := *p
	c.RetryAfter, c.base = d, p.root()
	return &c
}

func (p *Problem) wrap(cause error) *Problem {
	c := *p
	c.cause, c.base = cause, p.root()
	return &c
}

func (p *Problem) root() *Problem {
	if p.base != nil {
		return p.base
	}
	return p
}

// The problems of the HTTP contract.
var (
	ErrBadRequest         = &Problem{Status: http.StatusBadRequest, Code: "bad_request", Message: "The request is malformed."}
	ErrWeakPassword       = &Problem{Status: http.StatusBadRequest, Code: "weak_password", Message: "The password is too short."}
	ErrPasswordTooLong    = &Problem{Status: http.StatusBadRequest, Code: "password_too_long", Message: "The password is longer than 72 bytes."}
	ErrInvalidUsername    = &Problem{Status: http.StatusBadRequest, Code: "bad_request", Message: "Usernames are 1 to 64 letters, digits or . _ - @ +."}
	ErrUsernameTaken      = &Problem{Status: http.StatusConflict, Code: "username_taken", Message: "That username is taken."}
	ErrInvalidCredentials = &Problem{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "Invalid username or password."}
	ErrTooManyAttempts    = &Problem{Status: http.StatusTooManyRequests, Code: "too_many_attempts", Message: "Too many failed sign-in attempts. Try again later."}
	ErrHTTPSRequired      = &Problem{Status: http.StatusForbidden, Code: "https_required", Message: "Signing in needs HTTPS: the session cookie is Secure, and this request came over plain HTTP."}
	ErrTooManySignups     = &Problem{Status: http.StatusTooManyRequests, Code: "too_many_attempts", Message: "Too many registrations from your network. Try again later."}
	ErrUnauthenticated    = &Problem{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "Sign in to continue."}
	ErrSessionExpired     = &Problem{Status: http.StatusUnauthorized, Code: "session_expired", Message: "Your session has expired. Sign in again."}
	ErrNotFound           = &Problem{Status: http.StatusNotFound, Code: "not_found", Message: "No such session."}
	ErrPayloadTooLarge    = &Problem{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: "The request body is too large."}
	ErrUnsupportedMedia   = &Problem{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Send JSON or a form."}
	ErrCrossOrigin        = &Problem{Status: http.StatusForbidden, Code: "cross_origin", Message: "Cross-origin requests are not allowed here."}
	ErrStoreUnavailable   = &Problem{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "The session store is unavailable. Try again shortly."}
	ErrBusy               = &Problem{Status: http.StatusServiceUnavailable, Code: "busy", Message: "Too many sign-ins at once. Try again shortly."}
	ErrInternal           = &Problem{Status: http.StatusInternalServerError, Code: "internal_error", Message: "Something went wrong."}
)

// AsProblem turns any error into the Problem a client is told: Problems as
// they are, store and user-store failures as ErrStoreUnavailable, anything
// else as ErrInternal.
func AsProblem(err error) *Problem {
	var p *Problem
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return p
	case errors.Is(err, sessionstore.ErrUnavailable):
		return ErrStoreUnavailable.wrap(err)
	case errors.Is(err, models.ErrUserNotFound):
		return ErrUnauthenticated.wrap(err)
	}
	return ErrInternal.wrap(err)
}

// WriteProblem answers the request with the problem err stands for, aborts
// the handler chain, and marks the response uncacheable. Internal errors are
// logged (without secrets); their details are never sent.
func WriteProblem(c *gin.Context, err error) {
	p := AsProblem(err)
	if p.Status >= 500 && p.cause != nil {
		log := slog.Default()
		if st := getState(c); st != nil {
			log = st.core.log
		}
		log.Warn("ginauth: request failed", "status", p.Status, "code", p.Code, "path", c.FullPath(), "err", p.cause)
	}
	if p.RetryAfter > 0 {
		secs := int(p.RetryAfter.Round(time.Second) / time.Second)
		c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(p.Status, gin.H{"error": p.Message, "code": p.Code})
}
