package auth

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// pendingKey is the session value of a sign-in waiting for its second
// factor. It exists only after a correct password, in a session that is
// not signed in: it grants nothing (User, RequireAuth and GET /me see no
// user).
const pendingKey = "ginauth.pending"

// pendingLogin is that value.
type pendingLogin struct {
	UserID     string `json:"u"`
	Credential string `json:"c"`
	Remember   bool   `json:"r,omitempty"`
	At         int64  `json:"t"` // Unix ms
	// Factors are those proven so far; none means the password.
	Factors []string `json:"f,omitempty"`
}

// secondStep starts the second step of a sign-in for a user whose
// sign-ins need a second factor: the browser's session (given a new ID)
// keeps a pending sign-in, and the caller gets *SecondFactorRequired.
// It reports false, doing nothing, for a user without one.
func (a *Auth[U]) secondStep(c *gin.Context, s *session.Session, user U, persistent bool, factors []string) (bool, error) {
	ctx := c.Request.Context()
	on, err := a.hasSecondFactor(ctx, user.AuthID())
	if err != nil || !on {
		return false, err
	}
	methods := []string{MethodTOTP, MethodRecovery}
	if ps, ok := a.users.(models.PasskeyStore); ok {
		// Only for accounts with a second factor: a sign-in of any other
		// costs no query more.
		keys, err := ps.Passkeys(ctx, user.AuthID())
		if err != nil {
			return true, sessionstore.Unavailable(err)
		}
		if len(keys) > 0 {
			methods = append(methods, MethodPasskey)
		}
	}
	if err := s.Regenerate(); err != nil {
		return true, err
	}
	p := pendingLogin{UserID: user.AuthID(), Credential: credentialOf(user.AuthPasswordHash()), Remember: persistent, At: a.now().UnixMilli()}
	if !slices.Equal(factors, []string{session.FactorPassword}) {
		p.Factors = factors
	}
	if err := s.Set(pendingKey, p); err != nil {
		return true, err
	}
	if err := s.Save(c.Writer); err != nil {
		return true, err
	}
	remember(c, *new(U), ErrUnauthenticated)
	return true, &SecondFactorRequired{Methods: methods}
}

// PendingLogin returns the user whose sign-in waits in this browser for a
// second factor (after Login answered SecondFactorRequired), with the
// options to finish it with: Remember as the sign-in asked, Factors those
// proven so far. A second factor checked by the caller (a passkey of this
// user, say) completes it: append it to Factors and call Login. It
// answers ErrUnauthenticated without a pending sign-in: none, expired
// (SecondFactor.PendingTTL), or one whose password changed since.
func (a *Auth[U]) PendingLogin(c *gin.Context) (U, LoginOptions, error) {
	p, user, err := a.pending(c)
	if err != nil {
		return user, LoginOptions{}, err
	}
	factors := p.Factors
	if len(factors) == 0 {
		factors = []string{session.FactorPassword}
	}
	return user, LoginOptions{Remember: p.Remember, Factors: factors}, nil
}

// pending reads this browser's pending sign-in and its user, dropping one
// that no longer holds.
func (a *Auth[U]) pending(c *gin.Context) (pendingLogin, U, error) {
	var zero U
	if a.sf == nil {
		return pendingLogin{}, zero, ErrNoSecondFactor
	}
	s := session.From(c)
	var p pendingLogin
	if found, err := s.Get(pendingKey, &p); err != nil || !found || a.now().Sub(time.UnixMilli(p.At)) > a.sf.cfg.PendingTTL {
		if found {
			s.Delete(pendingKey)
		}
		return p, zero, ErrUnauthenticated
	}
	user, err := a.users.FindByID(c.Request.Context(), p.UserID)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		s.Delete(pendingKey)
		return p, zero, ErrUnauthenticated
	case err != nil:
		return p, zero, sessionstore.Unavailable(err)
	case !sameCredential(p.Credential, credentialOf(user.AuthPasswordHash())):
		s.Delete(pendingKey)
		return p, zero, ErrUnauthenticated
	}
	return p, user, nil
}

