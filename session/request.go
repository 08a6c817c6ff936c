package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/problem"
	"github.com/ginauth/ginauth/sessionstore"
)

// Errors of the session layer. Store failures come as they are: errors
// matching sessionstore.ErrUnavailable, sessionstore.ErrNotFound (a session
// that Revoke cannot find) and sessionstore.ErrTooManySessions.
var (
	// ErrNoMiddleware is returned by what needs the request's session on a
	// request that did not pass through Manager.Middleware.
	// ErrNotSignedIn: an operation on a signed-in session (StepUp) for
	// a request that has none.
	ErrNotSignedIn = errors.New("session: the request has no signed-in session")

	ErrNoMiddleware = errors.New("session: the session middleware (Manager.Middleware) is not installed on this route")

	// ErrExpired means the request's session ended: it timed out, was
	// revoked, or was ended by another request while this one ran (then
	// this request's changes were not written).
	ErrExpired = errors.New("session: the session has ended")

	// ErrHTTPSRequired means the session cookie is Secure and the request
	// did not come over HTTPS (directly, or through a trusted proxy saying
	// so): no cookie can be set on its response, so a sign-in is refused
	// rather than reported as a success no browser can use.
	ErrHTTPSRequired = errors.New("session: the Secure session cookie cannot be set over plain HTTP")
)

// maxUserAgent bounds the user agent kept in a session.
const maxUserAgent = 512

// stateKey is where Middleware keeps the request's Session in the
// gin.Context.
const stateKey = "github.com/ginauth/ginauth/session"

// Session is the session of one request, as Middleware (or Load) loaded it
// and the request changed it; it is written when the response goes out (or
// at Save). It is safe for use by the request's goroutines. It prints as a
// short, non-secret name ("session(1a2b3c4d)": the first 8 hex digits of its
// store key) under fmt and slog, never its ID or values.
type Session struct {
	m   *Manager
	ctx context.Context
	r   *http.Request

	mu        sync.Mutex
	e         *entry // nil: none loaded or started
	expired   bool   // the request brought a session that had ended
	clear     bool   // expire the cookie the request brought
	reissue   bool   // the cookie was signed with an older secret
	https     bool   // the request came over HTTPS (directly or via a trusted proxy)
	sentValue string // the cookie value already set on this response
	device    string // the user whose device cookie to send with the session's

	w commitWriter // the request's writer, under Middleware
}

// From returns the request's session, loaded by Manager.Middleware; nil
// when the middleware did not run on the request. Its methods are safe to
// call on nil: they report no session, or ErrNoMiddleware.
func From(c *gin.Context) *Session {
	if v, ok := c.Get(stateKey); ok {
		return v.(*Session)
	}
	return nil
}

// Load loads the session of r outside Middleware (a handler of net/http,
// say): it reads and verifies the cookie, loads the record, and applies the
// timeouts. The caller writes it with Save before the response starts. An
// error matches sessionstore.ErrUnavailable: the store could not be
// reached, and the session must not be replaced by an empty one.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	s := &Session{m: m, ctx: r.Context(), r: r, https: m.proxies.https(r)}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// begin loads the request's session for Middleware, and installs the
// writer that commits it before the response goes out.
func (m *Manager) begin(c *gin.Context) (*Session, error) {
	s := &Session{m: m, ctx: c.Request.Context(), r: c.Request, https: m.proxies.https(c.Request)}
	c.Set(stateKey, s)
	if err := s.load(); err != nil {
		return nil, err
	}
	s.w = commitWriter{ResponseWriter: c.Writer, c: c, s: s}
	c.Writer = &s.w
	return s, nil
}

