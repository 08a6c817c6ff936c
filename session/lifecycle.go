package session

import (
	"slices"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// ID returns the session's public ID, derived from its store key: it can
// be shown, listed and sent back to Revoke the session. It is never the
// secret the cookie carries. "" when the request has no session.
func (s *Session) ID() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.current(); e != nil {
		return e.publicID()
	}
	return ""
}

// Regenerate gives the session a new ID and keeps the rest: its values, its
// user and the time it began, from which the absolute timeout still
// counts; the record moves when the session is written. A session revoked
// or expired since the request loaded it is not brought back: the write
// fails with ErrExpired.
func (s *Session) Regenerate() error {
	if s == nil {
		return ErrNoMiddleware
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.current(); e != nil {
		e.Rotate()
	}
	return nil // nothing stored yet: it gets a fresh ID anyway
}

// Destroy ends the session: the record is destroyed and the cookie expired
// when the response goes out. Destroying no session does nothing.
func (s *Session) Destroy() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		s.e.Destroy()
	}
}

// Binding is what binds a session to a user: who signed in, with which
// credentials, and for how long the browser keeps the cookie.
type Binding struct {
	// UserID is the user the session belongs to. The session is indexed
	// under it: List, Revoke and RevokeAll find it there.
	UserID string

	// Credential fingerprints the credentials the user signed in with (the
	// auth package derives one from the password hash), so that a session
	// signed in with credentials that have changed since can be told apart
	// and ended. It is stored as it is: never put a secret in it.
	Credential string

	// Remember gives the session a persistent cookie (Lifetime.Remember)
	// instead of one that lasts as long as the browser session.
	Remember bool

	// TrustDevice gives the browser a device cookie for the user (see
	// Session.Device) along with the session's.
	TrustDevice bool

	// Factors are the factors the sign-in proved (FactorPassword, ...),
	// recorded with the time: Session.Proofs, and the sessions list, show
	// them.
	Factors []string
}

// Bind signs the session in as b.UserID (Passport's req.logIn after
// req.session.regenerate): the session gets a new ID and a fresh start,
// keeping only the values of Config.KeepOnRegenerate, so that a session ID
// planted before the sign-in is worthless after it. It records the user,
// the credential fingerprint, the time, the client's address and user
// agent. The record is written, and the cookie set, when the response goes
// out or at Save: with Config.MaxSessionsPerUser that write ends the user's
// oldest sessions, or fails with sessionstore.ErrTooManySessions. It
// refuses with ErrHTTPSRequired a request whose response cannot carry the
// cookie.
func (s *Session) Bind(b Binding) error {
	if s == nil {
		return ErrNoMiddleware
	}
	if err := s.CheckTransport(); err != nil {
		return err
	}
	m := s.m
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.started()
	e.Regenerate(m.now(), func(name string) bool { return slices.Contains(m.keep, name) })
	_ = e.SetUser(b.UserID, b.Credential, b.Remember) // cannot fail: just regenerated
	e.SetAuth(encodeProofs(prove(nil, m.now(), b.Factors...)))
	e.Client(m.proxies.clientIP(s.r), truncateUTF8(s.r.UserAgent(), maxUserAgent))
	s.expired = false
	s.device = ""
	if b.TrustDevice {
		s.device = b.UserID // sent after the session's cookie, once it is stored
	}
	return nil
}

// Bound returns what the session is bound to; ok is false for a request
// without a signed-in session.
func (s *Session) Bound() (b Binding, ok bool) {
	meta, ok := s.meta()
	if !ok || meta.UserID == "" {
		return b, false
	}
	return Binding{UserID: meta.UserID, Credential: meta.Credential, Remember: meta.Persistent}, true
}

// meta returns the metadata of the request's live session; ok is false
// when it has none.
func (s *Session) meta() (m sessionstore.Meta, ok bool) {
	if s == nil {
		return m, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.current()
	if e == nil {
		return m, false
	}
	return e.Meta(), true
}

// Expire ends a signed-in session that may no longer be used (its user is
// gone, or signed in with credentials that have changed): the record is
// destroyed, the cookie expired, and Expired reports true.
func (s *Session) Expire() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		s.e.Destroy()
		s.expired = true
	}
}

// Expired reports whether the request brought a signed-in session that had
// ended (timed out, revoked, or ended by Expire), so that the client can be
// told session_expired rather than unauthenticated.
func (s *Session) Expired() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expired && s.current() == nil
}

// CheckTransport returns ErrHTTPSRequired when the session cookie is Secure
// and the request did not come over HTTPS (directly, or through a trusted
// proxy saying so): a sign-in on it would store a session no browser can
// use.
func (s *Session) CheckTransport() error {
	if s == nil {
		return ErrNoMiddleware
	}
	if s.cookieAllowed() {
		return nil
	}
	return ErrHTTPSRequired
}

// Details describes the request's own session (GET /session-info).
type Details struct {
	LoginTime         time.Time `json:"loginTime"`
	LastActivity      time.Time `json:"lastActivity"`
	IPAddress         string    `json:"ipAddress"`
	UserAgent         string    `json:"userAgent"`
	ExpiresAt         time.Time `json:"expiresAt"`
	AbsoluteExpiresAt time.Time `json:"absoluteExpiresAt"`
	Persistent        bool      `json:"persistent"`
	Factors           []Proof   `json:"factors"`
}

// Details returns when the session began, its last recorded activity (at
// most one touch interval behind), the client that made it, and when it
// expires if idle from now on and at the latest. ok is false without a
// session.
func (s *Session) Details() (d Details, ok bool) {
	m, ok := s.meta()
	if !ok {
		return d, false
	}
	deadline := m.Deadline
	if deadline.IsZero() {
		deadline = s.m.rules.deadline(m.CreatedAt, m.UserID)
	}
	return Details{
		LoginTime:         m.CreatedAt,
		LastActivity:      m.LastActivity,
		IPAddress:         m.IPAddress,
		UserAgent:         m.UserAgent,
		ExpiresAt:         s.m.rules.expiry(m.LastActivity, deadline),
		AbsoluteExpiresAt: deadline,
		Persistent:        m.Persistent,
		Factors:           orEmpty(decodeProofs(m.Auth)),
	}, true
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
