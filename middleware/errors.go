package middleware

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/problem"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// problems maps the errors of ginauth's packages to the problems of the
// HTTP contract, most specific first.
var problems = []struct {
	err error
	p   *problem.Problem
}{
	{ErrBadRequest, problem.BadRequest},
	{ErrPayloadTooLarge, problem.PayloadTooLarge},
	{ErrUnsupportedMedia, problem.UnsupportedMedia},
	{ErrCrossOrigin, problem.CrossOrigin},
	{auth.ErrWrongPassword, problem.WrongPassword},
	{auth.ErrInvalidCredentials, problem.InvalidCredentials},
	{auth.ErrInvalidUsername, problem.InvalidUsername},
	{auth.ErrPasswordIsUsername, problem.PasswordIsUsername},
	{auth.ErrCommonPassword, problem.CommonPassword},
	{auth.ErrBreachedPassword, problem.BreachedPassword},
	{auth.ErrWeakPassword, problem.WeakPassword},
	{auth.ErrPasswordCheckUnavailable, problem.PasswordCheckUnavailable},
	{auth.ErrPasswordTooLong, problem.PasswordTooLong},
	{auth.ErrInvalidPassword, problem.BadRequest},
	{auth.ErrUsernameTaken, problem.UsernameTaken},
	{auth.ErrInvalidEmail, problem.InvalidEmail},
	{auth.ErrNoEmail, problem.NoEmail},
	{auth.ErrInvalidToken, problem.InvalidToken},
	{auth.ErrEmailUnverified, problem.EmailUnverified},
	{auth.ErrEmailTaken, problem.EmailTaken},
	{auth.ErrTooManyMails, problem.TooManyMails},
	{auth.ErrReauthRequired, problem.ReauthRequired},
	{auth.ErrInvalidCode, problem.InvalidCode},
	{auth.ErrSecondFactorEnabled, problem.SecondFactorEnabled},
	{auth.ErrNoSecondFactor, problem.NoSecondFactor},
	{auth.ErrPasskeyRejected, problem.PasskeyRejected},
	{auth.ErrNoPasskey, problem.NoPasskey},
	{auth.ErrInvalidPasskeyName, problem.InvalidPasskeyName},
	{auth.ErrPasskeyExists, problem.PasskeyExists},
	{auth.ErrNoProvider, problem.NoProvider},
	{auth.ErrProviderState, problem.ProviderState},
	{auth.ErrProviderRefused, problem.ProviderRefused},
	{auth.ErrProviderUnavailable, problem.ProviderUnavailable},
	{auth.ErrNoAccount, problem.NoAccount},
	{auth.ErrLinkRequired, problem.LinkRequired},
	{auth.ErrIdentityTaken, problem.IdentityTaken},
	{auth.ErrNoIdentity, problem.NoIdentity},
	{auth.ErrLastSignInMethod, problem.LastSignInMethod},
	{auth.ErrNoMail, problem.NoMail},
	{auth.ErrTooManySignups, problem.TooManySignups},
	{auth.ErrTooManyAttempts, problem.TooManyAttempts},
	{auth.ErrBusy, problem.Busy},
	{auth.ErrUnauthenticated, problem.Unauthenticated},
	{session.ErrExpired, problem.SessionExpired},
	{session.ErrHTTPSRequired, problem.HTTPSRequired},
	{sessionstore.ErrTooManySessions, problem.TooManySessions},
	{sessionstore.ErrUnavailable, problem.StoreUnavailable},
	{sessionstore.ErrNotFound, problem.NotFound},
	{models.ErrUserNotFound, problem.Unauthenticated},
}

// Errors of the HTTP edge itself.
var (
	// ErrBadRequest: a body that cannot be read as the route expects.
	ErrBadRequest = errors.New("middleware: malformed request")
	// ErrPayloadTooLarge: a body over the limit (BodyLimit).
	ErrPayloadTooLarge = errors.New("middleware: request body too large")
	// ErrUnsupportedMedia: a body that is neither JSON nor a form.
	ErrUnsupportedMedia = errors.New("middleware: unsupported media type")
	// ErrCrossOrigin: an unsafe cross-origin request (CrossOrigin).
	ErrCrossOrigin = errors.New("middleware: cross-origin request refused")
)

// Problem returns what a client is told of err: its problem, and how long
// to wait before retrying (0: nothing to say). Errors ginauth does not know
// are problem.Internal.
func Problem(err error) (p *problem.Problem, retryAfter time.Duration) {
	var re *auth.RetryError
	if errors.As(err, &re) {
		retryAfter = re.After
	}
	for _, e := range problems {
		if errors.Is(err, e.err) {
			return e.p, retryAfter
		}
	}
	return problem.Internal, retryAfter
}

// WriteError answers the request with the problem err stands for (see
// Problem), aborts the handler chain, and marks the response uncacheable.
// Server errors are logged with their cause (which never carries a secret);
// their details are never sent.
func WriteError(c *gin.Context, err error) {
	p, retryAfter := Problem(err)
	var br *badRequest
	if errors.As(err, &br) {
		p = &problem.Problem{Status: p.Status, Code: p.Code, Message: br.msg}
	}
	if p.Status >= 500 {
		slog.Default().Warn("ginauth: request failed", "status", p.Status, "code", p.Code, "path", c.FullPath(), "err", err)
	}
	problem.Write(c, p, retryAfter)
}

// BadRequest returns an error matching ErrBadRequest whose message for
// people is message (what is wrong with the body, say).
func BadRequest(message string) error { return &badRequest{message} }

type badRequest struct{ msg string }

func (e *badRequest) Error() string        { return "middleware: malformed request: " + e.msg }
func (e *badRequest) Is(target error) bool { return target == ErrBadRequest }
