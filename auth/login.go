package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// maxUserAgent bounds the user agent an event carries.
const maxUserAgent = 512

// userKey is where an Auth keeps, in the gin.Context, what it resolved of
// the request's user: the user (a U) or why there is none (an error).
// Both are pointer-shaped for the usual U, so remembering them allocates
// nothing on the hot path.
const userKey = "github.com/ginauth/ginauth/auth.user"

// readKey is where a sign-in keeps the user it read from the user store,
// at which user cache epoch (see bind).
const readKey = "github.com/ginauth/ginauth/auth.read"

type userRead struct {
	id    string
	epoch uint64
}

// remember notes the request's user, or why it has none.
func remember[U any](c *gin.Context, u U, err error) {
	if err != nil {
		c.Set(userKey, err)
		return
	}
	c.Set(userKey, u)
}

// User returns the request's signed-in user, of the application's own
// type, from the user cache when it holds it: no user store query on a hit.
// A session whose user no longer exists, or that was signed in with
// credentials that have changed since, ends here. It answers
// ErrUnauthenticated without a signed-in session, session.ErrExpired for a
// session that had ended, and an error matching
// sessionstore.ErrUnavailable when the user store fails.
//
// The value may be shared, through the cache, with other requests: read
// it, but load the user from the store to change it (then call
// InvalidateUser).
func (a *Auth[U]) User(c *gin.Context) (U, error) {
	if v, ok := c.Get(userKey); ok {
		switch v := v.(type) {
		case U:
			return v, nil
		case error:
			var zero U
			return zero, v
		}
	}
	u, err := a.resolve(c)
	if err != nil && errors.Is(err, sessionstore.ErrUnavailable) {
		return u, err // not remembered: the next call tries again
	}
	remember(c, u, err)
	return u, err
}

func (a *Auth[U]) resolve(c *gin.Context) (U, error) {
	var zero U
	s := session.From(c)
	if s == nil {
		return zero, session.ErrNoMiddleware
	}
	b, ok := s.Bound()
	if !ok {
		if s.Expired() {
			return zero, session.ErrExpired
		}
		return zero, ErrUnauthenticated
	}
	u, cred, err := a.user(c.Request.Context(), b.UserID)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		// The user no longer exists: the session ends with it.
		a.log.Debug("ginauth: session of a deleted user ended", "session", s)
		s.Destroy()
		return zero, ErrUnauthenticated
	case err != nil:
		return zero, err
	case !sameCredential(b.Credential, cred):
		// Signed in with credentials that have changed since (a password
		// change that raced with this session's sign-in, say).
		a.log.Debug("ginauth: session signed in with superseded credentials ended", "session", s)
		s.Expire()
		return zero, session.ErrExpired
	}
	return u, nil
}

