package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/sessionstore"
)

// Config configures a Manager. Store and Secrets are required; every other
// field has a default that follows OWASP's session management advice, and
// the comments say which express-session option a field stands for.
type Config struct {
	// Store keeps the sessions (express-session's store). Every store of
	// ginauth keeps a per-user index, which List, Revoke, RevokeAll and
	// MaxSessionsPerUser need.
	Store sessionstore.IndexedStore

	// Secrets sign the session cookie, newest first (express-session's
	// secret, string or array). Each must be at least MinSecretSize bytes.
	// Cookies are issued with the first and accepted with any, so secrets
	// rotate without signing anybody out.
	Secrets [][]byte

	// Cookie holds the cookie's name and attributes (express-session's name
	// and cookie.*).
	Cookie Cookie

	// Lifetime says how long sessions live. The zero value is OWASP's
	// advice: 30 minutes idle, 24 hours at most, an hour for anonymous
	// sessions.
	Lifetime Lifetime

	// Rolling sends the cookie again on every response that has a session
	// (express-session's rolling). Expiry slides either way.
	Rolling bool

	// SaveUninitialized stores a new session, and sends its cookie, even
	// when nothing was put in it (express-session's saveUninitialized).
	// Default false: an anonymous visitor who stores nothing gets neither a
	// record nor a cookie.
	SaveUninitialized bool

	// KeepOnRegenerate lists the values that survive a sign-in (Bind),
	// which gives the session a fresh start: a shopping cart, say. Default
	// none, as express-session's regenerate keeps nothing.
	KeepOnRegenerate []string

	// MaxSessionsPerUser caps the live sessions of one user (ASVS 7.1.2).
	// Zero, the default, means no limit. A sign-in over the limit ends the
	// user's oldest sessions, or, with OverLimit Refuse, is refused with
	// ErrTooManySessions. The store enforces it atomically: parallel
	// sign-ins of one user never leave more than the limit alive.
	MaxSessionsPerUser int
	OverLimit          OverLimit

	// TrustedProxies lists the proxies (IP addresses or CIDR ranges) whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed (express's
	// "trust proxy"). TrustUnixSocket ("unix") trusts a peer on a Unix
	// socket. Default none: the client is the TCP peer.
	TrustedProxies []string

	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Logger receives warnings and, at debug level, one line per session
	// operation naming sessions by a short hash, never by ID. Default
	// slog.Default().
	Logger *slog.Logger
}

// OverLimit says what a sign-in over Config.MaxSessionsPerUser does.
type OverLimit uint8

const (
	// EndOldest (the zero value) ends the user's oldest sessions to make
	// room, as Spring's maximumSessions does by default.
	EndOldest OverLimit = iota
	// Refuse refuses the new sign-in with ErrTooManySessions until the user
	// signs out elsewhere (or a session expires).
	Refuse
)

// Cookie is the session cookie's name and attributes. HttpOnly is always
// set: no script needs the session cookie.
type Cookie struct {
	// Name of the cookie. Default "sid". It is sent as "__Host-" + Name
	// when HostPrefix says so; a name beginning "__Secure-" (for a cookie
	// with a Domain, say) must be Secure and gets no other prefix under
	// HostPrefixAuto.
	Name string

	// HostPrefix says whether the name on the wire is "__Host-" + Name. The
	// zero value, HostPrefixAuto, prefixes it whenever the cookie can carry
	// the prefix (Secure, Path "/", no Domain). Browsers accept a __Host-
	// cookie only from the host itself, so no other site of the parent
	// domain can plant one beside it.
	HostPrefix HostPrefix

	// Path and Domain scope the cookie. Default Path "/", no Domain.
	Path   string
	Domain string

	// Secure sends the cookie over HTTPS only. Set it in production. A
	// request that did not arrive over HTTPS (directly, or through a trusted
	// proxy saying so) then gets no cookie, one warning is logged, and
	// Bind refuses with ErrHTTPSRequired.
	Secure bool

	// SameSite defaults to Lax. None requires Secure.
	SameSite http.SameSite

	// Partitioned asks for CHIPS partitioned storage. It requires Secure.
	Partitioned bool
}

// HostPrefix chooses whether the session cookie's name carries the
// "__Host-" prefix. Its zero value, HostPrefixAuto, is the safe choice.
type HostPrefix uint8

const (
	// HostPrefixAuto (the zero value) prefixes the name whenever the cookie
	// is Secure, with Path "/" and no Domain, and leaves it alone otherwise
	// (a development server on plain HTTP keeps "sid").
	HostPrefixAuto HostPrefix = iota

	// HostPrefixRequired always prefixes the name: New refuses a cookie
	// that is not Secure, has a Domain or a Path other than "/".
	HostPrefixRequired

	// HostPrefixOff never prefixes the name, for a client that expects the
	// bare name. Any site of the parent domain can then set a cookie of
	// that name for this host; a request carrying two sessions' cookies has
	// no session, so such a cookie signs the browser out rather than in as
	// somebody else, but it signs it out for as long as it stays.
	HostPrefixOff
)

