package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

// Config configures an Auth. Store, Users and Secrets are required; every
// other field has a default that follows OWASP's session management advice,
// and the field comments say what express-session or Passport option it
// stands for.
type Config[U models.Authenticatable] struct {
	// Store keeps the sessions (express-session's store).
	Store sessionstore.IndexedStore

	// Users finds and saves users.
	Users models.UserStore[U]

	// Secrets sign the session cookie, newest first (express-session's
	// secret, string or array). Each must be at least 32 bytes. Cookies are
	// issued with the first and accepted with any, so secrets rotate
	// without logging anybody out.
	Secrets [][]byte

	// Cookie holds the cookie's name and attributes (express-session's name
	// and cookie.*).
	Cookie Cookie

	// IdleTimeout ends a session after this long without activity. Default
	// 30 minutes (or AbsoluteTimeout, when that is shorter).
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after login, however active.
	// Default 24 hours.
	AbsoluteTimeout time.Duration

	// TouchInterval is how often a request that changes nothing refreshes the
	// session's last activity and expiry in the store (express-session's
	// touch; connect-mongo's touchAfter). A read-only request inside it
	// writes nothing. Default one minute; it must be shorter than
	// IdleTimeout, and idle expiry is accurate to within it.
	TouchInterval time.Duration

	// Rolling sends the cookie again on every response that has a session
	// (express-session's rolling). Expiry slides either way.
	Rolling bool

	// SaveUninitialized stores a new session, and sends its cookie, even
	// when nothing was put in it (express-session's saveUninitialized).
	// Default false.
	SaveUninitialized bool

	// KeepOnRegenerate lists the values that survive the regeneration of a
	// session at login and password change (a shopping cart, say). Default:
	// none, as express-session's regenerate keeps nothing.
	KeepOnRegenerate []string

	// AnonymousTimeout ends a session that has no signed-in user this long
	// after it began (when the application stores values for an anonymous
	// visitor). Anonymous clients can make such sessions at will, so they
	// are short-lived. Default one hour (or AbsoluteTimeout, when that is
	// shorter).
	AnonymousTimeout time.Duration

	// BcryptCost is the cost of new password hashes. Default 12. Hashes of
	// another cost are re-hashed at the next successful login. Costs below
	// 10 are refused unless AllowLowBcryptCost is set.
	BcryptCost int

	// AllowLowBcryptCost permits BcryptCost below 10. For tests only.
	AllowLowBcryptCost bool

	// MinPasswordLength is the shortest password accepted at registration
	// and change, in characters. Default 8; lower is refused.
	MinPasswordLength int

	// UserCacheSize and UserCacheTTL size the cache of users that requests
	// resolve their user from (Passport's deserializeUser with an LRU
	// cache). Defaults 500 and 5 minutes. A negative size disables the
	// cache: every authenticated request then queries the user store.
	UserCacheSize int
	UserCacheTTL  time.Duration

	// UserInvalidation, when set, carries InvalidateUser to every instance
	// of the application (redisauth.NewUserInvalidation over Redis pub/sub,
	// sqlauth.NewUserInvalidation over PostgreSQL LISTEN/NOTIFY), so that a user changed
	// or deleted on one instance is dropped from every cache. Without it
	// InvalidateUser reaches this process only, and other instances notice
	// when their entry expires (UserCacheTTL). Call Close to stop listening.
	UserInvalidation UserInvalidation

	// LoginPath is where browsers are sent to sign in. Default "/login".
	LoginPath string

	// Throttle limits failed logins per username and per client IP, with
	// exponential backoff. The zero value throttles with the defaults, in
	// memory; see Throttle.
	Throttle Throttle

	// MaxConcurrentHashes bounds how many bcrypt computations run at once,
	// so that a flood of logins cannot starve the other requests. Default
	// half of GOMAXPROCS (at least 1): with every core hashing, signed-in
	// requests wait for the scheduler behind bcrypt; with half, they keep
	// the other half (BenchmarkMeUnderLoginFlood in the handlers package
	// measures both; the README gives the figures). Set it to GOMAXPROCS
	// for the most logins per second when nothing else shares the
	// machine. A login that finds no slot within HashQueueTimeout (default
	// 2s) answers 503 busy with Retry-After.
	MaxConcurrentHashes int
	HashQueueTimeout    time.Duration

	// TrustedOrigins are other origins ("https://app.example.com") allowed
	// to send unsafe cross-origin requests to the prebuilt routes and to
	// middleware.CrossOrigin. Default none: same-origin requests and
	// non-browser clients only.
	TrustedOrigins []string

	// OnEvent, when set, is called with every account event (login success
	// and failure, lockout, logout, logout-all, password change, register,
	// session revoked), for audit logs. It is called synchronously on the
	// request's goroutine: keep it quick, or hand off.
	OnEvent func(Event)

	// Metrics, when set, receives what the flow measures inside: bcrypt
	// slots and the user cache (the metrics package feeds Prometheus from
	// it).
	Metrics Metrics

	// TrustedProxies lists the proxies (IP addresses or CIDR ranges) whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed (express's
	// "trust proxy"). TrustUnixSocket ("unix") trusts a peer on a Unix
	// socket, as a reverse proxy that reaches the application through one.
	// Default none: the client is the TCP peer. A peer that is not an IP
	// address and not trusted has no known address: its requests are not
	// throttled per address (rather than pooled with everybody's).
	TrustedProxies []string

	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Logger receives warnings and, at debug level, one line per session
	// operation naming sessions by a short hash, never by ID. Default
	// slog.Default().
	Logger *slog.Logger
}

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
	// the prefix (Secure, Path "/", no Domain), so a Secure cookie is
	// "__Host-sid" unless the application opts out with HostPrefixOff.
	// Browsers accept a __Host- cookie only from the host itself, so no
	// other site of the parent domain can plant one beside it.
	HostPrefix HostPrefix

	// Path and Domain scope the cookie. Default Path "/", no Domain.
	Path   string
	Domain string

	// MaxAge is the lifetime of a "remember me" cookie (a persistent one).
	// Default AbsoluteTimeout. Without remember-me the cookie is a browser
	// session cookie. Either way the server's timeouts apply.
	MaxAge time.Duration

	// Secure sends the cookie over HTTPS only. Set it in production. A
	// request that did not arrive over HTTPS (directly, or through a trusted
	// proxy saying so) then gets no cookie, and one warning is logged.
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

	// HostPrefixOff never prefixes the name, for a client that expects
	// the bare name. Any site of the parent domain can then set a cookie
	// of that name for this host; a request carrying two sessions'
	// cookies has no session, so such a cookie signs the browser out
	// rather than in as somebody else, but it signs it out for as long as
	// it stays.
	HostPrefixOff
)