// Authenticate checks a username and password: Passport's local strategy.
// The username is normalized (NormalizeUsername) and looked up; a user is
// found only under exactly that name, whatever the user store's collation.
// The password is compared with bcrypt. An unknown or malformed username is
// compared against a dummy hash of the same cost, so that every failure
// takes as long as a wrong password and all answer ErrInvalidCredentials. A
// successful check of a hash of another cost re-hashes the password at the
// configured cost.
//
// Attempts are throttled (Config.Throttle) per account (the user's ID, or
// the normalized name when it names nobody) and per client address, or,
// from a browser holding a device cookie of the account, per device. A
// locked-out attempt answers ErrTooManyAttempts (a *RetryError saying how
// long to wait), whether or not the password is right. A success clears the
// account's (or the device's) failures. Only judged attempts count:
// parallel sign-ins with the right password never lock anything. A request
// whose response cannot carry the Secure session cookie answers
// session.ErrHTTPSRequired before any work.
func (a *Auth[U]) Authenticate(c *gin.Context, username, password string) (U, error) {
	var zero U
	ctx := c.Request.Context()
	name, nameErr := NormalizeUsername(username)
	if err := a.transport(c, name); err != nil {
		return zero, err
	}
	epoch := a.cacheEpoch()
	var user U
	found := false
	if nameErr == nil {
		u, err := a.findUser(ctx, name)
		switch {
		case err == nil:
			user, found = u, true
		case !errors.Is(err, models.ErrUserNotFound):
			return zero, a.loginError(c, name, err)
		}
	}
	// The first key is the account's (or the device's); the address's,
	// when known, comes second.
	at := attempt{lockout: Event{Username: name, Action: "login"}}
	if found {
		at.lockout.UserID = user.AuthID()
	}
	device := ""
	if found && a.deviceCookies() {
		device = session.From(c).Device(user.AuthID()) // nil-safe
	}
	switch {
	case a.throttle.Disabled:
	case device != "":
		at.keys = []ThrottleKey{{Key: "dev:" + device, Rule: a.throttle.PerDevice}}
	default:
		account := nameKey(name, username)
		if found {
			account = "id:" + user.AuthID()
		}
		at.keys = []ThrottleKey{{Key: account, Rule: a.throttle.PerAccount}}
		if k, ok := a.addressKey(c); ok {
			at.keys = append(at.keys, k)
		}
	}
	hash := ""
	if found {
		hash = user.AuthPasswordHash()
	}
	ok := false
	err := a.gated(c, at, func() ([]Verdict, error) {
		// A failure counts on every key; a success clears the account's
		// (or the device's) and leaves the address its failures.
		v := make([]Verdict, len(at.keys))
		if ok = a.hasher.compare(hash, password); !ok {
			for i := range v {
				v[i] = Failed
			}
			return v, nil
		}
		if a.hasher.stale(hash) {
			a.rehash(ctx, user, password)
		}
		if len(v) > 0 {
			v[0] = Cleared
		}
		return v, nil
	})
	switch {
	case errors.Is(err, ErrTooManyAttempts):
		return zero, err
	case err != nil:
		return zero, a.loginError(c, name, err)
	case !ok:
		a.emit(c, Event{Type: EventLoginFailure, Username: name, Action: "login"})
		return zero, ErrInvalidCredentials
	}
	if err := a.verifiedEnough(user); err != nil {
		return zero, err
	}
	c.Set(readKey, &userRead{user.AuthID(), epoch})
	return user, nil
}

// verifiedEnough refuses, with Recovery.RequireVerifiedEmail, a user whose
// address is not verified, and mails them a new link (throttled per
// account, in the background).
func (a *Auth[U]) verifiedEnough(user U) error {
	if a.rec == nil || !a.rec.cfg.RequireVerifiedEmail {
		return nil
	}
	e := any(user).(models.EmailOwner)
	if e.AuthEmailVerified() {
		return nil
	}
	if email := e.AuthEmail(); email != "" {
		a.later(func(ctx context.Context) {
			if w, err := a.counted(ctx, a.mailKeys(ctx, user.AuthID())...); err == nil && w == 0 {
				_ = a.sendVerification(ctx, user, email)
			}
		})
	}
	return ErrEmailUnverified
}

// deviceCookies reports whether sign-ins give browsers device cookies.
func (a *Auth[U]) deviceCookies() bool {
	return !a.throttle.Disabled && !a.throttle.NoDeviceCookies
}

// transport refuses a sign-in whose session cookie could not be sent: a
// Secure cookie, on a request that did not come over HTTPS.
func (a *Auth[U]) transport(c *gin.Context, name string) error {
	s := session.From(c)
	if s == nil {
		return nil // no session to sign in to: Login refuses
	}
	if err := s.CheckTransport(); err != nil {
		a.emit(c, Event{Type: EventLoginError, Username: name, Code: eventCode(err)})
		return err
	}
	return nil
}

// loginError reports a sign-in that could not be judged, and returns err.
func (a *Auth[U]) loginError(c *gin.Context, name string, err error) error {
	a.emit(c, Event{Type: EventLoginError, Username: name, Code: eventCode(err)})
	return err
}

// eventCode names why a sign-in could not be judged, for Event.Code.
func eventCode(err error) string {
	switch {
	case errors.Is(err, ErrBusy):
		return CodeBusy
	case errors.Is(err, session.ErrHTTPSRequired):
		return CodeHTTPSRequired
	case errors.Is(err, sessionstore.ErrUnavailable):
		return CodeStoreUnavailable
	}
	return CodeInternal
}

// nameKey is the throttle key of a name that names no account: its hash, so
// that the throttle store holds no usernames and garbage input has a
// bounded size.
func nameKey(normalized, raw string) string {
	if normalized == "" {
		normalized = "\x00invalid:" + raw
	}
	sum := sha256.Sum256([]byte(normalized))
	return "u:" + hex.EncodeToString(sum[:16])
}

