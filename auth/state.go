package auth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// stateKey is where the session middleware keeps a request's state in the
// gin.Context.
const stateKey = "github.com/ginauth/ginauth/auth.state"

// state is the session of one request, as the middleware loaded it and the
// handlers changed it.
type state struct {
	core *core
	ctx  context.Context

	mu        sync.Mutex
	sess      *session.Session // nil: none loaded or started
	user      any              // the resolved user (a U), when authenticated
	userID    string
	expired   bool   // the request brought a session that timed out
	clear     bool   // expire the cookie the request brought
	reissue   bool   // the cookie was signed with an older secret
	https     bool   // the request came over HTTPS (directly or via a trusted proxy)
	sentValue string // the cookie value already set on this response

	device string // the user whose device cookie to send with the session's

	readID    string // the user this request read from the user store,
	readEpoch uint64 // at this user cache epoch (see Auth.remember)

	w       commitWriter // installed as the request's writer by Begin
	contrib contrib      // the gin-contrib/sessions view of the session
}

func getState(c *gin.Context) *state {
	if v, ok := c.Get(stateKey); ok {
		return v.(*state)
	}
	return nil
}

// ErrNoSessionMiddleware is returned by functions that need the session
// middleware on a request that did not pass through it.
var ErrNoSessionMiddleware = errors.New("auth: the session middleware (middleware.Session) is not installed on this route")

func mustState(c *gin.Context) (*state, error) {
	st := getState(c)
	if st == nil {
		return nil, ErrNoSessionMiddleware
	}
	return st, nil
}

// session returns the request's session, starting a new one when there is
// none (or it was destroyed). Callers hold st.mu.
func (st *state) session() *session.Session {
	if st.sess == nil || st.sess.Destroyed() {
		// A destroyed session is still committed (destroyed) by the
		// middleware: keep it as the one regenerated from, so that its
		// record goes and a new ID is issued.
		if st.sess == nil {
			st.sess = session.New(st.core.now())
		} else {
			st.sess.Regenerate(st.core.now(), nil)
		}
	}
	return st.sess
}

// Begin loads the request's session: it reads and verifies the cookie,
// loads the record (one store round trip), enforces the idle and absolute
// timeouts, and resolves the user (from the cache when it holds it). A
// missing, tampered or unknown cookie is no session; a timed-out session is
// destroyed and remembered as expired. Only a store failure is an error
// (ErrStoreUnavailable). Once the session is loaded, the request's writer
// commits it before the response goes out (see Finish), and
// sessions.Default(c) of gin-contrib/sessions works on it. The session
// middleware calls Begin; applications do not.
func (a *Auth[U]) Begin(c *gin.Context) error {
	if getState(c) != nil {
		return nil // already begun by an outer middleware
	}
	st := &state{core: a.core, ctx: c.Request.Context(), https: a.proxies.https(c.Request)}
	c.Set(stateKey, st)
	if err := a.load(c, st); err != nil {
		return err
	}
	st.w = commitWriter{ResponseWriter: c.Writer, c: c, st: st}
	c.Writer = &st.w
	st.contrib = contrib{c: c, st: st}
	c.Set(sessions.DefaultKey, &st.contrib)
	return nil
}

func (a *Auth[U]) load(c *gin.Context, st *state) error {
	id, flags, stale, cookies := a.codec.ReadCookie(c.Request.Header, a.cfg.cookieName)
	switch cookies {
	case session.NoCookie:
		return nil
	case session.BadCookie:
		st.clear = true
		return nil
	case session.ManySessions:
		// Another site of the parent domain may have set one of them:
		// whichever came first, using it could sign this browser in as
		// somebody else. Neither is used, and the cookie is expired with
		// the configured Domain and Path (one set with others stays: the
		// server cannot name attributes it is not told).
		st.clear = true
		a.log.Warn("ginauth: the request carries the cookies of more than one session; using none",
			"cookie", a.cfg.cookieName, "ip", a.proxies.clientIP(c.Request))
		return nil
	}
	sess, err := session.Load(st.ctx, a.store, id)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		// A genuine cookie of a signed-in session that is gone: it expired
		// (or was revoked) since the cookie was issued.
		st.clear = true
		st.expired = flags&session.FlagSignedIn != 0
		a.log.Debug("ginauth: session not found", "session", id, "signedIn", st.expired)
		return nil
	case errors.Is(err, sessionstore.ErrCorrupt):
		st.clear = true
		a.log.Warn("ginauth: unreadable session record; treating it as no session", "session", id, "err", err)
		return nil
	case err != nil:
		return ErrStoreUnavailable.wrap(err)
	}
	st.sess, st.reissue = sess, stale
	meta := sess.Meta()
	now := a.now()
	if a.timedOut(meta, now) {
		a.log.Debug("ginauth: session timed out", "session", id, "user", meta.UserID != "")
		st.expired = meta.UserID != ""
		sess.Destroy()
		return nil
	}
	if meta.UserID == "" {
		return nil
	}
	u, cred, err := a.user(st.ctx, meta.UserID)
	if err != nil {
		if errors.Is(err, sessionstore.ErrUnavailable) {
			return ErrStoreUnavailable.wrap(err)
		}
		// The user no longer exists: the session ends with it.
		a.log.Debug("ginauth: session of a deleted user ended", "session", id)
		sess.Destroy()
		return nil
	}
	if !sameCredential(meta.Credential, cred) {
		// Signed in with credentials that have changed since (a password
		// change that raced with this session's login, say).
		a.log.Debug("ginauth: session signed in with superseded credentials ended", "session", id)
		st.expired = true
		sess.Destroy()
		return nil
	}
	st.user, st.userID = u, meta.UserID
	return nil
}

