package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
)

// Config configures an Auth. Sessions and Users are required; every other
// field has a default that follows OWASP's advice, and the comments say
// what Passport option a field stands for.
type Config[U models.Authenticatable] struct {
	// Sessions keeps the sessions users sign in to: their cookie,
	// lifetime, store and per-user limit are its configuration.
	Sessions *session.Manager

	// Users finds and saves users.
	Users models.UserStore[U]

	// Passwords sets how passwords are hashed and what new ones must be.
	Passwords Passwords

	// UserCache sizes the cache that signed-in requests resolve their user
	// from (Passport's deserializeUser with an LRU cache).
	UserCache UserCache

	// Throttle limits failed sign-ins per account, device and client
	// address, with exponential backoff. The zero value throttles with the
	// defaults, in memory; see ThrottlePolicy.
	Throttle ThrottlePolicy

	// Recovery, when its Mail is set, turns on what works by mail:
	// password reset, email verification and change, security notices.
	Recovery Recovery

	// SecondFactor, when its Keys are set, turns on second factors:
	// TOTP with recovery codes, the two-step sign-in.
	SecondFactor SecondFactor

	// OnEvent, when set, is called with every account event (sign-in
	// success and failure, lockout, sign-out, password change,
	// registration, session revoked), for audit logs. It is called
	// synchronously on the request's goroutine: keep it quick, or hand off.
	OnEvent func(Event)

	// Metrics, when set, receives what the flow measures inside: bcrypt
	// slots and the user cache (the metrics package feeds Prometheus from
	// it).
	Metrics Metrics

	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Logger receives warnings. Default slog.Default().
	Logger *slog.Logger
}

// Passwords sets how passwords are hashed and what new ones must be.
type Passwords struct {
	// BcryptCost is the cost of new password hashes. Default 12. Hashes of
	// another cost are re-hashed at the next successful sign-in. Costs
	// below 10 are refused unless AllowLowCost is set.
	BcryptCost int

	// AllowLowCost permits BcryptCost below 10. For tests only.
	AllowLowCost bool

	// MinLength is the shortest password accepted at registration and
	// change, in characters. Default 8; lower is refused.
	MinLength int

	// MaxConcurrentHashes bounds how many bcrypt computations run at once,
	// so that a flood of sign-ins cannot starve the other requests.
	// Default half of GOMAXPROCS (at least 1): with every core hashing,
	// signed-in requests wait for the scheduler behind bcrypt; with half,
	// they keep the other half (BenchmarkMeUnderLoginFlood in the handlers
	// package measures both). A sign-in that finds no slot within
	// HashQueueTimeout (default 2s) answers ErrBusy.
	MaxConcurrentHashes int
	HashQueueTimeout    time.Duration

	// AllowCommon turns off the built-in refusal of the 10,000 most common
	// passwords (ErrCommonPassword), which is on by default and runs first,
	// before Checks. A password that is the user's username is refused
	// either way (ErrPasswordIsUsername).
	AllowCommon bool

	// Checks judge every new password (registration, SetPassword,
	// ChangePassword), in order, after the length rules and the built-in
	// checks; the first refusal wins. hibp.New makes one that looks the
	// password up in Have I Been Pwned's breach corpus. See
	// PasswordChecker.
	Checks []PasswordChecker
}

// UserCache sizes the cache of users.
type UserCache struct {
	// Size and TTL bound the cache. Defaults 500 and 5 minutes. A negative
	// Size disables the cache: every signed-in request then queries the
	// user store.
	Size int
	TTL  time.Duration

	// Invalidation, when set, carries InvalidateUser to every instance of
	// the application (redisauth.NewUserInvalidation over Redis pub/sub,
	// sqlauth.NewUserInvalidation over PostgreSQL LISTEN/NOTIFY), so that a
	// user changed or deleted on one instance is dropped from every cache.
	// Without it InvalidateUser reaches this process only, and other
	// instances notice when their entry expires (TTL). Call Close to stop
	// listening.
	Invalidation UserInvalidation
}

// ErrConfig is wrapped by every error New returns for a configuration that
// cannot be safe. Such an error prints on one line: "auth: unsafe
// configuration: " and what is wrong.
var ErrConfig = errors.New("auth: unsafe configuration")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// withDefaults fills in defaults and refuses what cannot be safe.
func (cfg Config[U]) withDefaults() (Config[U], error) {
	if cfg.Sessions == nil {
		return cfg, configErr("no session manager")
	}
	if cfg.Users == nil {
		return cfg, configErr("no user store")
	}
	p := &cfg.Passwords
	if p.BcryptCost == 0 {
		p.BcryptCost = 12
	}
	if p.BcryptCost < bcrypt.MinCost || p.BcryptCost > bcrypt.MaxCost {
		return cfg, configErr("BcryptCost %d is outside %d..%d", p.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if p.BcryptCost < 10 && !p.AllowLowCost {
		return cfg, configErr("BcryptCost %d is below 10; set AllowLowCost for tests", p.BcryptCost)
	}
	if p.MinLength == 0 {
		p.MinLength = 8
	}
	if p.MinLength < 8 {
		return cfg, configErr("MinLength %d is below 8", p.MinLength)
	}
	if p.MaxConcurrentHashes == 0 {
		p.MaxConcurrentHashes = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if p.MaxConcurrentHashes < 0 {
		return cfg, configErr("MaxConcurrentHashes must be positive")
	}
	for i, c := range p.Checks {
		if c == nil {
			return cfg, configErr("Passwords.Checks[%d] is nil", i)
		}
	}
	if p.HashQueueTimeout <= 0 {
		p.HashQueueTimeout = 2 * time.Second
	}
	if cfg.UserCache.Size == 0 {
		cfg.UserCache.Size = 500
	}
	if cfg.UserCache.TTL <= 0 {
		cfg.UserCache.TTL = 5 * time.Minute
	}
	if !cfg.Throttle.Disabled {
		cfg.Throttle = cfg.Throttle.withDefaults()
		t := cfg.Throttle
		if !t.PerAccount.valid() || !t.PerIP.valid() || !t.PerDevice.valid() || !t.Registrations.valid() || !t.Signups.valid() || !t.Mails.valid() || !t.MailsPerIP.valid() {
			return cfg, configErr("throttle rules need positive Failures, Window and BaseDelay (or set Disabled)")
		}
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
	return cfg, nil
}