// addressBlock is what the per-IP throttle counts against: an IPv4 address,
// or the /64 network of an IPv6 one, since a single IPv6 client usually
// holds a whole /64 and could otherwise rotate through it.
func addressBlock(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// rehash stores the password's hash at the configured cost. It is best
// effort: the sign-in succeeds even if it fails. The user's other sessions,
// signed in with the old hash, end at their next request.
func (a *Auth[U]) rehash(ctx context.Context, user U, password string) {
	h, err := a.hasher.hash(normalizePassword(password))
	if err == nil {
		err = a.users.SetPasswordHash(ctx, user.AuthID(), h)
	}
	if err != nil {
		a.log.Warn("ginauth: re-hashing a password at the new cost failed", "err", err)
		return
	}
	user.SetCredentials(user.AuthUsername(), h) // the user was read for this request alone
	a.InvalidateUser(user.AuthID())
}

// LoginOptions are the choices a sign-in makes.
type LoginOptions struct {
	// Remember gives the session a persistent cookie (the session
	// manager's Lifetime.Remember) instead of a browser-session one.
	Remember bool

	// Factors are the factors the caller proved before calling Login
	// (session.FactorPassword, session.FactorPasskey, ...): the session
	// records them. Default: the password alone. Login asks for a second
	// factor (SecondFactorRequired) from a user who has one unless these
	// prove two kinds already; a passkey verified with user verification
	// (session.FactorPasskey) counts as two.
	Factors []string
}

// multiFactor reports whether factors prove two kinds: two distinct
// factors, or a passkey (something the user has, unlocked by something
// they know or are).
func multiFactor(factors []string) bool {
	kinds := 0
	for i, f := range factors {
		if f == session.FactorPasskey {
			return true
		}
		if f != "" && !slices.Contains(factors[:i], f) {
			kinds++
		}
	}
	return kinds >= 2
}

// Login signs user in on this request (Passport's req.logIn after
// req.session.regenerate, through session.Session.Bind): the session gets a
// new ID, the old record is destroyed, and only the values the manager
// keeps on regeneration carry over. The session records the user, a
// fingerprint of the credentials it signed in with, the time, the client's
// address and user agent, and is indexed under the user. It is written at
// once, so that a refusal reaches the caller: session.ErrHTTPSRequired, or,
// over the manager's MaxSessionsPerUser with OverLimit Refuse,
// sessionstore.ErrTooManySessions.
//
// For a user whose sign-ins need a second factor (Config.SecondFactor),
// Login signs nothing in: the browser's session (under a new ID) keeps a
// pending sign-in that grants nothing, and Login answers
// *SecondFactorRequired; CompleteLogin finishes it.
func (a *Auth[U]) Login(c *gin.Context, user U, opts LoginOptions) error {
	s := session.From(c)
	if s == nil {
		return session.ErrNoMiddleware
	}
	if err := a.transport(c, user.AuthUsername()); err != nil {
		return err
	}
	factors := opts.Factors
	if len(factors) == 0 {
		factors = []string{session.FactorPassword}
	}
	if a.sf != nil && !multiFactor(factors) {
		if pending, err := a.secondStep(c, s, user, opts.Remember, factors); pending || err != nil {
			return err
		}
	}
	s.Delete(pendingKey)
	// A browser without a device cookie of the account signs in to it
	// for the first time (or cleared its cookies): its owner hears of it.
	fresh := a.rec != nil && s.Device(user.AuthID()) == ""
	if err := a.bindFactors(c, s, user, opts.Remember, factors...); err != nil {
		return err
	}
	if fresh {
		a.noticeNewSignIn(c, user, s.ID())
	}
	a.emit(c, Event{Type: EventLoginSuccess, UserID: user.AuthID(), Username: user.AuthUsername(), Session: s.ID(), Action: secondFactorOf(factors)})
	return nil
}

// secondFactorOf names the factor other than the password a sign-in
// proved, for Event.Action: "" for the password alone.
func secondFactorOf(factors []string) string {
	for _, f := range factors {
		if f != session.FactorPassword {
			return f
		}
	}
	return ""
}

// bind signs the request's session in as user, by password, and writes
// it.
func (a *Auth[U]) bind(c *gin.Context, s *session.Session, user U, persistent bool) error {
	return a.bindFactors(c, s, user, persistent, session.FactorPassword)
}

// bindFactors signs the request's session in as user, with the factors
// proven now, and writes it.
func (a *Auth[U]) bindFactors(c *gin.Context, s *session.Session, user U, persistent bool, factors ...string) error {
	id, cred := user.AuthID(), credentialOf(user.AuthPasswordHash())
	err := s.Bind(session.Binding{UserID: id, Credential: cred, Remember: persistent, TrustDevice: a.deviceCookies(),
		Factors: factors})
	if err == nil {
		err = s.Save(c.Writer)
	}
	if err != nil {
		remember(c, user, ErrUnauthenticated)
		return err
	}
	remember(c, user, nil)
	if v, ok := c.Get(readKey); ok && a.cache != nil {
		if r := v.(*userRead); r.id == id {
			a.cache.addIf(id, user, cred, r.epoch)
		}
	}
	return nil
}

// Logout ends the request's session: the record is destroyed and the cookie
// expired when the response is sent. Signing out without a session does
// nothing.
func (a *Auth[U]) Logout(c *gin.Context) error {
	s := session.From(c)
	if s == nil {
		return session.ErrNoMiddleware
	}
	if b, ok := s.Bound(); ok {
		a.emit(c, Event{Type: EventLogout, UserID: b.UserID, Session: s.ID()})
	}
	s.Destroy()
	remember(c, *new(U), ErrUnauthenticated)
	return nil
}

// Revoke ends the user's session with the public ID id (a session.Info.ID),
// on every instance at its next request, and reports EventSessionRevoked.
// It answers an error matching sessionstore.ErrNotFound when id names no
// live session of this user, another user's included. ctx is the
// request's *gin.Context when a user revokes one of their own sessions
// (revoking the current one signs the request out), or any context for an
// operator.
func (a *Auth[U]) Revoke(ctx context.Context, userID, id string) error {
	if err := a.sessions.Revoke(ctx, userID, id); err != nil {
		return err
	}
	a.emit(ctx, Event{Type: EventSessionRevoked, UserID: userID, Session: id})
	return nil
}

// RevokeAll ends every session of the user in one batch, on every instance
// at its next request, reports EventLogoutAll, and returns how many it
// ended. ctx is the request's *gin.Context for a user signing out
// everywhere (the request's own session ends too), or any context for an
// operator.
func (a *Auth[U]) RevokeAll(ctx context.Context, userID string) (int, error) {
	n, err := a.sessions.RevokeAll(ctx, userID)
	if err != nil {
		return 0, err
	}
	if c, ok := ctx.(*gin.Context); ok {
		if b, ok := session.From(c).Bound(); !ok || b.UserID == userID {
			remember(c, *new(U), ErrUnauthenticated)
		}
	}
	a.emit(ctx, Event{Type: EventLogoutAll, UserID: userID, Revoked: n})
	return n, nil
}

// FindUser returns the user named username. The name is normalized
// (NormalizeUsername) and matched exactly, whatever the user store's
// collation, as a sign-in matches it. A malformed or unknown name answers
// models.ErrUserNotFound; a failing user store, an error matching
// sessionstore.ErrUnavailable.
func (a *Auth[U]) FindUser(ctx context.Context, username string) (U, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		var zero U
		return zero, models.ErrUserNotFound
	}
	return a.findUser(ctx, name)
}

