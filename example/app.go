package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx", for the migration lock
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/oauth"
	"github.com/ginauth/ginauth/auth/passkey"
	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/auth/sqlauth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/mail/smtpmail"
	"github.com/ginauth/ginauth/metrics"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// The tables the app keeps in DATABASE_URL besides the users' (named after
// Account by GORM): named here, rather than left to the libraries' defaults,
// so that the migrate command can say what it created.
const (
	sessionsTable = "sessions"         // SESSION_STORE=gorm
	throttleTable = "ginauth_throttle" // on PostgreSQL with SESSION_STORE=gorm
)

// app is the example application wired from its configuration: what the
// server serves, and what the admin commands work on.
type app struct {
	cfg     config
	handler http.Handler
	auth    *auth.Auth[*Account]
	users   *gormusers.Store[Account, *Account]
	store   sessionstore.IndexedStore
	mark    storeMark // where the servers' mark is, outside the database; nil: nowhere
	db      *gorm.DB
	log     *slog.Logger
	audit   *slog.Logger // the audit trail: AUDIT_LOG, or the log
	closers []func()
	// metrics serves GET /metrics, on METRICS_ADDR; nil when it is unset.
	metrics http.Handler
	// mail is the queue the account mails leave by (SMTP_URL, or the log).
	mail *mail.Queue
	// mailTally counts what became of a command's mails (see deliverMail).
	mailTally *mailTally
	// passkeys are the passkey ceremonies; nil when passkeys are off (see
	// config.loadPasskeys).
	passkeys *passkey.Passkeys[*Account]
	// providers are the sign-ins with OpenID Providers; nil when none is
	// configured (OIDC_PROVIDERS).
	providers *oauth.Providers[*Account]
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// newApp opens the databases and builds the router. Everything the app
// logs (requests, SQL errors, ginauth's warnings) goes to logw, in the
// format and from the level of LOG_FORMAT and LOG_LEVEL.
func newApp(cfg config, logw io.Writer) (_ *app, err error) {
	log := newLogger(cfg, logw)
	a := &app{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	auditw, closeAudit, err := openAuditLog(cfg, logw)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeAudit)
	a.audit = auditLogger(cfg, auditw)
	if cfg.command {
		a.audit = a.audit.With(operatorAttrs(cfg.operator)...)
	}
	if a.db, err = openDatabase(cfg, log); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() {
		if sqlDB, err := a.db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	a.users = gormusers.New[Account](a.db)
	if cfg.createTables {
		// Instances that start together on an empty database would create
		// the same tables at once and fail; they take turns.
		unlock, err := lockMigrations(cfg)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if err := a.users.Migrate(); err != nil {
			return nil, fmt.Errorf("creating the users table: %w", err)
		}
		if err := a.db.AutoMigrate(&deploymentRecord{}); err != nil {
			return nil, fmt.Errorf("creating the %s table: %w", deploymentTable, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var servers *deploymentRecord // a command's: what the servers use
	if cfg.command {
		if servers, err = a.readDeployment(ctx); err != nil {
			return nil, err
		}
		if err := a.checkStoreKind(servers); err != nil {
			return nil, err
		}
	}
	if !cfg.createTables {
		if err := checkTables(ctx, cfg, a.db); err != nil {
			return nil, err
		}
	}
	// The session manager owns the cookie, the secrets, the lifetime of
	// sessions and the proxies believed; the account service signs users
	// in to it.
	scfg := session.Config{
		Secrets:        cfg.secrets,
		Cookie:         session.Cookie{Secure: cfg.secure, HostPrefix: cfg.hostPrefix},
		Lifetime:       session.Lifetime{Idle: cfg.idle, Absolute: cfg.absolute, TouchInterval: cfg.touch},
		TrustedProxies: cfg.proxies,
		Logger:         log,
		Now:            cfg.now,

		MaxSessionsPerUser: cfg.maxSessions,
		OverLimit:          cfg.overLimit,
	}
	acfg := auth.Config[*Account]{
		Users:   markedUsers{a.users},
		Logger:  log,
		Now:     cfg.now,
		OnEvent: auditLog(a.audit),
		SecondFactor: auth.SecondFactor{
			Keys:   cfg.factorKeys,
			Issuer: "ginauth example",
		},
	}
	if cfg.bcryptCost != 0 {
		acfg.Passwords.BcryptCost, acfg.Passwords.AllowLowCost = cfg.bcryptCost, true
	}
	if err := a.openStores(&acfg); err != nil {
		return nil, err
	}
	scfg.Store = a.store
	if cfg.command {
		err = a.checkStoreMark(ctx, servers)
	} else {
		err = a.recordDeployment(ctx)
	}
	if err != nil {
		return nil, err
	}
	var queueMetrics mail.QueueMetrics
	if cfg.metricsAddr != "" {
		m, err := a.openMetrics(&scfg, &acfg)
		if err != nil {
			return nil, err
		}
		queueMetrics = m
	}
	if err := a.openMail(&acfg, queueMetrics); err != nil {
		return nil, err
	}
	if cfg.randomSecret {
		log.Warn("SESSION_SECRET is not set: using a random secret, so sessions end when the app stops")
	}
	if cfg.randomFactorKey && !cfg.command {
		log.Warn("SECOND_FACTOR_KEY is not set: using a random key, so authenticator apps enrolled now stop " +
			"working when the app stops (their users need users 2fa-reset); development only")
	}
	if acfg.Sessions, err = session.New(scfg); err != nil {
		return nil, err
	}
	if a.auth, err = auth.New(acfg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = a.auth.Close() })
	if err := a.openPasskeys(); err != nil {
		return nil, err
	}
	if err := a.openProviders(); err != nil {
		return nil, err
	}
	if a.handler, err = newRouter(a); err != nil {
		return nil, err
	}
	return a, nil
}

// openPasskeys turns passkeys on, kept in the users' database (the table
// the users' Migrate creates), unless the configuration says they are
// off, which the log says with why. An RP ID that does not fit BASE_URL
// (PASSKEY_RP_ID) stops the app here, not every ceremony in the browser.
func (a *app) openPasskeys() error {
	cfg := a.cfg
	if cfg.passkeyRPID == "" {
		if !cfg.command {
			a.log.Info("passkeys are off: " + cfg.passkeysOff)
		}
		return nil
	}
	p, err := passkey.New(a.auth, passkey.Config{
		RPID:    cfg.passkeyRPID,
		Origins: []string{cfg.passkeyOrigin},
		Store:   a.users,
		RPName:  "ginauth example",
		Now:     cfg.now,
	})
	if err != nil {
		return fmt.Errorf("passkeys (PASSKEY_RP_ID %q, origin %s from BASE_URL): %w", cfg.passkeyRPID, cfg.passkeyOrigin, err)
	}
	a.passkeys = p
	if !cfg.command && cfg.passkeyLocalhost {
		a.log.Info(fmt.Sprintf("passkeys work when the site is opened at %s: browsers give none to an IP address such as BASE_URL's", cfg.passkeyOrigin))
	}
	return nil
}

// openProviders turns on sign-in with the OpenID Providers of
// OIDC_PROVIDERS, their identities kept in the users' database (the table
// the users' Migrate creates), and logs, for each, the redirect URI to
// register with it. None configured: no routes, no buttons.
func (a *app) openProviders() error {
	cfg := a.cfg
	if len(cfg.providers) == 0 {
		return nil
	}
	p, err := oauth.New(a.auth, oauth.Config{
		Providers: cfg.providers,
		BaseURL:   cfg.baseURL,
		Store:     a.users,
		SignUp:    cfg.oauthSignUp,
		Now:       cfg.now,
	})
	if err != nil {
		return fmt.Errorf("OIDC_PROVIDERS (with BASE_URL %s): %w", cfg.baseURL, err)
	}
	a.providers = p
	if !cfg.command {
		for _, pr := range p.List() {
			a.log.Info(fmt.Sprintf("sign-in with %s (%s): register %s/oauth/%s/callback as a redirect URI with the provider",
				pr.Label, pr.Issuer, cfg.baseURL, pr.Name))
		}
		if !cfg.oauthSignUp {
			a.log.Info("OAUTH_SIGNUP is false: a provider signs in only the accounts that linked it")
		}
	}
	return nil
}

// openStores opens the session store of SESSION_STORE and, where several
// instances can share them, the throttle's store and the user
// invalidation.
func (a *app) openStores(acfg *auth.Config[*Account]) error {
	cfg := a.cfg
	switch cfg.storeName {
	case "gorm":
		s, err := gormstore.New(a.db, gormstore.Options{Table: sessionsTable, AutoMigrate: cfg.createTables, Now: cfg.now})
		if err != nil {
			return err
		}
		a.store = s
		a.closers = append(a.closers, func() { _ = s.Close() })
		if cfg.postgres() {
			if err := a.shareThroughPostgres(acfg); err != nil {
				return err
			}
		}
	case "memory":
		s := memstore.New(memstore.Options{Now: cfg.now})
		a.store = s
		a.closers = append(a.closers, func() { _ = s.Close() })
	case "redis":
		client, err := openRedis(cfg.redisURL)
		if err != nil {
			return err
		}
		a.closers = append(a.closers, func() { _ = client.Close() })
		a.store = redisstore.New(client, redisstore.Options{Now: cfg.now})
		a.mark = redisMark{client}
		a.shareThroughRedis(acfg, client)
	case "mongo", "mongodb":
		s, db, closeStore, err := openMongo(cfg.mongoURL)
		if err != nil {
			return err
		}
		a.store = s
		a.mark = mongoMark{db}
		a.closers = append(a.closers, closeStore)
	default:
		return fmt.Errorf("SESSION_STORE %q: want gorm, redis, mongo or memory", cfg.storeName)
	}
	return nil
}

// auditLog writes each account event to the log, for an audit trail: what
// happened, to which account, from where. Events never carry a password, a
// hash or a session ID; the session is named by its public ID.
func auditLog(log *slog.Logger) func(auth.Event) {
	return func(e auth.Event) {
		attrs := []slog.Attr{slog.String("event", string(e.Type))}
		add := func(k, v string) {
			if v != "" {
				attrs = append(attrs, slog.String(k, v))
			}
		}
		add("user", e.UserID)
		add("username", e.Username)
		add("ip", e.IPAddress)
		add("session", e.Session)
		add("action", e.Action)
		add("code", e.Code)
		if e.Revoked > 0 {
			attrs = append(attrs, slog.Int("revoked", e.Revoked))
		}
		if e.RetryAfter > 0 {
			attrs = append(attrs, slog.Duration("retryAfter", e.RetryAfter))
		}
		log.LogAttrs(context.Background(), slog.LevelInfo, "audit", attrs...)
	}
}

// lockMigrations makes instances starting at once on one PostgreSQL
// database create their tables in turn: it holds an advisory lock, on a
// connection of its own (not one of the pool, which DATABASE_MAX_CONNS may
// make a single one), until the returned unlock. On SQLite it does nothing:
// one process owns the file.
func lockMigrations(cfg config) (unlock func(), err error) {
	if !cfg.postgres() {
		return func() {}, nil
	}
	db, err := sql.Open("pgx", cfg.databaseURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("waiting for other instances to create the tables: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLock)
		_ = conn.Close()
		_ = db.Close()
	}, nil
}

// migrationLock is the advisory lock key of the example's table creation.
const migrationLock = 0x67696e61757468 // "ginauth"

// openMetrics feeds Prometheus metrics from every hook of the Auth (events,
// bcrypt slots, user cache) and of the session manager (session store
// calls), on a registry of their own with the Go runtime's and the
// process's, served on METRICS_ADDR.
func (a *app) openMetrics(scfg *session.Config, acfg *auth.Config[*Account]) (*metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var providers []string
	for _, p := range a.cfg.providers {
		providers = append(providers, p.Name)
	}
	m, err := metrics.New(metrics.Options{Registerer: reg, Providers: providers})
	if err != nil {
		return nil, err
	}
	scfg.Store = m.Store(a.store, a.cfg.storeName)
	acfg.Metrics = m
	acfg.OnEvent = m.OnEvent(acfg.OnEvent)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError)}))
	a.metrics = mux
	return m, nil
}

// mailCloseTimeout is how long a stopping app waits for the mails still
// queued to be delivered (under drainTimeout less the requests' own).
const mailCloseTimeout = 5 * time.Second

// openMail builds the queue of account mail, to the SMTP server of
// SMTP_URL or, unset, to the log with a warning (as Django's console
// backend: development only, since the mails carry sign-in tokens), and
// turns on account recovery with links to BASE_URL. The queue is closed
// after the Auth, whose background work feeds it: a stopping app delivers
// what is queued, for up to mailCloseTimeout.
func (a *app) openMail(acfg *auth.Config[*Account], m mail.QueueMetrics) error {
	var sender mail.Sender
	if a.cfg.smtpURL != "" {
		s, err := smtpmail.New(smtpmail.Options{URL: a.cfg.smtpURL, From: a.cfg.mailFrom})
		if err != nil {
			return fmt.Errorf("SMTP_URL or MAIL_FROM: %w", err)
		}
		sender = s
		if !a.cfg.command {
			a.log.Info(fmt.Sprintf("mail goes to %s", s)) // without the password
		}
	} else {
		sender = mail.LogSender{Logger: a.log}
		if !a.cfg.command {
			a.log.Warn("SMTP_URL is not set: mails (password reset and verification links) go to this log, not to people; development only")
		}
	}
	if a.cfg.command {
		a.mailTally = &mailTally{}
		m = a.mailTally
	}
	a.mail = mail.NewQueue(sender, mail.QueueOptions{Logger: a.log, Metrics: m})
	a.closers = append(a.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), mailCloseTimeout)
		defer cancel()
		if err := a.mail.Close(ctx); err != nil && !errors.Is(err, mail.ErrQueueClosed) {
			a.log.Error(err.Error())
		}
	})
	acfg.Recovery = auth.Recovery{Mail: a.mail, BaseURL: a.cfg.baseURL, AppName: "ginauth example"}
	return nil
}

