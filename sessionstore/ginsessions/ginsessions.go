// Package ginsessions turns any ginauth session store into a
// github.com/gin-contrib/sessions store, so that an application written for
// sessions.Sessions and sessions.Default keeps its code while gaining
// server-side sessions: revocable, listable per user, with idle and
// absolute timeouts.
//
//	gs, err := ginsessions.NewStore(store, ginsessions.Options{Secrets: secrets})
//	r.Use(sessions.Sessions("sid", gs))
//
// At login, call Regenerate before setting the user.
package ginsessions

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"

	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// Options configures a Store. Secrets is required; every other field has a
// default that follows OWASP's session management advice.
type Options struct {
	// Secrets sign the session cookie, newest first. Each must be at least
	// 32 bytes. Cookies are issued with the first and accepted with any, so
	// secrets rotate without logging anybody out.
	Secrets [][]byte

	// Cookie holds the cookie attributes. Zero fields get safe defaults:
	// Path "/", SameSite Lax, and HttpOnly is always set (no script needs a
	// session cookie). MaxAge 0 is a browser-session cookie.
	Cookie sessions.Options

	// IdleTimeout ends a session after this long without activity (default
	// 30 minutes), AbsoluteTimeout this long after it began (default 24
	// hours). TouchInterval is how often a request that changes nothing
	// refreshes its expiry (default one minute).
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	TouchInterval   time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Logger receives corrupt-record and touch-failure notes. Default
	// slog.Default().
	Logger *slog.Logger
}

// Store adapts a ginauth session store to github.com/gin-contrib/sessions
// (and so to gorilla/sessions): use it with sessions.Sessions and
// sessions.Default as any other gin-contrib store. The cookie carries only
// the signed ID; values live in the store.
//
// Differences from cookie-backed stores, all deliberate: values are JSON, so
// types other than strings, bools, float64, []any and map[string]any must be
// registered (Register) or Save fails; Session.ID() returns the session's
// handle, never the secret ID; a request that only reads refreshes the
// session's expiry once per touch interval, without a Save; Options with
// MaxAge < 0 followed by Save destroys the session in the store.
//
// gin-contrib's middleware logs, rather than returns, a load error and goes
// on with an empty session. Store then refuses to Save that session, so a
// store outage never replaces a user's session with an empty one.
type Store struct {
	store  sessionstore.Store
	codec  *session.Codec
	cookie atomic.Pointer[sessions.Options] // Options may be called while requests run
	policy session.Policy
	now    func() time.Time
	log    *slog.Logger
	states ginStates
}

// ErrConfig is wrapped by every error NewStore returns for options that
// cannot be safe.
var ErrConfig = errors.New("ginsessions: unsafe configuration")

// NewStore returns a gin-contrib/sessions Store on store. It refuses, with
// an error wrapping ErrConfig, what cannot be safe: no secret, a secret
// under 32 bytes, SameSite=None without Secure, sessions that never end.
func NewStore(store sessionstore.Store, opts Options) (*Store, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: no session store", ErrConfig)
	}
	codec, err := session.NewCodec(opts.Secrets)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	policy := session.Policy{
		IdleTimeout:     opts.IdleTimeout,
		AbsoluteTimeout: opts.AbsoluteTimeout,
		TouchInterval:   opts.TouchInterval,
	}.WithDefaults()
	policy.AnonymousTimeout = 0 // gin-contrib sessions have no notion of a user
	if err := policy.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if opts.Cookie.SameSite == http.SameSiteNoneMode && !opts.Cookie.Secure {
		return nil, fmt.Errorf("%w: SameSite=None cookies must be Secure", ErrConfig)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Store{store: store, codec: codec, policy: policy, now: opts.Now, log: opts.Logger}
	c := safeCookie(opts.Cookie)
	g.cookie.Store(&c)
	return g, nil
}

func safeCookie(o sessions.Options) sessions.Options {
	if o.Path == "" {
		o.Path = "/"
	}
	if o.SameSite == 0 || o.SameSite == http.SameSiteDefaultMode {
		o.SameSite = http.SameSiteLaxMode
	}
	o.HttpOnly = true
	return o
}

