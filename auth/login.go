package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
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
// that had timed out (idle or absolute), so that the client can be told
// session_expired rather than unauthenticated.
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
// The username is normalized (NormalizeUsername) and the password compared
// with bcrypt. An unknown or malformed username is compared against a dummy
// hash of the same cost, so that every failure takes as long as a wrong
// password and all answer ErrInvalidCredentials. A successful check of a
// hash of another cost re-hashes the password at the configured cost.
//
// Attempts are throttled (Config.Throttle) per username, known or not, and
// per client IP: a locked-out attempt answers ErrTooManyAttempts with the
// time to wait, whether or not the password is right, before any bcrypt
// work. A success clears the username's failures.
func (a *Auth[U]) Authenticate(c *gin.Context, username, password string) (U, error) {
	var zero U
	ctx := c.Request.Context()
	name, nameErr := NormalizeUsername(username)
	keys := a.throttleKeys(c, name, username)
	if err := a.checkThrottle(c, keys, name); err != nil {
		return zero, err
	}
	var user U
	found := false
	if nameErr == nil {
		var err error
		user, err = a.users.FindByUsername(ctx, name)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, models.ErrUserNotFound):
			return zero, ErrStoreUnavailable.wrap(err)
		}
	}
	hash := ""
	if found {
		hash = user.AuthPasswordHash()
	}
	ok, err := a.hasher.compare(ctx, hash, password)
	if err != nil {
		return zero, err
	}
	if !ok {
		a.failed(c, keys, Event{Type: EventLoginFailure, Username: name})
		return zero, ErrInvalidCredentials
	}
	if !a.throttle.Disabled {
		if err := a.throttle.Store.Reset(ctx, keys[:1]); err != nil {
			a.log.Warn("ginauth: clearing login failures failed", "err", err)
		}
	}
	if a.hasher.stale(hash) {
		a.rehash(c, user, password)
	}
	return user, nil
}