// mailTally is the mail.QueueMetrics of a command: it counts the mails
// delivered and those given up, for deliverMail to say which.
type mailTally struct {
	sent, undelivered atomic.Int64
}

func (t *mailTally) MailResult(_ string, r mail.Result) {
	switch r {
	case mail.ResultSent:
		t.sent.Add(1)
	case mail.ResultFailed, mail.ResultLost, mail.ResultDropped:
		t.undelivered.Add(1)
	}
}

func (t *mailTally) MailQueueDepth(int) {}

// deliverMail waits, for a command, until the mails it queued are
// delivered (retried as the queue does) or ctx ends, and says whether any
// was not: a command reports what the mail server did, where a server's
// request cannot wait for it.
func (a *app) deliverMail(ctx context.Context) error {
	err := a.mail.Close(ctx)
	if err == nil && a.mailTally != nil && a.mailTally.undelivered.Load() > 0 {
		err = errors.New("the mail server did not take it (see the log above)")
	}
	return err
}

// shareThroughRedis makes every instance on the Redis store share the
// login throttle and drop users from their caches together.
func (a *app) shareThroughRedis(acfg *auth.Config[*Account], client redis.UniversalClient) {
	acfg.Throttle.Store = redisauth.NewThrottleStore(client, redisauth.ThrottleStoreOptions{})
	acfg.UserCache.Invalidation = redisauth.NewUserInvalidation(client, redisauth.InvalidationOptions{})
}