// Options implements sessions.Store: it replaces the cookie attributes of
// sessions created from now on, as gin-contrib's stores do (an empty Path
// sends no Path attribute). HttpOnly stays on, an unset SameSite is Lax, and
// SameSite=None without Secure falls back to Lax with a warning, since this
// method cannot refuse.
func (g *Store) Options(o sessions.Options) {
	if o.SameSite == http.SameSiteNoneMode && !o.Secure {
		g.log.Warn("ginauth: SameSite=None needs Secure; using SameSite=Lax")
		o.SameSite = http.SameSiteLaxMode
	}
	path := o.Path // as in gin-contrib, Options replaces every attribute, Path too
	c := safeCookie(o)
	c.Path = path
	g.cookie.Store(&c)
}

// ginState is what the adapter knows about one gorilla session.
type ginState struct {
	sess   *session.Session // nil until loaded or first saved
	broken error            // the load failed: never save over it
}

// ginStates maps gorilla sessions to their state without keeping them
// alive: entries go when the gorilla session is collected.
type ginStates struct{ m sync.Map }

func (t *ginStates) put(gs *gsessions.Session, st *ginState) {
	wp := weak.Make(gs)
	t.m.Store(wp, st)
	runtime.AddCleanup(gs, func(wp weak.Pointer[gsessions.Session]) { t.m.Delete(wp) }, wp)
}

func (t *ginStates) get(gs *gsessions.Session) *ginState {
	if v, ok := t.m.Load(weak.Make(gs)); ok {
		return v.(*ginState)
	}
	return nil
}

// Get implements gorilla's Store: the session of this request, loaded once.
func (g *Store) Get(r *http.Request, name string) (*gsessions.Session, error) {
	return gsessions.GetRegistry(r).Get(g, name)
}

// New implements gorilla's Store: it loads the session named by the
// request's cookie, or starts a new one. A missing, tampered or unknown
// cookie gives a new session without error, and so do the cookies of two
// sessions under the name (a cookie that does not verify beside a genuine
// one is ignored); an unreachable store gives a new session and an error
// matching ErrUnavailable.
func (g *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	gs := gsessions.NewSession(g, name)
	gs.Options = g.cookie.Load().ToGorillaOptions()
	gs.IsNew = true
	st := &ginState{}
	g.states.put(gs, st)

	// A request carrying the cookies of two sessions (one may have been
	// set for the parent domain by another site of it) gets a new session:
	// whichever came first could be somebody else's. gorilla gives New no
	// response to expire them on; the next Save replaces the one with this
	// store's Path and Domain.
	id, _, _, cookies := g.codec.ReadCookie(r.Header, name)
	if cookies != session.OneSession {
		return gs, nil
	}
	sess, err := session.Load(r.Context(), g.store, id)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		return gs, nil
	case errors.Is(err, sessionstore.ErrCorrupt):
		g.log.Warn("ginauth: unreadable session record; starting a new session", "session", id, "err", err)
		return gs, nil
	case err != nil:
		st.broken = err
		return gs, err
	}
	rec := sess.Record()
	for n, v := range rec.Values {
		x, err := session.Decode(v)
		if err != nil {
			g.log.Warn("ginauth: unreadable session value dropped", "session", id, "value", n, "err", err)
			continue
		}
		gs.Values[n] = x
	}
	gs.ID = sess.Handle()
	gs.IsNew = false
	st.sess = sess
	// Sliding expiration without a Save: refresh once per touch interval.
	if _, err := sess.Commit(r.Context(), g.store, g.now(), g.policy); err != nil {
		g.log.Warn("ginauth: refreshing session expiry failed", "session", id, "err", err)
	}
	return gs, nil
}