func (s *Session) load() error {
	m := s.m
	id, flags, stale, cookies := m.codec.ReadCookie(s.r.Header, m.cookieName)
	switch cookies {
	case noCookie:
		return nil
	case badCookie:
		s.clear = true
		return nil
	case manySessions:
		// Another site of the parent domain may have set one of them:
		// whichever came first, using it could sign this browser in as
		// somebody else. Neither is used, and the cookie is expired with
		// the configured Domain and Path (one set with others stays: the
		// server cannot name attributes it is not told).
		s.clear = true
		m.log.Warn("ginauth: the request carries the cookies of more than one session; using none",
			"cookie", m.cookieName, "ip", m.proxies.clientIP(s.r))
		return nil
	}
	e, err := loadEntry(s.ctx, m.store, id)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		// A genuine cookie of a session that is gone: it expired (or was
		// revoked) since the cookie was issued.
		s.clear = true
		s.expired = flags&flagSignedIn != 0
		m.log.Debug("ginauth: session not found", "session", id, "signedIn", s.expired)
		return nil
	case errors.Is(err, sessionstore.ErrCorrupt):
		s.clear = true
		m.log.Warn("ginauth: unreadable session record; treating it as no session", "session", id, "err", err)
		return nil
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	s.e, s.reissue = e, stale
	meta := e.Meta()
	if m.rules.timedOut(meta.CreatedAt, meta.LastActivity, meta.Deadline, meta.UserID, m.now()) {
		m.log.Debug("ginauth: session timed out", "session", id, "user", meta.UserID != "")
		s.expired = meta.UserID != ""
		e.Destroy()
	}
	return nil
}

// finish ends the request's session after the handlers ran: it commits
// what they changed if the response has not started (a handler that wrote
// nothing), and otherwise writes changes made after the response started,
// which can no longer carry a cookie.
func (s *Session) finish(c *gin.Context) {
	if !s.w.done {
		s.w.commit()
		return
	}
	if err := s.commit(c.Writer); err != nil && !s.w.failed {
		s.m.log.Warn("ginauth: session changes after the response started were not saved", "path", c.FullPath(), "err", err)
	}
}

// writeError answers a request whose session could not be loaded or
// committed.
func writeError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, ErrExpired):
		problem.Write(c, problem.SessionExpired, 0)
		return
	case errors.Is(err, sessionstore.ErrTooManySessions):
		problem.Write(c, problem.TooManySessions, 0)
		return
	}
	if s := From(c); s != nil {
		s.m.log.Warn("ginauth: request failed", "status", http.StatusServiceUnavailable, "code", problem.StoreUnavailable.Code, "path", c.FullPath(), "err", err)
	}
	problem.Write(c, problem.StoreUnavailable, 0)
}

// Save writes what the request changed now, and sets or expires the cookie
// on w (a nil w writes the record and leaves the cookie to a later Save);
// a read-only request inside the touch interval writes nothing. Under
// Middleware it is called for the handler before the response goes out,
// and calling it again writes only what changed since. It answers an error
// matching sessionstore.ErrUnavailable when the store failed, ErrExpired
// when the session was ended meanwhile (a sign-out elsewhere) and this
// request's change was not written, and sessionstore.ErrTooManySessions
// for a sign-in over the limit that refuses.
func (s *Session) Save(w http.ResponseWriter) error {
	if s == nil {
		return ErrNoMiddleware
	}
	return s.commit(w)
}

func (s *Session) commit(w http.ResponseWriter) error {
	m := s.m
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e == nil && m.rules.saveEmpty {
		s.e = newEntry(m.now()) // express-session's saveUninitialized
		s.e.Client(m.proxies.clientIP(s.r), truncateUTF8(s.r.UserAgent(), maxUserAgent))
	}
	if s.e == nil {
		if s.clear {
			s.expireCookie(w)
		}
		return nil
	}
	e := s.e
	out, err := e.Commit(s.ctx, m.store, m.now(), m.rules)
	if err != nil {
		switch {
		case errors.Is(err, sessionstore.ErrNotFound):
			s.expireCookie(w)
			s.e = nil
			return fmt.Errorf("%w: %w", ErrExpired, err)
		case errors.Is(err, sessionstore.ErrTooManySessions):
			s.e = nil
			return err
		}
		return sessionstore.Unavailable(err)
	}
	switch {
	case out.Destroyed || e.Destroyed():
		m.log.Debug("ginauth: session destroyed", "session", e.ID())
		s.expireCookie(w)
		s.e = nil
	case out.Created:
		m.log.Debug("ginauth: session created", "session", e.ID(), "user", e.UserID() != "", "ended", out.Ended)
		s.setCookie(w, e)
	case s.reissue || m.rolling || (out.Touched && e.Meta().Persistent):
		if out.Touched {
			m.log.Debug("ginauth: session touched", "session", e.ID())
		}
		s.setCookie(w, e)
	case out.Touched:
		m.log.Debug("ginauth: session touched", "session", e.ID())
	case out.Written:
		m.log.Debug("ginauth: session written", "session", e.ID())
	}
	if s.device != "" && s.e != nil && w != nil {
		s.setDeviceCookie(w, s.device)
		s.device = ""
	}
	return nil
}