// findUser looks up a normalized name. A store whose collation folds
// accents or case may return another name's user: that is not this name.
// FindUserByID returns the user with this ID (models.Authenticatable's
// AuthID), read from the user store, not the cache: models.ErrUserNotFound
// for none; a failing user store, an error matching
// sessionstore.ErrUnavailable.
func (a *Auth[U]) FindUserByID(ctx context.Context, id string) (U, error) {
	u, err := a.users.FindByID(ctx, id)
	if err != nil && !errors.Is(err, models.ErrUserNotFound) {
		err = sessionstore.Unavailable(err)
	}
	return u, err
}

// FindUserByEmail returns the user with this address (normalized, see
// NormalizeEmail, and matched exactly): models.ErrUserNotFound for none or
// a malformed address, ErrNoEmail for a user store that keeps no
// addresses; a failing user store, an error matching
// sessionstore.ErrUnavailable.
func (a *Auth[U]) FindUserByEmail(ctx context.Context, email string) (U, error) {
	var zero U
	es, ok := a.users.(models.EmailStore[U])
	if !ok {
		return zero, ErrNoEmail
	}
	e, err := NormalizeEmail(email)
	if err != nil {
		return zero, models.ErrUserNotFound
	}
	u, err := es.FindByEmail(ctx, e)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return zero, err
	case err != nil:
		return zero, sessionstore.Unavailable(err)
	}
	if eo, ok := any(u).(models.EmailOwner); ok && eo.AuthEmail() != e {
		return zero, models.ErrUserNotFound
	}
	return u, nil
}

