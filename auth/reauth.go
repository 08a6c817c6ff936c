package auth

import (
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// DefaultReauthWindow is how recent an authentication RecentAuth asks for
// when given no window, and what the prebuilt routes that change an
// account's address ask for: 15 minutes, half the default idle timeout. A
// browser left signed in and unattended, or a stolen cookie, then cannot
// change how the account is reached without the password, while someone
// who just signed in is not asked twice. (GitHub's sudo mode lasts 2
// hours, Laravel's password confirmation 3; NIST SP 800-63B rev. 4 asks
// for re-authentication at AAL2 after 30 minutes of inactivity and 12
// hours in all: this window is within both.)
const DefaultReauthWindow = 15 * time.Minute

// ErrReauthRequired: the operation needs a more recent authentication
// than the session has (RecentAuth); the client re-authenticates
// (Reauthenticate, POST /reauth) and tries again.
var ErrReauthRequired = errors.New("auth: re-authentication required")

// RecentAuth reports whether the request's session proved a factor within
// window (DefaultReauthWindow when window is 0): nil if so,
// ErrReauthRequired if not, and the errors of User for a request without
// a signed-in user. Handlers call it before a sensitive change;
// middleware.RequireRecentAuth does so for a route.
func (a *Auth[U]) RecentAuth(c *gin.Context, window time.Duration) error {
	if _, err := a.User(c); err != nil {
		return err
	}
	if window <= 0 {
		window = DefaultReauthWindow
	}
	at := session.From(c).AuthenticatedAt()
	if at.IsZero() || a.now().Sub(at) > window {
		return ErrReauthRequired
	}
	return nil
}

// Reauthenticate proves the signed-in user's password again ("sudo
// mode"): the session records the proof (Session.StepUp), which renews
// RecentAuth's clock, and gets a new ID. A wrong password answers
// ErrWrongPassword, and guesses are throttled on the key that password
// changes use, so that whoever holds a stolen session cannot guess the
// password through it faster than the throttle allows (ErrTooManyAttempts
// past it).
func (a *Auth[U]) Reauthenticate(c *gin.Context, password string) error {
	signedIn, err := a.User(c)
	if err != nil {
		return err
	}
	uid := signedIn.AuthID()
	user, err := a.users.FindByID(c.Request.Context(), uid)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return ErrUnauthenticated
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	at := attempt{
		keys:    []ThrottleKey{{Key: "chg:" + uid, Rule: a.throttle.PerAccount}},
		lockout: Event{UserID: uid, Username: user.AuthUsername(), Action: "reauth"},
	}
	if a.throttle.Disabled {
		at.keys = nil
	}
	ok := false
	err = a.gated(c, at, func() ([]Verdict, error) {
		if ok = a.hasher.compare(user.AuthPasswordHash(), password); !ok {
			return []Verdict{Failed}, nil
		}
		return []Verdict{Cleared}, nil
	})
	if err != nil {
		return err
	}
	if !ok {
		a.emit(c, Event{Type: EventLoginFailure, UserID: uid, Username: user.AuthUsername(), Action: "reauth"})
		return ErrWrongPassword
	}
	s := session.From(c)
	if err := s.StepUp(session.FactorPassword); err != nil {
		return err
	}
	if err := s.Save(c.Writer); err != nil {
		return err
	}
	a.emit(c, Event{Type: EventReauth, UserID: uid, Username: user.AuthUsername(), Session: s.ID()})
	return nil
}

// StepUp records that the signed-in user proved factor just now, as the
// caller checked it (a passkey assertion, say): the session records the
// proof, which renews RecentAuth's clock, gets a new ID, and the
// re-authentication is reported (EventReauth, Action factor). Without a
// signed-in user it answers the errors of User.
func (a *Auth[U]) StepUp(c *gin.Context, factor string) error {
	u, err := a.User(c)
	if err != nil {
		return err
	}
	s := session.From(c)
	if err := s.StepUp(factor); err != nil {
		return err
	}
	if err := s.Save(c.Writer); err != nil {
		return err
	}
	a.emit(c, Event{Type: EventReauth, UserID: u.AuthID(), Username: u.AuthUsername(), Session: s.ID(), Action: factor})
	return nil
}
