package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/models"
)

// maxUserAgent bounds the user agent kept in a session.
const maxUserAgent = 512

// User returns the request's signed-in user, of the application's own type.
// The value may be shared, through the user cache, with other requests:
// read it, but load the user from the store to change it (then call
// InvalidateUser).
func (a *Auth[U]) User(c *gin.Context) (U, bool) {
	var zero U
	st := getState(c)
	if st == nil {
		return zero, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.user.(U)
	return u, ok
}

// IsAuthenticated reports whether the request has a signed-in user.
func (a *Auth[U]) IsAuthenticated(c *gin.Context) bool {
	_, ok := a.User(c)
	return ok
}

// SessionExpired reports whether the request brought a signed-in session
// that had ended (timed out, revoked, or signed in with credentials that
// have changed since), so that the client can be told session_expired
// rather than unauthenticated.
func (a *Auth[U]) SessionExpired(c *gin.Context) bool {
	st := getState(c)
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.expired
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
// locked-out attempt answers ErrTooManyAttempts with the time to wait,
// whether or not the password is right. A success clears the account's (or
// the device's) failures. Only judged attempts count: parallel sign-ins
// with the right password never lock anything.
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
	device := ""
	if found {
		device = a.deviceKey(c.Request, user.AuthID())
	}
	switch {
	case a.throttle.Disabled:
	case device != "":
		at.keys = []ThrottleKey{{Key: device, Rule: a.throttle.PerDevice}}
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
			a.rehash(c, user, password)
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
	a.remember(c, user.AuthID(), epoch)
	return user, nil
}

// transport refuses a sign-in whose session cookie could not be sent: a
// Secure cookie, on a request that did not come over HTTPS (directly, or
// through a trusted proxy saying so). Signing in then would store a session
// and report a success that no browser can use.
func (c *core) transport(gc *gin.Context, name string) error {
	if !c.cfg.cookie.Secure {
		return nil
	}
	if st := getState(gc); st == nil || c.cookieAllowed(st) {
		return nil
	}
	c.emit(gc, Event{Type: EventLoginError, Username: name, Code: ErrHTTPSRequired.Code})
	return ErrHTTPSRequired
}

// loginError reports a login that could not be judged, and returns err.
func (a *Auth[U]) loginError(c *gin.Context, name string, err error) error {
	a.emit(c, Event{Type: EventLoginError, Username: name, Code: AsProblem(err).Code})
	return err
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
// effort: the login succeeds even if it fails. The user's other sessions,
// signed in with the old hash, end at their next request.
func (a *Auth[U]) rehash(c *gin.Context, user U, password string) {
	h, err := a.hasher.hash(normalizePassword(password))
	if err == nil {
		err = a.users.SetPasswordHash(c.Request.Context(), user.AuthID(), h)
	}
	if err != nil {
		a.log.Warn("ginauth: re-hashing a password at the new cost failed", "err", err)
		return
	}
	user.SetCredentials(user.AuthUsername(), h) // the user was read for this request alone
	a.InvalidateUser(user.AuthID())
}

// remember notes, for Login, that this request read the user from the store
// at the cache's epoch, so that Login may cache it (unless the user was
// invalidated meanwhile).
func (a *Auth[U]) remember(c *gin.Context, id string, epoch uint64) {
	if st := getState(c); st != nil {
		st.mu.Lock()
		st.readID, st.readEpoch = id, epoch
		st.mu.Unlock()
	}
}

// LoginOptions are the choices a login makes.
type LoginOptions struct {
	// Remember gives the session a persistent cookie (lifetime
	// Cookie.MaxAge) instead of a browser-session one.
	Remember bool
}

// Login signs user in on this request (Passport's req.logIn after
// req.session.regenerate): the session gets a new ID, the old record is
// destroyed, and only the values listed in KeepOnRegenerate carry over, so
// a session ID planted before login is worthless after it. The session
// records the user, a fingerprint of the credentials it signed in with,
// the login time, the client's IP address and user agent, and is indexed
// under the user. The cookie is sent when the response is.
func (a *Auth[U]) Login(c *gin.Context, user U, opts LoginOptions) error {
	st, err := mustState(c)
	if err != nil {
		return err
	}
	if err := a.transport(c, user.AuthUsername()); err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	a.loginLocked(c, st, user, opts.Remember)
	st.device = user.AuthID() // sent after the session's cookie, once it is stored
	a.emit(c, Event{Type: EventLoginSuccess, UserID: user.AuthID(), Username: user.AuthUsername(), Session: st.sess.Handle()})
	return nil
}

func (a *Auth[U]) loginLocked(c *gin.Context, st *state, user U, remember bool) {
	id, cred := user.AuthID(), credentialOf(user.AuthPasswordHash())
	sess := st.session()
	sess.Regenerate(a.now(), a.keep)
	_ = sess.SetUser(id, cred, remember) // cannot fail: just regenerated
	sess.Client(a.proxies.clientIP(c.Request), truncateUTF8(c.Request.UserAgent(), maxUserAgent))
	st.user, st.userID, st.expired = user, id, false
	if a.cache != nil && st.readID == id {
		a.cache.addIf(id, user, cred, st.readEpoch)
	}
}

// Logout ends the request's session: the record is destroyed and the cookie
// expired when the response is sent. Logging out without a session does
// nothing.
func (a *Auth[U]) Logout(c *gin.Context) error {
	st, err := mustState(c)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.userID != "" {
		a.emit(c, Event{Type: EventLogout, UserID: st.userID, Session: st.sess.Handle()})
	}
	if st.sess != nil {
		st.sess.Destroy()
	}
	st.user, st.userID = nil, ""
	return nil
}

// LogoutAll destroys every session of the signed-in user, this one too, in
// one batch, and returns how many it destroyed. Every instance sees it at
// its next request: sessions are never cached.
func (a *Auth[U]) LogoutAll(c *gin.Context) (int, error) {
	st, uid, err := a.signedIn(c)
	if err != nil {
		return 0, err
	}
	n, err := a.revokeAll(st.ctx, c, uid)
	if err != nil {
		return 0, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess != nil {
		st.sess.Discard() // one of those just destroyed
	}
	st.user, st.userID = nil, ""
	return n, nil
}

// RevokeUserSessions ends every session of the user, outside any request
// (an admin page of another user, a command line), and returns how many it
// ended; each answers 401 at its next request on any instance. It reports
// EventLogoutAll, with no client.
func (a *Auth[U]) RevokeUserSessions(ctx context.Context, userID string) (int, error) {
	return a.revokeAll(ctx, nil, userID)
}

func (a *Auth[U]) revokeAll(ctx context.Context, gc *gin.Context, userID string) (int, error) {
	n, err := a.store.DestroyUser(ctx, userID)
	if err != nil {
		return 0, ErrStoreUnavailable.wrap(err)
	}
	a.emit(gc, Event{Type: EventLogoutAll, UserID: userID, Revoked: n})
	return n, nil
}

func (a *Auth[U]) signedIn(c *gin.Context) (*state, string, error) {
	st, err := mustState(c)
	if err != nil {
		return nil, "", err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.userID == "" {
		if st.expired {
			return nil, "", ErrSessionExpired
		}
		return nil, "", ErrUnauthenticated
	}
	return st, st.userID, nil
}

// FindUser returns the user named username, outside any request: for an
// admin page or a command line. The name is normalized (NormalizeUsername)
// and matched exactly, whatever the user store's collation, as a login
// matches it. A malformed or unknown name answers models.ErrUserNotFound; a
// failing user store, an error matching ErrStoreUnavailable.
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
func (a *Auth[U]) findUser(ctx context.Context, name string) (U, error) {
	var zero U
	u, err := a.users.FindByUsername(ctx, name)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return zero, models.ErrUserNotFound
	case err != nil:
		return zero, ErrStoreUnavailable.wrap(err)
	case u.AuthUsername() != name:
		return zero, models.ErrUserNotFound
	}
	return u, nil
}

// CreateUser creates a user with the username (normalized) and password
// (hashed with bcrypt), outside any request: to seed an administrator,
// import users, or serve a command line. It answers ErrInvalidUsername,
// ErrWeakPassword or ErrPasswordTooLong for what the caller must fix,
// ErrUsernameTaken, and an error matching ErrStoreUnavailable when the user
// store fails. Register is CreateUser for a request.
func (a *Auth[U]) CreateUser(ctx context.Context, username, password string) (U, error) {
	var zero U
	name, err := normalizeNewUsername(username)
	if err != nil {
		return zero, err
	}
	pw, err := checkNewPassword(password, a.cfg.minPassword)
	if err != nil {
		return zero, err
	}
	var u U
	if serr := a.slot(ctx, func() { u, err = a.create(ctx, name, pw) }); serr != nil {
		return zero, serr
	}
	return u, err
}

// create hashes the password and creates the user; the caller holds a
// bcrypt slot.
func (a *Auth[U]) create(ctx context.Context, name, pw string) (U, error) {
	var zero U
	hash, err := a.hasher.hash(pw)
	if err != nil {
		return zero, err
	}
	u, err := a.users.Create(ctx, name, hash)
	switch {
	case errors.Is(err, models.ErrUsernameTaken):
		return zero, ErrUsernameTaken
	case err != nil:
		return zero, ErrStoreUnavailable.wrap(err)
	}
	return u, nil
}

// Register creates a user on behalf of a request (POST /register): it is
// CreateUser, throttled per client address twice: answers that the
// username is taken (Throttle.Registrations: that answer tells whether an
// account exists, so one address may get only so many), and accounts
// created (Throttle.Signups). It is reported as a register event. It does
// not sign the user in: call Login for that.
func (a *Auth[U]) Register(c *gin.Context, username, password string) (U, error) {
	var zero U
	name, err := normalizeNewUsername(username)
	if err != nil {
		return zero, err
	}
	pw, err := checkNewPassword(password, a.cfg.minPassword)
	if err != nil {
		return zero, err
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
		u, err = a.create(c.Request.Context(), name, pw)
		switch {
		case errors.Is(err, ErrUsernameTaken):
			return []Verdict{Failed, Unjudged}, err
		case err != nil:
			return nil, err
		}
		return []Verdict{Unjudged, Failed}, nil // an account made counts
	})
	if err != nil {
		return zero, err
	}
	a.remember(c, u.AuthID(), epoch)
	a.emit(c, Event{Type: EventRegister, UserID: u.AuthID(), Username: name})
	return u, nil
}

// SetPassword sets a user's password without asking for the current one,
// outside any request (an administrator's reset, a command line), and ends
// every session of the user on every instance. It returns how many
// sessions it revoked. It answers ErrWeakPassword or ErrPasswordTooLong for
// a password the caller must change, models.ErrUserNotFound for an unknown
// user, and an error matching ErrStoreUnavailable when a store fails.
func (a *Auth[U]) SetPassword(ctx context.Context, userID, password string) (int, error) {
	pw, err := checkNewPassword(password, a.cfg.minPassword)
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
		a.emit(nil, Event{Type: EventPasswordChange, UserID: userID, Revoked: n})
	}
	return n, err
}

// replaceHash stores a new password hash for the user, drops the user from
// every cache and destroys the user's sessions. Sessions signed in with the
// old hash that escape the destroy (a login in flight) end at their next
// request, since their credential fingerprint no longer matches.
func (a *Auth[U]) replaceHash(ctx context.Context, userID, hash string) (int, error) {
	if err := a.users.SetPasswordHash(ctx, userID, hash); err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, err
		}
		return 0, ErrStoreUnavailable.wrap(err)
	}
	a.InvalidateUser(userID)
	n, err := a.store.DestroyUser(ctx, userID)
	if err != nil {
		return 0, ErrStoreUnavailable.wrap(err)
	}
	return n, nil
}