// throttleKeys are the keys an attempt on a username counts against: the
// username (hashed, so that the throttle store holds no usernames and
// garbage input has a bounded size) and the client's address.
func (a *Auth[U]) throttleKeys(c *gin.Context, normalized, raw string) []ThrottleKey {
	if a.throttle.Disabled {
		return nil
	}
	if normalized == "" {
		normalized = "\x00invalid:" + raw
	}
	sum := sha256.Sum256([]byte(normalized))
	return []ThrottleKey{
		{Key: "u:" + hex.EncodeToString(sum[:16]), Rule: a.throttle.PerUsername},
		{Key: "ip:" + addressBlock(a.proxies.clientIP(c.Request)), Rule: a.throttle.PerIP},
	}
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

// checkThrottle answers ErrTooManyAttempts while any key is locked out.
func (a *Auth[U]) checkThrottle(c *gin.Context, keys []ThrottleKey, name string) error {
	if len(keys) == 0 {
		return nil
	}
	wait, err := a.throttle.Store.Locked(c.Request.Context(), a.now(), keys)
	if err != nil {
		return ErrStoreUnavailable.wrap(err)
	}
	if wait <= 0 {
		return nil
	}
	a.emit(c, Event{Type: EventLockout, Username: name, RetryAfter: wait})
	return ErrTooManyAttempts.WithRetry(wait)
}

// failed records a failed password check against the keys and reports it.
func (a *Auth[U]) failed(c *gin.Context, keys []ThrottleKey, e Event) {
	if len(keys) > 0 {
		if _, err := a.throttle.Store.Fail(c.Request.Context(), a.now(), keys); err != nil {
			a.log.Warn("ginauth: recording a failed login failed", "err", err)
		}
	}
	a.emit(c, e)
}

// rehash stores the password's hash at the configured cost. It is best
// effort: the login succeeds even if it fails.
func (a *Auth[U]) rehash(c *gin.Context, user U, password string) {
	h, err := a.hasher.hash(c.Request.Context(), normalizePassword(password))
	if err == nil {
		err = a.users.SetPasswordHash(c.Request.Context(), user.AuthID(), h)
	}
	if err != nil {
		a.log.Warn("ginauth: re-hashing a password at the new cost failed", "err", err)
		return
	}
	a.InvalidateUser(user.AuthID())
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
// records the user, the login time, the client's IP address and user agent,
// and is indexed under the user. The cookie is sent when the response is.
func (a *Auth[U]) Login(c *gin.Context, user U, opts LoginOptions) error {
	st, err := mustState(c)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	a.loginLocked(c, st, user, opts.Remember)
	a.emit(c, Event{Type: EventLoginSuccess, UserID: user.AuthID(), Username: user.AuthUsername(), Session: st.sess.Handle()})
	return nil
}

func (a *Auth[U]) loginLocked(c *gin.Context, st *state, user U, remember bool) {
	sess := st.session()
	sess.Regenerate(a.now(), a.keep)
	_ = sess.SetUser(user.AuthID(), remember) // cannot fail: just regenerated
	sess.Client(a.proxies.clientIP(c.Request), truncateUTF8(c.Request.UserAgent(), maxUserAgent))
	st.user, st.userID, st.expired = user, user.AuthID(), false
	if a.cache != nil {
		a.cache.add(user.AuthID(), user)
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
	n, err := a.store.DestroyUser(st.ctx, uid)
	if err != nil {
		return 0, ErrStoreUnavailable.wrap(err)
	}
	a.emit(c, Event{Type: EventLogoutAll, UserID: uid, Revoked: n})
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess != nil {
		st.sess.Destroy()
	}
	st.user, st.userID = nil, ""
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

// Register creates a user with the username (normalized) and password
// (hashed with bcrypt). It answers ErrInvalidUsername, ErrWeakPassword,
// ErrPasswordTooLong or ErrUsernameTaken for what a client must fix. It
// does not sign the user in: call Login for that.
func (a *Auth[U]) Register(c *gin.Context, username, password string) (U, error) {
	var zero U
	name, err := NormalizeUsername(username)
	if err != nil {
		return zero, err
	}
	pw, err := checkNewPassword(password, a.cfg.minPassword)
	if err != nil {
		return zero, err
	}
	hash, err := a.hasher.hash(c.Request.Context(), pw)
	if err != nil {
		return zero, err
	}
	u, err := a.users.Create(c.Request.Context(), name, hash)
	switch {
	case errors.Is(err, models.ErrUsernameTaken):
		return zero, ErrUsernameTaken
	case err != nil:
		return zero, ErrStoreUnavailable.wrap(err)
	}
	a.emit(c, Event{Type: EventRegister, UserID: u.AuthID(), Username: name})
	return u, nil
}

// ChangePassword changes the signed-in user's password after checking the
// current one, revokes the user's other sessions, and regenerates this one
// (a new ID, still signed in). It returns how many other sessions it
// revoked.
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
	keys := a.throttleKeys(c, user.AuthUsername(), "")
	if err := a.checkThrottle(c, keys, user.AuthUsername()); err != nil {
		return 0, err
	}
	ok, err := a.hasher.compare(ctx, user.AuthPasswordHash(), current)
	if err != nil {
		return 0, err
	}
	if !ok {
		a.failed(c, keys, Event{Type: EventLoginFailure, UserID: uid, Username: user.AuthUsername()})
		return 0, ErrInvalidCredentials.With("The current password is wrong.")
	}
	hash, err := a.hasher.hash(ctx, pw)
	if err != nil {
		return 0, err
	}
	if err := a.users.SetPasswordHash(ctx, uid, hash); err != nil {
		return 0, ErrStoreUnavailable.wrap(err)
	}
	a.InvalidateUser(uid)
	n, err := a.store.DestroyUser(ctx, uid)
	if err != nil {
		return 0, ErrStoreUnavailable.wrap(err)
	}
	fresh, err := a.users.FindByID(ctx, uid)
	if err != nil {
		fresh = user
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	remember := st.sess != nil && st.sess.Meta().Persistent
	a.loginLocked(c, st, fresh, remember)
	revoked := max(n-1, 0)
	a.emit(c, Event{Type: EventPasswordChange, UserID: uid, Username: fresh.AuthUsername(), Session: st.sess.Handle(), Revoked: revoked})
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

// emit reports an account event to Config.OnEvent.
func (c *core) emit(gc *gin.Context, e Event) {
	if c.onEvent == nil {
		return
	}
	e.Time = c.now()
	e.IPAddress = c.proxies.clientIP(gc.Request)
	e.UserAgent = truncateUTF8(gc.Request.UserAgent(), maxUserAgent)
	c.onEvent(e)
}