// timedOut applies the idle and absolute timeouts in process, so that a
// shortened timeout takes effect on sessions stored under a longer one.
func (c *core) timedOut(m sessionstore.Meta, now time.Time) bool {
	if now.Sub(m.LastActivity) >= c.cfg.idle {
		return true
	}
	if !m.CreatedAt.IsZero() && now.Sub(m.CreatedAt) >= c.cfg.absolute {
		return true
	}
	if m.UserID == "" && !m.CreatedAt.IsZero() && now.Sub(m.CreatedAt) >= c.cfg.anonymous {
		return true
	}
	return !m.Deadline.IsZero() && !now.Before(m.Deadline)
}

// Commit writes what the request changed and sets or expires the cookie; a
// read-only request inside the touch interval writes nothing. The session
// middleware calls it before the response headers go out; calling it again
// writes only what changed since. It answers ErrStoreUnavailable when the
// store failed, and ErrSessionExpired when the session was destroyed
// meanwhile (logout elsewhere) and this request's change was not written.
func (a *Auth[U]) Commit(c *gin.Context) error {
	st := getState(c)
	if st == nil {
		return nil
	}
	return a.commit(c, st)
}

func (c *core) commit(gc *gin.Context, st *state) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	w := gc.Writer
	if st.sess == nil && c.cfg.saveUninitialized {
		st.sess = session.New(c.now()) // express-session's saveUninitialized
		st.sess.Client(c.proxies.clientIP(gc.Request), truncateUTF8(gc.Request.UserAgent(), maxUserAgent))
	}
	if st.sess == nil {
		if st.clear {
			c.expireCookie(w, st)
		}
		return nil
	}
	sess := st.sess
	now := c.now()
	out, err := sess.Commit(st.ctx, c.store, now, c.policy)
	if err != nil {
		if errors.Is(err, sessionstore.ErrNotFound) {
			c.expireCookie(w, st)
			st.sess, st.user, st.userID = nil, nil, ""
			return ErrSessionExpired.wrap(err)
		}
		return ErrStoreUnavailable.wrap(err)
	}
	switch {
	case out.Destroyed || sess.Destroyed():
		c.log.Debug("ginauth: session destroyed", "session", sess.ID())
		c.expireCookie(w, st)
		st.sess = nil
	case out.Created:
		c.log.Debug("ginauth: session created", "session", sess.ID(), "user", sess.UserID() != "")
		c.setCookie(w, st, sess)
	case st.reissue || c.cfg.rolling || (out.Touched && sess.Meta().Persistent):
		if out.Touched {
			c.log.Debug("ginauth: session touched", "session", sess.ID())
		}
		c.setCookie(w, st, sess)
	case out.Touched:
		c.log.Debug("ginauth: session touched", "session", sess.ID())
	case out.Written:
		c.log.Debug("ginauth: session written", "session", sess.ID())
	}
	if st.device != "" && st.sess != nil {
		c.setDeviceCookie(gc, st, st.device)
		st.device = ""
	}
	return nil
}

// cookieAllowed reports whether a cookie may be sent on this response: a
// Secure cookie only over HTTPS, as express-session does.
func (c *core) cookieAllowed(st *state) bool {
	if !c.cfg.cookie.Secure || st.https {
		return true
	}
	c.insecureWarning.Do(func() {
		c.log.Warn("ginauth: not sending the Secure session cookie over plain HTTP; " +
			"serve HTTPS, or list the TLS-terminating proxy in TrustedProxies so its X-Forwarded-Proto is believed")
	})
	return false
}

func (c *core) baseCookie() *http.Cookie {
	ck := c.cfg.cookie
	return &http.Cookie{
		Name:        c.cfg.cookieName,
		Path:        ck.Path,
		Domain:      ck.Domain,
		Secure:      ck.Secure,
		HttpOnly:    true,
		SameSite:    ck.SameSite,
		Partitioned: ck.Partitioned,
	}
}

func (c *core) setCookie(w http.ResponseWriter, st *state, sess *session.Session) {
	if !c.cookieAllowed(st) {
		return
	}
	m := sess.Meta()
	var flags session.Flags
	if m.UserID != "" {
		flags = session.FlagSignedIn
	}
	value := c.codec.Encode(c.cfg.cookieName, sess.ID(), flags)
	if value == st.sentValue {
		return
	}
	ck := c.baseCookie()
	ck.Value = value
	if m.Persistent {
		age := c.cfg.cookie.MaxAge
		if !m.Deadline.IsZero() {
			age = min(age, m.Deadline.Sub(c.now()))
		}
		ck.MaxAge = max(int((age+time.Second-1)/time.Second), 1) // rounded up
	}
	http.SetCookie(w, ck)
	w.Header().Set("Cache-Control", "no-store")
	st.sentValue = value
	st.clear = false
}

func (c *core) expireCookie(w http.ResponseWriter, st *state) {
	if st.sentValue == "-" {
		return
	}
	ck := c.baseCookie()
	ck.MaxAge = -1
	http.SetCookie(w, ck)
	w.Header().Set("Cache-Control", "no-store")
	st.sentValue = "-"
	st.clear = false
}

// SessionName returns a short, non-secret name for the request's session
// ("session(1a2b3c4d)": the first 8 hex digits of its store key), for log
// lines; "" when the request has none.
func SessionName(c *gin.Context) string {
	st := getState(c)
	if st == nil {
		return ""
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess == nil {
		return ""
	}
	return st.sess.ID().String()
}