// CompleteLogin finishes a sign-in that SecondFactorRequired left pending
// in this browser, with a code from the user's authenticator app or one
// of their recovery codes (give one, the other ""): the session is signed
// in with both factors proven, under a new ID. It answers
// ErrUnauthenticated without a pending sign-in (none, expired, or its
// password changed since), ErrInvalidCode for a wrong, malformed, used or
// replayed code (each time step is accepted once per user, on every
// instance; each recovery code once), and ErrTooManyAttempts once code
// guesses reach the throttle: from a browser that signed in to the
// account before (it holds a device cookie), that browser's own
// (ThrottlePolicy.PerDevice); from any other, the account's, shared by
// every such browser (PerAccount), and its client address's (PerIP). So
// whoever has the password and locks the code step from elsewhere does
// not lock out the owner's known browsers.
func (a *Auth[U]) CompleteLogin(c *gin.Context, code, recoveryCode string) (U, error) {
	p, user, err := a.pending(c)
	if err != nil {
		return user, err
	}
	s := session.From(c)
	uid := user.AuthID()
	factor := session.FactorTOTP
	check := func() (bool, error) { return a.useTOTPCode(c, uid, code) }
	if code == "" {
		factor = session.FactorRecoveryCode
		check = func() (bool, error) { return a.useRecoveryCode(c, uid, recoveryCode) }
	}
	if err := a.codeAttempt(c, uid, user.AuthUsername(), factor, check); err != nil {
		var zero U
		return zero, err
	}
	s.Delete(pendingKey)
	c.Set(readKey, &userRead{uid, a.cacheEpoch()})
	fresh := a.rec != nil && s.Device(uid) == ""
	factors := p.Factors
	if len(factors) == 0 {
		factors = []string{session.FactorPassword}
	}
	if err := a.bindFactors(c, s, user, p.Remember, append(factors, factor)...); err != nil {
		var zero U
		return zero, err
	}
	if fresh {
		a.noticeNewSignIn(c, user, s.ID())
	}
	a.emit(c, Event{Type: EventLoginSuccess, UserID: uid, Username: user.AuthUsername(), Session: s.ID(), Action: factor})
	return user, nil
}

// useTOTPCode checks a code from the user's app and, when it is right,
// uses up its time step: false for a wrong code or a step used before.
func (a *Auth[U]) useTOTPCode(c *gin.Context, uid, code string) (bool, error) {
	ctx := c.Request.Context()
	t, err := a.sf.factors.TOTP(ctx, uid)
	switch {
	case errors.Is(err, models.ErrNoFactor) || (err == nil && !t.Confirmed):
		return false, nil
	case err != nil:
		return false, sessionstore.Unavailable(err)
	}
	secret, err := a.sf.seal.open(uid, t.Sealed)
	if err != nil {
		return false, err
	}
	step, ok := totpStep(secret, strings.TrimSpace(code), a.now())
	if !ok || step <= t.LastStep {
		return false, nil
	}
	used, err := a.sf.factors.UseTOTPStep(ctx, uid, step)
	if err != nil && !errors.Is(err, models.ErrNoFactor) {
		return false, sessionstore.Unavailable(err)
	}
	return used, nil
}

// useRecoveryCode uses up one of the user's recovery codes: false for a
// code the user does not have (any more).
func (a *Auth[U]) useRecoveryCode(c *gin.Context, uid, code string) (bool, error) {
	if strings.TrimSpace(code) == "" {
		return false, nil
	}
	used, err := a.sf.factors.UseRecoveryCode(c.Request.Context(), uid, recoveryHash(code))
	if err != nil {
		return false, sessionstore.Unavailable(err)
	}
	return used, nil
}

// ReauthenticateCode is Reauthenticate with a code from the user's
// authenticator app instead of the password: it proves the second factor
// (which DisableTOTP asks for). Wrong codes count on the throttle of
// codes, as CompleteLogin's do.
func (a *Auth[U]) ReauthenticateCode(c *gin.Context, code string) error {
	if a.sf == nil {
		return ErrNoSecondFactor
	}
	u, err := a.User(c)
	if err != nil {
		return err
	}
	uid := u.AuthID()
	if err := a.codeAttempt(c, uid, u.AuthUsername(), session.FactorTOTP, func() (bool, error) { return a.useTOTPCode(c, uid, code) }); err != nil {
		return err
	}
	s := session.From(c)
	if err := s.StepUp(session.FactorTOTP); err != nil {
		return err
	}
	if err := s.Save(c.Writer); err != nil {
		return err
	}
	a.emit(c, Event{Type: EventReauth, UserID: uid, Username: u.AuthUsername(), Session: s.ID(), Action: session.FactorTOTP})
	return nil
}
