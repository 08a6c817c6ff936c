package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

// Auth is the login flow of one application for users of type U (for
// example *models.User, or a pointer to your type that embeds models.User).
// Create it once with New; it is safe for concurrent use.
type Auth[U models.Authenticatable] struct {
	*core
	users models.UserStore[U]
	cache *userCache[U] // nil when disabled

	bus       UserInvalidation
	stopBus   context.CancelFunc
	busDone   chan struct{}
	closeOnce sync.Once
}

// core is the part of Auth that does not depend on the user type; the
// request state points to it.
type core struct {
	cfg     coreConfig
	store   sessionstore.IndexedStore
	codec   *session.Codec
	policy  session.Policy
	proxies proxies
	hasher  *hasher
	gate    *gate
	keep    func(string) bool
	now     func() time.Time
	log     *slog.Logger

	throttle Throttle
	metrics  Metrics
	cop      *http.CrossOriginProtection
	onEvent  func(Event)

	deviceKeys [][]byte // see device.go

	insecureWarning sync.Once    // the Secure-cookie-over-HTTP warning
	fullWarned      atomic.Int64 // when the throttle-full warning was last logged, Unix ms
}

// coreConfig is the part of Config the core reads.
type coreConfig struct {
	cookie            Cookie
	cookieName        string // on the wire: Cookie.Name, __Host- prefixed or not
	rolling           bool
	saveUninitialized bool
	loginPath         string
	minPassword       int
	idle, absolute    time.Duration
	anonymous         time.Duration
}

// New checks cfg and returns an Auth. It refuses, with an error wrapping
// ErrConfig, any configuration that cannot be safe: no secret, a secret
// under 32 bytes, SameSite=None without Secure, sessions that never end,
// weak bcrypt costs.
func New[U models.Authenticatable](cfg Config[U]) (*Auth[U], error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	codec, err := session.NewCodec(cfg.Secrets)
	if err != nil {
		return nil, configErr("%v", err)
	}
	px, err := parseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, configErr("%v", err)
	}
	policy := cfg.policy()
	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, configErr("trusted origin: %v", err)
		}
	}
	keep := slices.Clone(cfg.KeepOnRegenerate)
	g := newGate(cfg.MaxConcurrentHashes, cfg.HashQueueTimeout, cfg.Metrics)
	a := &Auth[U]{
		core: &core{
			cfg: coreConfig{
				cookie:            cfg.Cookie,
				cookieName:        cfg.Cookie.wireName(),
				rolling:           cfg.Rolling,
				saveUninitialized: cfg.SaveUninitialized,
				loginPath:         cfg.LoginPath,
				minPassword:       cfg.MinPasswordLength,
				idle:              cfg.IdleTimeout,
				absolute:          cfg.AbsoluteTimeout,
				anonymous:         cfg.AnonymousTimeout,
			},
			store:      cfg.Store,
			codec:      codec,
			policy:     policy,
			proxies:    px,
			hasher:     newHasher(cfg.BcryptCost),
			gate:       g,
			deviceKeys: deviceKeys(cfg.Secrets),
			metrics:    cfg.Metrics,
			keep:       func(name string) bool { return slices.Contains(keep, name) },
			now:        cfg.Now,
			log:        cfg.Logger,
			throttle:   cfg.Throttle,
			cop:        cop,
			onEvent:    cfg.OnEvent,
		},
		users: cfg.Users,
	}
	if cfg.UserCacheSize > 0 {
		a.cache = newUserCache[U](cfg.UserCacheSize, cfg.UserCacheTTL, cfg.Now)
	}
	if cfg.UserInvalidation != nil && a.cache != nil {
		a.listen(cfg.UserInvalidation)
	}
	return a, nil
}

// listen drops the users that other instances invalidate, until Close.
func (a *Auth[U]) listen(bus UserInvalidation) {
	ctx, cancel := context.WithCancel(context.Background())
	a.bus, a.stopBus, a.busDone = bus, cancel, make(chan struct{})
	go func() {
		defer close(a.busDone)
		m, _ := a.metrics.(InvalidationMetrics)
		link := linkState{log: a.log, metrics: m}
		for ctx.Err() == nil {
			var err error
			if r, ok := bus.(ReportingInvalidation); ok {
				err = r.SubscribeWithState(ctx, a.cache.remove, func(listening bool, err error) {
					if ctx.Err() == nil { // not the subscription's end at Close
						link.report(listening, err)
					}
				})
			} else {
				err = bus.Subscribe(ctx, a.cache.remove)
			}
			if err != nil && ctx.Err() == nil {
				link.failed()
				a.log.Warn("ginauth: user invalidation subscription failed; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
}

// Close stops listening for user invalidations (Config.UserInvalidation).
// The stores are the caller's to close. Close is idempotent.
func (a *Auth[U]) Close() error {
	a.closeOnce.Do(func() {
		if a.stopBus != nil {
			a.stopBus()
			<-a.busDone
		}
	})
	return nil
}

// CrossOriginProtection returns the protection against cross-origin
// requests that the prebuilt routes use, with Config.TrustedOrigins; give it
// to middleware.CrossOrigin for the application's own routes.
func (a *Auth[U]) CrossOriginProtection() *http.CrossOriginProtection { return a.cop }

// LoginPath is where browsers are sent to sign in (Config.LoginPath).
func (a *Auth[U]) LoginPath() string { return a.cfg.loginPath }

// Logger is where ginauth logs (Config.Logger); the middleware logs there
// too.
func (a *Auth[U]) Logger() *slog.Logger { return a.log }

// user returns the user with the ID and the fingerprint of its credentials,
// from the cache when it holds it: no user store query on a hit.
func (a *Auth[U]) user(ctx context.Context, id string) (U, string, error) {
	var epoch uint64
	if a.cache != nil {
		e, ok := a.cache.get(id)
		a.metrics.UserCacheLookup(ok)
		if ok {
			return e.user, e.credential, nil
		}
		epoch = a.cache.begin()
	}
	u, err := a.users.FindByID(ctx, id)
	if err != nil {
		var zero U
		if !errors.Is(err, models.ErrUserNotFound) {
			err = errors.Join(sessionstore.ErrUnavailable, err)
		}
		return zero, "", err
	}
	cred := credentialOf(u.AuthPasswordHash())
	if a.cache != nil {
		a.cache.addIf(id, u, cred, epoch)
	}
	return u, cred, nil
}

// cacheEpoch is the user cache's epoch before a user is read from the store
// (see userCache.addIf).
func (a *Auth[U]) cacheEpoch() uint64 {
	if a.cache == nil {
		return 0
	}
	return a.cache.begin()
}

// InvalidateUser drops the user from the cache, so the next request reads
// it from the user store again. Call it after you update or delete a user
// (Passport's userCache.delete). With Config.UserInvalidation it reaches
// every instance; without it, this process only, and other instances drop
// the user when their entry expires (UserCacheTTL).
func (a *Auth[U]) InvalidateUser(id string) {
	if a.cache == nil {
		return
	}
	a.cache.remove(id)
	if a.bus != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := a.bus.Publish(ctx, id); err != nil {
			a.log.Warn("ginauth: publishing a user invalidation failed; other instances drop the user when their cache entry expires", "err", err)
		}
	}
}
