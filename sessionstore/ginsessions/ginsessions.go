// Package ginsessions lets an application written for
// github.com/gin-contrib/sessions keep its code on ginauth's session
// manager: sessions.Sessions and sessions.Default work as before, and the
// sessions become server-side, revocable, listable per user, with the
// manager's idle and absolute timeouts, secrets, cookie and trusted
// proxies. It is the only package of ginauth that imports gin-contrib.
//
//	m, err := session.New(session.Config{Store: store, Secrets: secrets})
//	r.Use(sessions.Sessions("sid", ginsessions.NewStore(m)))
//
// At sign-in, call Regenerate before setting the user.
package ginsessions

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"

	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// Store is a gin-contrib/sessions store on a session.Manager: use it with
// sessions.Sessions and sessions.Default as any other gin-contrib store.
// The cookie is the manager's (its name, attributes and secrets), and
// carries only the signed ID; values live in the manager's store.
//
// Differences from cookie-backed stores, all deliberate:
//
//   - values are JSON, so types other than strings, bools, float64, []any
//     and map[string]any must be registered (Register) or Save fails;
//   - the name given to sessions.Sessions does not name a cookie: the
//     sessions of several names (sessions.SessionsMany) are namespaces of
//     the one session of the request ("name.key"), except the manager's
//     cookie name, whose values are stored under their own keys;
//   - Session.ID() returns the session's public ID, never the secret one;
//   - a request that only reads refreshes the session's expiry once per
//     touch interval, without a Save;
//   - Options with MaxAge < 0 followed by Save destroys the session in the
//     store. Other options, set on the store or a session, are the
//     cookie's attributes, as in gin-contrib's stores (HttpOnly is forced
//     on for the store's, and SameSite=None needs Secure); without them
//     the cookie is the manager's. A Domain or a Path other than "/"
//     needs session.HostPrefixOff: a __Host- cookie cannot have them.
//
// gin-contrib's middleware logs, rather than returns, a load error and goes
// on with an empty session. Store then refuses to Save that session, so a
// store outage never replaces a user's session with an empty one.
type Store struct {
	m        *session.Manager
	log      *slog.Logger
	defaults atomic.Pointer[sessions.Options] // Options may be called while requests run
	states   weakMap[gsessions.Session, ginState]
	requests weakMap[http.Request, requestState]
}

// NewStore returns a gin-contrib/sessions store on the manager's sessions.
func NewStore(m *session.Manager) *Store { return &Store{m: m, log: slog.Default()} }

// ginState is what the adapter knows about one gorilla session.
type ginState struct {
	req    *requestState
	plain  *gsessions.Options // the options New gave the session: nobody set any
	loaded map[string]string  // the values as loaded: their JSON, by key
}

// requestState is the manager's session of one request, shared by the
// gorilla sessions of every name.
type requestState struct {
	mu     sync.Mutex
	s      *session.Session
	broken error // the load failed: never save over it
}

// weakMap maps pointers to states without keeping the keys alive: entries
// go when the key is collected.
type weakMap[K, V any] struct{ m sync.Map }

func (t *weakMap[K, V]) put(k *K, v *V) {
	wp := weak.Make(k)
	t.m.Store(wp, v)
	runtime.AddCleanup(k, func(wp weak.Pointer[K]) { t.m.Delete(wp) }, wp)
}

func (t *weakMap[K, V]) get(k *K) *V {
	if v, ok := t.m.Load(weak.Make(k)); ok {
		return v.(*V)
	}
	return nil
}

// Options implements sessions.Store: the cookie attributes of the sessions
// loaded from now on, as gin-contrib's stores do (HttpOnly stays on).
func (g *Store) Options(o sessions.Options) { g.defaults.Store(&o) }

// Get implements gorilla's Store: the session of this request, loaded once.
func (g *Store) Get(r *http.Request, name string) (*gsessions.Session, error) {
	return gsessions.GetRegistry(r).Get(g, name)
}