// ErrConfig is wrapped by every error New returns for a configuration that
// cannot be safe. Such an error prints on one line: "session: unsafe
// configuration: " and what is wrong.
var ErrConfig = errors.New("session: unsafe configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// Manager keeps the sessions of one application: it owns the cookie, the
// lifetime of sessions and their store. Create it once with New; it is safe
// for concurrent use.
type Manager struct {
	store      sessionstore.IndexedStore
	codec      *codec
	rules      rules
	cookie     Cookie
	cookieName string // on the wire: Cookie.Name, __Host- prefixed or not
	rolling    bool
	keep       []string
	proxies    proxies
	deviceKeys [][]byte // see device.go
	now        func() time.Time
	log        *slog.Logger

	insecureWarning sync.Once // the Secure-cookie-over-HTTP warning
}

// New checks cfg and returns a Manager. It refuses, with an error wrapping
// ErrConfig, any configuration that cannot be safe: no secret, a secret
// under MinSecretSize bytes, SameSite=None or Partitioned without Secure,
// sessions that never end.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, configErr("no session store")
	}
	c, err := newCodec(cfg.Secrets)
	if err != nil {
		return nil, configErr("%v", err)
	}
	px, err := parseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, configErr("%v", err)
	}
	lt := cfg.Lifetime.withDefaults()
	if err := lt.validate(); err != nil {
		return nil, configErr("%v", err)
	}
	ck, err := cfg.Cookie.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.MaxSessionsPerUser < 0 {
		return nil, configErr("MaxSessionsPerUser must not be negative")
	}
	if cfg.OverLimit > Refuse {
		return nil, configErr("OverLimit %d is not EndOldest or Refuse", cfg.OverLimit)
	}
	if _, ok := cfg.Store.(sessionstore.Limiter); cfg.MaxSessionsPerUser > 0 && !ok {
		return nil, configErr("MaxSessionsPerUser needs a store that limits sessions atomically (sessionstore.Limiter); %T is not one", cfg.Store)
	}
	m := &Manager{
		store: cfg.Store,
		codec: c,
		rules: rules{
			Lifetime:  lt,
			saveEmpty: cfg.SaveUninitialized,
			limit:     sessionstore.Limit{Max: cfg.MaxSessionsPerUser, EndOldest: cfg.OverLimit == EndOldest},
		},
		cookie:     ck,
		cookieName: ck.wireName(),
		rolling:    cfg.Rolling,
		keep:       slices.Clone(cfg.KeepOnRegenerate),
		proxies:    px,
		deviceKeys: deviceKeys(cfg.Secrets),
		now:        cfg.Now,
		log:        cfg.Logger,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// withDefaults fills in the cookie's defaults and refuses what cannot be
// safe.
func (c Cookie) withDefaults() (Cookie, error) {
	if c.Name == "" {
		c.Name = "sid"
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.SameSite == http.SameSiteNoneMode && !c.Secure {
		return c, configErr("SameSite=None cookies must be Secure")
	}
	if c.Partitioned && !c.Secure {
		return c, configErr("Partitioned cookies must be Secure")
	}
	switch c.HostPrefix {
	case HostPrefixAuto, HostPrefixOff:
	case HostPrefixRequired:
		if !c.hostPrefixable() {
			return c, configErr("__Host- cookies must be Secure, with Path \"/\" and no Domain")
		}
	default:
		return c, configErr("Cookie.HostPrefix %d is not one of HostPrefixAuto, HostPrefixRequired, HostPrefixOff", c.HostPrefix)
	}
	if hasPrefixFold(c.Name, "__Host-") {
		return c, configErr("cookie name %q: set Cookie.HostPrefix rather than spelling the prefix", c.Name)
	}
	if hasPrefixFold(c.Name, "__Secure-") && !c.Secure {
		return c, configErr("cookie name %q: __Secure- cookies must be Secure", c.Name)
	}
	if err := (&http.Cookie{Name: c.wireName()}).Valid(); err != nil {
		return c, configErr("cookie name %q is not a valid token", c.Name)
	}
	return c, nil
}

// hostPrefixable reports whether browsers accept the cookie under a
// "__Host-" name.
func (c Cookie) hostPrefixable() bool { return c.Secure && c.Path == "/" && c.Domain == "" }

// wireName is the cookie's name on the wire (after withDefaults): Name,
// with the __Host- prefix when HostPrefix asks for it.
func (c Cookie) wireName() string {
	if c.HostPrefix == HostPrefixRequired ||
		c.HostPrefix == HostPrefixAuto && c.hostPrefixable() && !hasPrefixFold(c.Name, "__Secure-") {
		return "__Host-" + c.Name
	}
	return c.Name
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case,
// as browsers compare cookie name prefixes.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// CookieName returns the session cookie's name on the wire: Cookie.Name,
// with the __Host- prefix when it carries one.
func (m *Manager) CookieName() string { return m.cookieName }

// Lifetime returns the lifetime of sessions, defaults filled in.
func (m *Manager) Lifetime() Lifetime { return m.rules.Lifetime }

// ClientIP returns the address of the request's client as the session
// records it: the TCP peer, or, when the peer is one of
// Config.TrustedProxies, the first untrusted address of X-Forwarded-For
// read from the right. It is "" when no address can be known (a peer on a
// Unix socket that is not trusted).
func (m *Manager) ClientIP(r *http.Request) string { return m.proxies.clientIP(r) }

// Middleware loads each request's session and commits it automatically
// before the response headers go out: handlers never call Save. Loading
// is one store round trip; a missing, tampered or unknown cookie is no
// session, and a timed-out session is destroyed and reported by Expired. A
// read-only request inside the touch interval writes nothing.
//
// A store that fails while loading answers 503 store_unavailable (never
// signing the user out); a commit that fails replaces the handler's
// response with 503 store_unavailable, or 401 session_expired when the
// session was ended meanwhile (a sign-out elsewhere). Installing it twice
// (globally and on a group) is harmless: the outer one does the work.
func (m *Manager) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if From(c) != nil {
			c.Next()
			return
		}
		st, err := m.begin(c)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Next()
		st.finish(c)
	}
}