func (a *Auth[U]) findUser(ctx context.Context, name string) (U, error) {
	var zero U
	u, err := a.users.FindByUsername(ctx, name)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return zero, models.ErrUserNotFound
	case err != nil:
		return zero, sessionstore.Unavailable(err)
	case u.AuthUsername() != name:
		return zero, models.ErrUserNotFound
	}
	return u, nil
}

// NewUser is what Register makes a user of.
type NewUser struct {
	Username string
	Password string
	// Email, optional, is the user's address (normalized; see
	// NormalizeEmail), unverified until its owner follows the link that
	// Register mails to it (with Config.Recovery). It needs a user type
	// and store with addresses (models.Email, models.EmailStore).
	Email string

	// EmailVerified marks Email verified at once, and mails no link: for
	// an address another party verified (an OpenID Provider that says so,
	// and that the application trusts for it).
	EmailVerified bool

	// NoPassword creates a user who signs in by other means only (a
	// provider, a passkey): Password must be empty, and the stored hash is
	// empty, which no password matches (a sign-in with one costs the same
	// time as with a wrong one). The user can get a password by reset.
	NoPassword bool
}

// Register creates a user with the username (normalized), password
// (hashed with bcrypt) and, optionally, address, and reports
// EventRegister. It does not sign the
// user in: call Login for that. It answers ErrInvalidUsername,
// ErrWeakPassword (ErrCommonPassword, ErrPasswordIsUsername,
// ErrBreachedPassword, or a PasswordChecker's refusal), ErrPasswordTooLong
// or ErrInvalidPassword, ErrInvalidEmail for what the caller must fix,
// ErrUsernameTaken, ErrEmailTaken (an oracle exactly as wide as a taken
// username: the same throttle counts both), an error matching ErrPasswordCheckUnavailable when a PasswordChecker could
// not run, and an error matching sessionstore.ErrUnavailable when the user
// store fails.
//
// ctx is the request's *gin.Context for a registration from a client
// (POST /register): it is then throttled per client address twice, on
// answers that the username is taken (ThrottlePolicy.Registrations: that
// answer tells whether an account exists) and on accounts created
// (ThrottlePolicy.Signups). Any other context is an operator's (seeding an
// administrator, importing users), not throttled.
func (a *Auth[U]) Register(ctx context.Context, nu NewUser) (U, error) {
	var zero U
	name, err := normalizeNewUsername(nu.Username)
	if err != nil {
		return zero, err
	}
	var pw string
	if nu.NoPassword {
		if nu.Password != "" {
			return zero, fmt.Errorf("%w: NoPassword with a password", ErrInvalidPassword)
		}
	} else if pw, err = a.checkNewPassword(ctx, name, nu.Password); err != nil {
		return zero, err
	}
	email := ""
	if nu.Email != "" {
		if email, err = NormalizeEmail(nu.Email); err != nil {
			return zero, err
		}
		if _, ok := a.users.(models.EmailStore[U]); !ok {
			return zero, fmt.Errorf("%w: the user store keeps no addresses", ErrNoEmail)
		}
	}
	c, ok := ctx.(*gin.Context)
	if !ok {
		var u U
		if serr := a.slot(ctx, func() { u, err = a.create(ctx, name, pw, email, nu) }); serr != nil {
			return zero, serr
		}
		if err == nil {
			a.registered(ctx, u, email, nu.EmailVerified)
		}
		return u, err
	}
	if err := a.transport(c, name); err != nil {
		return zero, err
	}
	at := attempt{lockout: Event{Username: name, Action: "register"}, refused: ErrTooManySignups}
	if k, ok := a.addressKey(c); ok && !a.throttle.Disabled {
		block := strings.TrimPrefix(k.Key, "ip:")
		at.keys = []ThrottleKey{
			{Key: "reg:" + block, Rule: a.throttle.Registrations},
			{Key: "new:" + block, Rule: a.throttle.Signups},
		}
	}
	epoch := a.cacheEpoch()
	var u U
	err = a.gated(c, at, func() ([]Verdict, error) {
		var err error
		u, err = a.create(c.Request.Context(), name, pw, email, nu)
		switch {
		case errors.Is(err, ErrUsernameTaken), errors.Is(err, ErrEmailTaken):
			return []Verdict{Failed, Unjudged}, err
		case err != nil:
			return nil, err
		}
		return []Verdict{Unjudged, Failed}, nil // an account made counts
	})
	if err != nil {
		return zero, err
	}
	c.Set(readKey, &userRead{u.AuthID(), epoch})
	a.registered(c, u, email, nu.EmailVerified)
	return u, nil
}