// cookieAllowed reports whether a cookie may be sent on this response: a
// Secure cookie only over HTTPS, as express-session does.
func (s *Session) cookieAllowed() bool {
	if !s.m.cookie.Secure || s.https {
		return true
	}
	s.m.insecureWarning.Do(func() {
		s.m.log.Warn("ginauth: not sending the Secure session cookie over plain HTTP; " +
			"serve HTTPS, or list the TLS-terminating proxy in TrustedProxies so its X-Forwarded-Proto is believed")
	})
	return false
}

func (m *Manager) baseCookie() *http.Cookie {
	ck := m.cookie
	return &http.Cookie{
		Name:        m.cookieName,
		Path:        ck.Path,
		Domain:      ck.Domain,
		Secure:      ck.Secure,
		HttpOnly:    true,
		SameSite:    ck.SameSite,
		Partitioned: ck.Partitioned,
	}
}

func (s *Session) setCookie(w http.ResponseWriter, e *entry) {
	if w == nil || !s.cookieAllowed() {
		return
	}
	m := s.m
	meta := e.Meta()
	var flags cookieFlags
	if meta.UserID != "" {
		flags = flagSignedIn
	}
	value := m.codec.Encode(m.cookieName, e.ID(), flags)
	if value == s.sentValue {
		return
	}
	ck := m.baseCookie()
	ck.Value = value
	if meta.Persistent {
		age := m.rules.Remember
		if !meta.Deadline.IsZero() {
			age = min(age, meta.Deadline.Sub(m.now()))
		}
		ck.MaxAge = max(int((age+time.Second-1)/time.Second), 1) // rounded up
	}
	http.SetCookie(w, ck)
	w.Header().Set("Cache-Control", "no-store")
	s.sentValue = value
	s.clear = false
}

func (s *Session) expireCookie(w http.ResponseWriter) {
	if w == nil {
		s.clear = true // for a later Save with a response
		return
	}
	if s.sentValue == "-" {
		return
	}
	ck := s.m.baseCookie()
	ck.MaxAge = -1
	http.SetCookie(w, ck)
	w.Header().Set("Cache-Control", "no-store")
	s.sentValue = "-"
	s.clear = false
}

// current returns the request's live entry, or nil. Callers hold s.mu.
func (s *Session) current() *entry {
	if s.e == nil || s.e.Destroyed() {
		return nil
	}
	return s.e
}

// started returns the request's entry, starting a new session when there
// is none (or it was destroyed). Callers hold s.mu.
func (s *Session) started() *entry {
	if s.e == nil || s.e.Destroyed() {
		// A destroyed session is still committed (destroyed): keep it as
		// the one regenerated from, so that its record goes and a new ID
		// is issued.
		if s.e == nil {
			s.e = newEntry(s.m.now())
			s.e.Client(s.m.proxies.clientIP(s.r), truncateUTF8(s.r.UserAgent(), maxUserAgent))
		} else {
			s.e.Regenerate(s.m.now(), nil)
		}
	}
	return s.e
}

// Format implements fmt.Formatter: a Session prints as its short name
// under every verb.
func (s *Session) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// String returns the session's short, non-secret name, "session(none)"
// when the request has none.
func (s *Session) String() string {
	if s == nil {
		return "session(none)"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e == nil {
		return "session(none)"
	}
	return s.e.ID().String()
}

// LogValue implements slog.LogValuer: the short name.
func (s *Session) LogValue() slog.Value { return slog.StringValue(s.String()) }