// Save implements gorilla's Store: it writes the values that changed and
// sets the cookie. With Options.MaxAge < 0 it destroys the session and
// expires the cookie.
func (g *Store) Save(r *http.Request, w http.ResponseWriter, gs *gsessions.Session) error {
	st := g.states.get(gs)
	if st == nil {
		st = &ginState{}
		g.states.put(gs, st)
	}
	if st.broken != nil {
		return st.broken
	}
	if gs.Options == nil {
		gs.Options = g.cookie.Load().ToGorillaOptions()
	}
	now := g.now()
	if st.sess == nil {
		st.sess = session.New(now)
		st.sess.Client(remoteIP(r), r.UserAgent())
	}
	sess := st.sess
	if gs.Options != nil && gs.Options.MaxAge < 0 {
		sess.Destroy()
		if _, err := sess.Commit(r.Context(), g.store, now, g.policy); err != nil {
			return err
		}
		http.SetCookie(w, gsessions.NewCookie(gs.Name(), "", gs.Options))
		st.sess = nil
		return nil
	}
	seen := make(map[string]bool, len(gs.Values))
	for k, v := range gs.Values {
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("%w: session keys must be strings, not %T", sessionstore.ErrEncode, k)
		}
		enc, err := session.EncodeValue(v)
		if err != nil {
			return fmt.Errorf("session value %q: %w", name, err)
		}
		seen[name] = true
		sess.Set(name, enc)
	}
	for _, name := range sess.Names() {
		if !seen[name] {
			sess.Delete(name)
		}
	}
	p := g.policy
	p.SaveUninitialized = true // an explicit Save stores even an empty session
	if _, err := sess.Commit(r.Context(), g.store, now, p); err != nil {
		if errors.Is(err, sessionstore.ErrNotFound) {
			// Destroyed meanwhile (revoked): never written back.
			http.SetCookie(w, gsessions.NewCookie(gs.Name(), "", &gsessions.Options{Path: gs.Options.Path, Domain: gs.Options.Domain, MaxAge: -1}))
			st.sess = nil
		}
		return err
	}
	http.SetCookie(w, gsessions.NewCookie(gs.Name(), g.codec.Encode(gs.Name(), sess.ID(), 0), gs.Options))
	gs.ID = sess.Handle()
	gs.IsNew = false
	return nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ErrNotRegenerable is returned by Regenerate for a session that neither a
// Store of this package nor ginauth's session middleware keeps.
var ErrNotRegenerable = errors.New("ginsessions: Regenerate needs a session of a ginsessions Store or of ginauth's session middleware")

// Regenerate gives a gin-contrib/sessions session a new ID, keeping its
// values, and destroys the record under the old ID, so that an ID planted
// in the browser before login is worthless after it (session fixation).
// Call it when the user signs in, before Set and Save:
//
//	s := sessions.Default(c)
//	if err := ginsessions.Regenerate(s); err != nil { ... }
//	s.Set("user", id)
//	err := s.Save() // the new ID is stored and sent; the old record is gone
//
// It works on the sessions of a Store and on those of ginauth's session
// middleware (which also keeps the signed-in user); any other session gets
// ErrNotRegenerable. A session that is not stored yet needs nothing: Save
// gives it a fresh ID anyway.
//
// The regenerated session is the same session under a new ID: it keeps the
// time it began, so rotating the ID never extends the absolute timeout. It
// is stored only if the old one still is: if the session was revoked or
// expired since the request loaded it, Save answers an error matching
// sessionstore.ErrNotFound and expires the cookie (under ginauth's
// middleware, the request answers 401 session_expired), rather than bring
// the session back under a new ID.
func Regenerate(s sessions.Session) error {
	switch v := s.(type) {
	case interface{ Regenerate() error }: // ginauth's middleware session
		return v.Regenerate()
	case interface{ Session() *gsessions.Session }: // gin-contrib's session
		gs := v.Session()
		if gs == nil {
			return ErrNotRegenerable
		}
		g, ok := gs.Store().(*Store)
		if !ok {
			return ErrNotRegenerable
		}
		return g.regenerate(gs)
	}
	return ErrNotRegenerable
}

func (g *Store) regenerate(gs *gsessions.Session) error {
	st := g.states.get(gs)
	if st != nil && st.broken != nil {
		return st.broken
	}
	if st == nil || st.sess == nil {
		return nil // new: Save creates it under a fresh ID
	}
	st.sess.Rotate()
	gs.ID = st.sess.Handle()
	return nil
}

// Register records the type of x so that a value of that type stored
// through gin-contrib/sessions' untyped Set comes back from Get with its Go
// type, the way gob.Register does for cookie stores: values are stored as
// JSON. Strings, bools, float64, []any, map[string]any, every number kind,
// time.Time, time.Duration, []byte, and slices and maps of strings,
// numbers and bools need no registration; Save refuses a value of any
// other type that is not registered. Registering a type twice is harmless.
// It applies to ginauth's session middleware (sessions.Default under
// middleware.Session) as well.
func Register(x any) { session.Register(x) }