// ChangePassword changes the signed-in user's password after checking the
// current one, revokes the user's other sessions, and regenerates this one
// (a new ID, still signed in). It returns how many other sessions it
// revoked. Sessions signed in with the old password, a login that was
// already in flight included, end at their next request on every instance.
func (a *Auth[U]) ChangePassword(c *gin.Context, current, next string) (int, error) {
	st, uid, err := a.signedIn(c)
	if err != nil {
		return 0, err
	}
	pw, err := checkNewPassword(next, a.cfg.minPassword)
	if err != nil {
		return 0, err
	}
	ctx := st.ctx
	// The stored user, not the cached one: its hash may have changed.
	user, err := a.users.FindByID(ctx, uid)
	if err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, ErrUnauthenticated
		}
		return 0, ErrStoreUnavailable.wrap(err)
	}
	// Its own key: a lockout of the account's sign-in (which anyone can
	// cause) does not stop the signed-in owner, and guesses through a
	// stolen session are counted all the same.
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
		return 0, ErrInvalidCredentials.With("The current password is wrong.")
	}
	n, err := a.replaceHash(ctx, uid, hash)
	if err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, ErrUnauthenticated
		}
		return 0, err
	}
	user.SetCredentials(user.AuthUsername(), hash) // read for this request alone
	a.remember(c, uid, a.cacheEpoch())
	st.mu.Lock()
	defer st.mu.Unlock()
	remember := st.sess != nil && st.sess.Meta().Persistent
	a.loginLocked(c, st, user, remember)
	revoked := max(n-1, 0)
	a.emit(c, Event{Type: EventPasswordChange, UserID: uid, Username: user.AuthUsername(), Session: st.sess.Handle(), Revoked: revoked})
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

// emit reports an account event to Config.OnEvent, with the request's
// client; gc is nil for an event outside any request (an operator's call),
// which has no client.
func (c *core) emit(gc *gin.Context, e Event) {
	if c.onEvent == nil {
		return
	}
	e.Time = c.now()
	if gc != nil {
		e.IPAddress = c.proxies.clientIP(gc.Request)
		e.UserAgent = truncateUTF8(gc.Request.UserAgent(), maxUserAgent)
	}
	c.onEvent(e)
}
