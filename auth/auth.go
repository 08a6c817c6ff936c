package auth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// Auth is the account service of one application for users of type U (for
// example *models.User, or a pointer to your type that embeds models.User):
// credentials, sign-in and its throttle, registration, password changes and
// the operations on users, built on a session.Manager. Create it once with
// New; it is safe for concurrent use.
type Auth[U models.Authenticatable] struct {
	sessions *session.Manager
	users    models.UserStore[U]
	cache    *userCache[U] // nil when disabled
	hasher   *hasher
	gate     *gate
	throttle ThrottlePolicy
	minPass  int
	checks   []PasswordChecker // the built-in list first, then Passwords.Checks
	metrics  Metrics
	onEvent  func(Event)
	now      func() time.Time
	log      *slog.Logger
	rec      *recovery[U]  // nil without Config.Recovery.Mail
	sf       *secondFactor // nil without Config.SecondFactor.Keys

	fullWarned atomic.Int64 // when the throttle-full warning was last logged, Unix ms

	bus       UserInvalidation
	stopBus   context.CancelFunc
	busDone   chan struct{}
	closeOnce sync.Once
}

// New checks cfg and returns an Auth. It refuses, with an error wrapping
// ErrConfig, any configuration that cannot be safe: weak bcrypt costs,
// short minimum passwords, throttle rules that never lock.
func New[U models.Authenticatable](cfg Config[U]) (*Auth[U], error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Auth[U]{
		sessions: cfg.Sessions,
		users:    cfg.Users,
		hasher:   newHasher(cfg.Passwords.BcryptCost),
		gate:     newGate(cfg.Passwords.MaxConcurrentHashes, cfg.Passwords.HashQueueTimeout, cfg.Metrics),
		throttle: cfg.Throttle,
		minPass:  cfg.Passwords.MinLength,
		checks:   passwordChecks(cfg.Passwords),
		metrics:  cfg.Metrics,
		onEvent:  cfg.OnEvent,
		now:      cfg.Now,
		log:      cfg.Logger,
	}
	if len(cfg.SecondFactor.Keys) > 0 {
		if a.sf, err = newSecondFactor(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Recovery.Mail != nil {
		if a.rec, err = newRecovery(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.UserCache.Size > 0 {
		a.cache = newUserCache[U](cfg.UserCache.Size, cfg.UserCache.TTL, cfg.Now)
		if cfg.UserCache.Invalidation != nil {
			a.listen(cfg.UserCache.Invalidation)
		}
	}
	return a, nil
}

// Sessions returns the session manager the Auth signs users in to.
func (a *Auth[U]) Sessions() *session.Manager { return a.sessions }

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

// Close stops listening for user invalidations (Config.UserCache.Invalidation)
// and stops the background work of Recovery: work requests handed over
// and not yet started (the lookup of a "forgot password", a notice) is
// dropped; mail already queued is the mail.Queue's to deliver or drop.
// The stores and the queue are the caller's to close. Close is
// idempotent.
func (a *Auth[U]) Close() error {
	if a.rec != nil {
		a.rec.close()
	}
	a.closeOnce.Do(func() {
		if a.stopBus != nil {
			a.stopBus()
			<-a.busDone
		}
	})
	return nil
}

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
			err = sessionstore.Unavailable(err)
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
// (Passport's userCache.delete). With Config.UserCache.Invalidation it reaches
// every instance; without it, this process only, and other instances drop
// the user when their entry expires (UserCache.TTL).
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