// registered reports a new user, and mails a new address its link.
func (a *Auth[U]) registered(ctx context.Context, u U, email string, verified bool) {
	a.emit(ctx, Event{Type: EventRegister, UserID: u.AuthID(), Username: u.AuthUsername()})
	if email == "" || a.rec == nil || verified {
		return
	}
	a.laterFor(a.addressOf(ctx), func(ctx context.Context) {
		if err := a.sendVerification(ctx, u, email); err != nil {
			a.log.Warn("ginauth: a new user's verification mail not sent", "err", err)
		}
	})
}

// create hashes the password and creates the user, with the address when
// there is one; the caller holds a bcrypt slot.
func (a *Auth[U]) create(ctx context.Context, name, pw, email string, nu NewUser) (U, error) {
	var zero U
	hash := ""
	if !nu.NoPassword {
		var err error
		if hash, err = a.hasher.hash(pw); err != nil {
			return zero, err
		}
	}
	var (
		u   U
		err error
	)
	if email == "" {
		u, err = a.users.Create(ctx, name, hash)
	} else {
		u, err = a.users.(models.EmailStore[U]).CreateWithEmail(ctx, name, hash, email)
	}
	switch {
	case errors.Is(err, models.ErrUsernameTaken):
		return zero, ErrUsernameTaken
	case errors.Is(err, models.ErrEmailTaken):
		return zero, ErrEmailTaken
	case err != nil:
		return zero, sessionstore.Unavailable(err)
	}
	if email != "" && nu.EmailVerified {
		if err := a.users.(models.EmailStore[U]).MarkEmailVerified(ctx, u.AuthID(), email); err != nil {
			return zero, sessionstore.Unavailable(err)
		}
		if fresh, err := a.users.FindByID(ctx, u.AuthID()); err == nil {
			u = fresh
		}
	}
	return u, nil
}

// SetPassword sets a user's password without asking for the current one
// (an administrator's reset, a command line), and ends every session of
// the user on every instance. It returns how many sessions it ended. The
// password is judged as at registration. It answers ErrWeakPassword (or a
// refinement of it: ErrCommonPassword, ...), ErrPasswordTooLong or
// ErrInvalidPassword for a password the caller must change,
// models.ErrUserNotFound for an unknown user, an error matching
// ErrPasswordCheckUnavailable when a PasswordChecker could not run, and an
// error matching sessionstore.ErrUnavailable when a store fails.
func (a *Auth[U]) SetPassword(ctx context.Context, userID, password string) (int, error) {
	user, err := a.users.FindByID(ctx, userID)
	if err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, err
		}
		return 0, sessionstore.Unavailable(err)
	}
	pw, err := a.checkNewPassword(ctx, user.AuthUsername(), password)
	if err != nil {
		return 0, err
	}
	var hash string
	if serr := a.slot(ctx, func() { hash, err = a.hasher.hash(pw) }); serr != nil {
		return 0, serr
	}
	if err != nil {
		return 0, err
	}
	n, err := a.replaceHash(ctx, userID, hash)
	if err == nil {
		a.emit(ctx, Event{Type: EventPasswordChange, UserID: userID, Revoked: n})
	}
	return n, err
}