// shareThroughPostgres makes every instance on PostgreSQL alone share the
// login throttle (a table) and drop users from their caches together
// (LISTEN/NOTIFY), with no Redis.
func (a *app) shareThroughPostgres(acfg *auth.Config[*Account]) error {
	throttle, err := sqlauth.NewThrottleStore(a.db, sqlauth.ThrottleStoreOptions{Table: throttleTable, AutoMigrate: a.cfg.createTables, Now: a.cfg.now, Logger: a.log})
	if err != nil {
		return fmt.Errorf("the login throttle's table: %w", err)
	}
	a.closers = append(a.closers, func() { _ = throttle.Close() })
	invalidation, err := sqlauth.NewUserInvalidation(a.cfg.databaseURL, sqlauth.InvalidationOptions{Logger: a.log})
	if err != nil {
		return err
	}
	a.closers = append(a.closers, func() { _ = invalidation.Close() })
	acfg.Throttle.Store = throttle
	acfg.UserCache.Invalidation = invalidation
	return nil
}

// newRouter mounts the prebuilt routes and the example's pages. Gin's
// request log names the client by c.ClientIP(), which believes
// X-Forwarded-For from the proxies it trusts: the same ones as ginauth's
// (Gin's default trusts every peer).
func newRouter(a *app) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	var ipProxies []string
	for _, p := range a.cfg.proxies {
		if p != session.TrustUnixSocket {
			ipProxies = append(ipProxies, p)
		}
	}
	if err := r.SetTrustedProxies(ipProxies); err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	r.Use(securityHeaders(contentSecurityPolicy(a.cfg.providers)))
	// A load balancer's probe: the process is up and serves HTTP. It does
	// not ask the shared stores: were they down, every instance would leave
	// the pool at once, and clients would get the balancer's error page
	// instead of the app's 503 store_unavailable. Not logged; no session.
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.Use(requestLog(a.log), recoverPanics(a.log))
	// One protection for every form post of the app, not only the auth
	// routes: same-origin requests and non-browser clients pass.
	cop := http.NewCrossOriginProtection()
	r.Use(middleware.CrossOrigin(cop))
	r.Use(a.auth.Sessions().Middleware())
	opts := []handlers.Option{handlers.WithRegister(), handlers.WithCrossOrigin(cop), handlers.WithSecondFactor()}
	if a.passkeys != nil {
		opts = append(opts, handlers.WithPasskeys[*Account](a.passkeys))
	}
	if a.providers != nil {
		opts = append(opts, handlers.WithProviders[*Account](a.providers))
	}
	handlers.Mount(r.Group("/"), a.auth, opts...)
	limit := sessionLimit{Max: a.cfg.maxSessions, EndOldest: a.cfg.overLimit == session.EndOldest}
	pg := newPages(a.auth, a.users, a.cfg.now, limit)
	if a.passkeys != nil {
		pg.passkeys, pg.passkeyOrigin, pg.passkeyLocalhost = a.passkeys, a.cfg.passkeyOrigin, a.cfg.passkeyLocalhost
	}
	if a.providers != nil {
		pg.providers, pg.oauthSignUp = a.providers, a.cfg.oauthSignUp
	}
	pg.mount(r)
	return r, nil
}