// ErrConfig is wrapped by every error New returns for a configuration that
// cannot be safe. Such an error prints on one line: "auth: unsafe
// configuration: " and what is wrong.
var ErrConfig = errors.New("auth: unsafe configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// withDefaults fills in defaults and refuses what cannot be safe.
func (cfg Config[U]) withDefaults() (Config[U], error) {
	if cfg.Store == nil {
		return cfg, configErr("no session store")
	}
	if cfg.Users == nil {
		return cfg, configErr("no user store")
	}
	p := cfg.policy().WithDefaults() // the one definition of the defaults
	cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.TouchInterval, cfg.AnonymousTimeout =
		p.IdleTimeout, p.AbsoluteTimeout, p.TouchInterval, p.AnonymousTimeout
	if err := p.Validate(); err != nil {
		return cfg, configErr("%v", err)
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 12
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return cfg, configErr("BcryptCost %d is outside %d..%d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cfg.BcryptCost < 10 && !cfg.AllowLowBcryptCost {
		return cfg, configErr("BcryptCost %d is below 10; set AllowLowBcryptCost for tests", cfg.BcryptCost)
	}
	if cfg.MinPasswordLength == 0 {
		cfg.MinPasswordLength = 8
	}
	if cfg.MinPasswordLength < 8 {
		return cfg, configErr("MinPasswordLength %d is below 8", cfg.MinPasswordLength)
	}
	if cfg.UserCacheSize == 0 {
		cfg.UserCacheSize = 500
	}
	if cfg.UserCacheTTL <= 0 {
		cfg.UserCacheTTL = 5 * time.Minute
	}
	if cfg.MaxConcurrentHashes == 0 {
		cfg.MaxConcurrentHashes = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if cfg.MaxConcurrentHashes < 0 {
		return cfg, configErr("MaxConcurrentHashes must be positive")
	}
	if cfg.HashQueueTimeout <= 0 {
		cfg.HashQueueTimeout = 2 * time.Second
	}
	if !cfg.Throttle.Disabled {
		cfg.Throttle = cfg.Throttle.withDefaults()
		if !cfg.Throttle.PerAccount.valid() || !cfg.Throttle.PerIP.valid() {
			return cfg, configErr("throttle rules need positive Failures, Window and BaseDelay (or set Disabled)")
		}
		if !cfg.Throttle.Registrations.valid() {
			return cfg, configErr("throttle rules need positive Failures, Window and BaseDelay (or set Disabled)")
		}
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	c := &cfg.Cookie
	if c.Name == "" {
		c.Name = "sid"
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.MaxAge == 0 {
		c.MaxAge = cfg.AbsoluteTimeout
	}
	if c.MaxAge < 0 {
		return cfg, configErr("Cookie.MaxAge must be positive")
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.SameSite == http.SameSiteNoneMode && !c.Secure {
		return cfg, configErr("SameSite=None cookies must be Secure")
	}
	if c.Partitioned && !c.Secure {
		return cfg, configErr("Partitioned cookies must be Secure")
	}
	switch c.HostPrefix {
	case HostPrefixAuto, HostPrefixOff:
	case HostPrefixRequired:
		if !c.hostPrefixable() {
			return cfg, configErr("__Host- cookies must be Secure, with Path \"/\" and no Domain")
		}
	default:
		return cfg, configErr("Cookie.HostPrefix %d is not one of HostPrefixAuto, HostPrefixRequired, HostPrefixOff", c.HostPrefix)
	}
	if hasPrefixFold(c.Name, "__Host-") {
		return cfg, configErr("cookie name %q: set Cookie.HostPrefix rather than spelling the prefix", c.Name)
	}
	if hasPrefixFold(c.Name, "__Secure-") && !c.Secure {
		return cfg, configErr("cookie name %q: __Secure- cookies must be Secure", c.Name)
	}
	if err := (&http.Cookie{Name: c.wireName()}).Valid(); err != nil {
		return cfg, configErr("cookie name %q is not a valid token", c.Name)
	}
	return cfg, nil
}

// policy is the lifetime of sessions that cfg asks for.
func (cfg Config[U]) policy() session.Policy {
	return session.Policy{
		IdleTimeout:       cfg.IdleTimeout,
		AbsoluteTimeout:   cfg.AbsoluteTimeout,
		TouchInterval:     cfg.TouchInterval,
		SaveUninitialized: cfg.SaveUninitialized,
		AnonymousTimeout:  cfg.AnonymousTimeout,
	}
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