// replaceHash stores a new password hash for the user, drops the user from
// every cache and destroys the user's sessions. Sessions signed in with the
// old hash that escape the destroy (a sign-in in flight) end at their next
// request, since their credential fingerprint no longer matches.
func (a *Auth[U]) replaceHash(ctx context.Context, userID, hash string) (int, error) {
	if err := a.users.SetPasswordHash(ctx, userID, hash); err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, err
		}
		return 0, sessionstore.Unavailable(err)
	}
	a.InvalidateUser(userID)
	if c, ok := ctx.(*gin.Context); ok {
		ctx = c.Request.Context() // the request's session is regenerated, not discarded
	}
	return a.sessions.RevokeAll(ctx, userID)
}

// ChangePassword changes the signed-in user's password after checking the
// current one, ends the user's other sessions, and regenerates this one (a
// new ID, still signed in). It returns how many other sessions it ended.
// Sessions signed in with the old password, a sign-in that was already in
// flight included, end at their next request on every instance. The new
// password is judged as at registration, before the current one is
// checked. A wrong current password answers ErrWrongPassword; guesses are throttled on a key
// of their own, so that a lockout of the account's sign-in (which anyone
// can cause) does not stop its signed-in owner.
func (a *Auth[U]) ChangePassword(c *gin.Context, current, next string) (int, error) {
	signedIn, err := a.User(c)
	if err != nil {
		return 0, err
	}
	uid := signedIn.AuthID()
	pw, err := a.checkNewPassword(c, signedIn.AuthUsername(), next)
	if err != nil {
		return 0, err
	}
	ctx := c.Request.Context()
	// The stored user, not the cached one: its hash may have changed.
	user, err := a.users.FindByID(ctx, uid)
	if err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, ErrUnauthenticated
		}
		return 0, sessionstore.Unavailable(err)
	}
	at := attempt{
		keys:    []ThrottleKey{{Key: "chg:" + uid, Rule: a.throttle.PerAccount}},
		lockout: Event{UserID: uid, Username: user.AuthUsername(), Action: "password_change"},
	}
	if a.throttle.Disabled {
		at.keys = nil
	}
	ok := false
	var hash string
	err = a.gated(c, at, func() ([]Verdict, error) {
		if ok = a.hasher.compare(user.AuthPasswordHash(), current); !ok {
			return []Verdict{Failed}, nil
		}
		var err error
		hash, err = a.hasher.hash(pw)
		return []Verdict{Cleared}, err
	})
	if err != nil {
		return 0, err
	}
	if !ok {
		a.emit(c, Event{Type: EventLoginFailure, UserID: uid, Username: user.AuthUsername(), Action: "password_change"})
		return 0, ErrWrongPassword
	}
	n, err := a.replaceHash(c, uid, hash)
	if err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, ErrUnauthenticated
		}
		return 0, err
	}
	user.SetCredentials(user.AuthUsername(), hash) // read for this request alone
	c.Set(readKey, &userRead{uid, a.cacheEpoch()})
	s := session.From(c)
	b, _ := s.Bound()
	if err := a.bind(c, s, user, b.Remember); err != nil {
		return 0, err
	}
	revoked := max(n-1, 0)
	a.emit(c, Event{Type: EventPasswordChange, UserID: uid, Username: user.AuthUsername(), Session: s.ID(), Revoked: revoked})
	return revoked, nil
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Emit reports an account event as the library reports its own: to
// Config.OnEvent, to the metrics, and as a security notice by mail where
// one applies. It fills in Time, and the client's address and user agent
// when ctx is a request's *gin.Context. It is for what the application
// (or a package like auth/passkey) does to accounts on its own.
func (a *Auth[U]) Emit(ctx context.Context, e Event) { a.emit(ctx, e) }

// emit reports an account event to Config.OnEvent, with the request's
// client when ctx is a request's *gin.Context; an operator's call has no
// client.
func (a *Auth[U]) emit(ctx context.Context, e Event) {
	if a.onEvent == nil && a.rec == nil {
		return
	}
	e.Time = a.now()
	if c, ok := ctx.(*gin.Context); ok && c != nil && c.Request != nil {
		e.IPAddress = a.sessions.ClientIP(c.Request)
		e.UserAgent = truncateUTF8(c.Request.UserAgent(), maxUserAgent)
	} else if cl, ok := ctx.Value(clientKey{}).(client); ok {
		e.IPAddress, e.UserAgent = cl.ip, cl.userAgent
	}
	a.notify(e)
	if a.onEvent != nil {
		a.onEvent(e)
	}
}