// contentSecurityPolicy lets the pages load their own stylesheet and images
// (and data: images: the QR code of a second factor's enrolment, which
// exists only in that answer) and nothing else, run no script but the
// site's own files (the one of passkeys, /static/passkey.js: no inline
// script, no eval), fetch only from this site (that script's calls to the
// /webauthn routes), post forms only to this site and to the origins of
// the sign-in providers (a form that links a provider is answered by a
// redirect to it, which form-action also governs), and be framed by no
// page (clickjacking).
func contentSecurityPolicy(providers []oauth.Provider) string {
	formAction := "'self'"
	for _, p := range providers {
		if u, err := url.Parse(p.Issuer); err == nil && u.Host != "" {
			formAction += " " + u.Scheme + "://" + u.Host
		}
	}
	return "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; " +
		"img-src 'self' data:; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// securityHeaders sets, on every answer, the policy, its older equivalent
// against framing, and tells browsers not to guess a content type other
// than the one sent.
func securityHeaders(policy string) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
	}
}

// markedUsers is the users' store as auth sees it, its failures marked
// (usersError), so that an operator's command can tell a password that was
// not stored from one whose sessions could not be ended: auth reports the
// failures of either store as sessionstore.ErrUnavailable.
type markedUsers struct {
	*gormusers.Store[Account, *Account]
}

func (u markedUsers) SetPasswordHash(ctx context.Context, id, hash string) error {
	err := u.Store.SetPasswordHash(ctx, id, hash)
	if err != nil && !errors.Is(err, models.ErrUserNotFound) {
		return &usersError{err}
	}
	return err
}

// usersError is a failure of the users' store (see markedUsers).
type usersError struct{ err error }

func (e *usersError) Error() string { return e.err.Error() }
func (e *usersError) Unwrap() error { return e.err }