// request returns the manager's session of r, loading it once for every
// name.
func (g *Store) request(r *http.Request) *requestState {
	if rs := g.requests.get(r); rs != nil {
		return rs
	}
	rs := &requestState{}
	rs.s, rs.broken = g.m.Load(r)
	g.requests.put(r, rs)
	if rs.broken == nil && rs.s.ID() != "" {
		// Sliding expiration without a Save, for a session the request
		// brought (never one it would start: that is the application's
		// Save to make): refresh once per touch interval. There is no
		// response here; a cookie it calls for goes out with the next
		// Save.
		if err := rs.s.Save(nil); err != nil {
			g.log.Warn("ginauth: refreshing session expiry failed", "session", rs.s, "err", err)
		}
	}
	return rs
}

// prefix is where the values of the gin-contrib session name live.
func (g *Store) prefix(name string) string {
	if name == g.m.CookieName() {
		return ""
	}
	return name + "."
}

// New implements gorilla's Store: it loads the request's session, or
// starts a new one. A missing, tampered or unknown cookie gives a new
// session without error; an unreachable store gives a new session and an
// error matching sessionstore.ErrUnavailable, and that session cannot be
// saved.
func (g *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	gs := gsessions.NewSession(g, name)
	gs.IsNew = true
	rs := g.request(r)
	st := &ginState{req: rs, loaded: map[string]string{}}
	if o := g.defaults.Load(); o != nil {
		gs.Options = o.ToGorillaOptions()
		gs.Options.HttpOnly = true // no script needs a session cookie
	} else {
		gs.Options = &gsessions.Options{}
		st.plain = gs.Options
	}
	g.states.put(gs, st)
	if rs.broken != nil {
		return gs, rs.broken
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	prefix := g.prefix(name)
	types := g.types(rs.s)
	for _, n := range rs.s.Names() {
		key, ok := cutPrefix(n, prefix)
		if !ok || n == typesValue {
			continue
		}
		var raw rawJSON
		if _, err := rs.s.Get(n, &raw); err != nil {
			continue
		}
		x, err := decode(raw, types[n])
		if err != nil {
			g.log.Warn("ginauth: unreadable session value dropped", "session", rs.s, "value", n, "err", err)
			continue
		}
		gs.Values[key] = x
		st.loaded[key] = string(raw)
	}
	if id := rs.s.ID(); id != "" {
		gs.ID, gs.IsNew = id, false
	}
	return gs, nil
}

func cutPrefix(s, prefix string) (string, bool) {
	if prefix == "" {
		// The manager's own name: every value but those of other names'
		// namespaces, which hold a dot that a key of this name may hold
		// too; both are read, as gin-contrib would show them.
		return s, true
	}
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// Save implements gorilla's Store: it writes the values that changed and
// sets the cookie. With Options.MaxAge < 0 it destroys the session and
// expires the cookie.
func (g *Store) Save(r *http.Request, w http.ResponseWriter, gs *gsessions.Session) error {
	st := g.states.get(gs)
	if st == nil {
		st = &ginState{req: g.request(r), loaded: map[string]string{}}
		g.states.put(gs, st)
	}
	rs := st.req
	if rs.broken != nil {
		return rs.broken
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	s := rs.s
	o := gs.Options
	if o == st.plain {
		o = nil // the manager's cookie, as it is
	}
	if gs.Options != nil && gs.Options.MaxAge < 0 {
		s.Destroy()
		return save(s, w, o)
	}
	prefix := g.prefix(gs.Name())
	types := g.types(s)
	changedTypes := false
	seen := make(map[string]bool, len(gs.Values))
	for k, v := range gs.Values {
		key, ok := k.(string)
		if !ok {
			return fmt.Errorf("%w: session keys must be strings, not %T", sessionstore.ErrEncode, k)
		}
		seen[key] = true
		raw, typ, err := encode(v)
		if err != nil {
			return fmt.Errorf("session value %q: %w", key, err)
		}
		if old, ok := st.loaded[key]; ok && old == string(raw) && types[prefix+key] == typ {
			continue
		}
		if err := s.Set(prefix+key, raw); err != nil {
			return err
		}
		st.loaded[key] = string(raw)
		if types[prefix+key] != typ {
			if typ == "" {
				delete(types, prefix+key)
			} else {
				types[prefix+key] = typ
			}
			changedTypes = true
		}
	}
	for key := range st.loaded {
		if !seen[key] {
			s.Delete(prefix + key)
			delete(st.loaded, key)
			if _, ok := types[prefix+key]; ok {
				delete(types, prefix+key)
				changedTypes = true
			}
		}
	}
	if changedTypes {
		if len(types) == 0 {
			s.Delete(typesValue)
		} else if err := s.Set(typesValue, types); err != nil {
			return err
		}
	}
	if s.ID() == "" && len(seen) == 0 {
		// An explicit Save stores even an empty session, as cookie
		// stores do.
		if err := s.Set(typesValue, map[string]string{}); err != nil {
			return err
		}
	}
	if err := save(s, w, o); err != nil {
		return err
	}
	gs.ID, gs.IsNew = s.ID(), false
	return nil
}

// types returns the Go types of the values that need one (see Register),
// by stored name.
func (g *Store) types(s *session.Session) map[string]string {
	types := map[string]string{}
	if _, err := s.Get(typesValue, &types); err != nil {
		g.log.Warn("ginauth: unreadable type names of session values", "session", s, "err", err)
	}
	return types
}

// ErrNotRegenerable is returned by Regenerate for a session that no Store
// of this package keeps.
var ErrNotRegenerable = errors.New("ginsessions: Regenerate needs a session of a ginsessions Store")

// Regenerate gives a gin-contrib/sessions session a new ID, keeping its
// values, and destroys the record under the old ID when the session is
// saved, so that an ID planted in the browser before sign-in is worthless
// after it (session fixation). Call it when the user signs in, before Set
// and Save:
//
//	s := sessions.Default(c)
//	if err := ginsessions.Regenerate(s); err != nil { ... }
//	s.Set("user", id)
//	err := s.Save() // the new ID is stored and sent; the old record is gone
//
// A session that is not stored yet needs nothing: Save gives it a fresh ID
// anyway. The regenerated session keeps the time it began, so rotating the
// ID never extends the absolute timeout; if it was revoked or expired since
// the request loaded it, Save answers an error matching session.ErrExpired
// and expires the cookie, rather than bring it back under a new ID.
func Regenerate(s sessions.Session) error {
	v, ok := s.(interface{ Session() *gsessions.Session })
	if !ok {
		return ErrNotRegenerable
	}
	gs := v.Session()
	if gs == nil {
		return ErrNotRegenerable
	}
	g, ok := gs.Store().(*Store)
	if !ok {
		return ErrNotRegenerable
	}
	st := g.states.get(gs)
	if st == nil {
		return nil // new: Save creates it under a fresh ID
	}
	if st.req.broken != nil {
		return st.req.broken
	}
	return st.req.s.Regenerate()
}

// save writes the session; when the application set gin-contrib options
// (o non-nil), they are the cookie's attributes, as in gin-contrib's
// stores, except that SameSite=None needs Secure.
func save(s *session.Session, w http.ResponseWriter, o *gsessions.Options) error {
	if o == nil {
		return s.Save(w)
	}
	c := capture{}
	err := s.Save(&c)
	for k, vs := range c.h {
		if k != "Set-Cookie" {
			w.Header()[k] = vs
			continue
		}
		for _, v := range vs {
			if ck, perr := http.ParseSetCookie(v); perr == nil {
				ck.Path, ck.Domain, ck.Secure, ck.HttpOnly, ck.Partitioned = o.Path, o.Domain, o.Secure, o.HttpOnly, o.Partitioned
				ck.SameSite = o.SameSite
				if ck.SameSite == http.SameSiteNoneMode && !ck.Secure {
					ck.SameSite = http.SameSiteLaxMode
				}
				if ck.MaxAge >= 0 {
					ck.MaxAge = max(o.MaxAge, 0)
				}
				v = ck.String()
			}
			w.Header().Add("Set-Cookie", v)
		}
	}
	return err
}

// capture is a ResponseWriter that keeps the headers set on it.
type capture struct{ h http.Header }

func (c *capture) Header() http.Header {
	if c.h == nil {
		c.h = http.Header{}
	}
	return c.h
}
func (c *capture) Write(b []byte) (int, error) { return len(b), nil }
func (c *capture) WriteHeader(int)             {}
