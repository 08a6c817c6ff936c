// Command example is a small web application on ginauth: people register,
// sign in (with "remember me"), see and revoke their sessions, and sign out
// here or everywhere. The JSON API of the prebuilt routes is mounted at the
// root too, so curl works as well as a browser.
//
//	go run ./example
//
// It keeps users and sessions in SQLite (pure Go, no cgo) by default, so it
// runs on a machine with nothing but Go. It is a module of its own (tied to
// the library by the repository's go.work), so that the library's users do
// not download the MongoDB driver it can use. Environment:
//
//	ADDR              listen address (default 127.0.0.1:8080)
//	DATABASE_URL      a postgres:// URL, or a SQLite file path (default ginauth-example.db)
//	SESSION_STORE     gorm (default: the database above), redis, mongo, or memory
//	REDIS_URL         for SESSION_STORE=redis (default redis://127.0.0.1:6379/0)
//	MONGODB_URL       for SESSION_STORE=mongo (default mongodb://127.0.0.1:27017/ginauth)
//	SESSION_SECRET    comma-separated secrets, newest first, 32+ bytes each;
//	                  unset: a random one, so sessions end when the app stops
//	IDLE_TIMEOUT      Go duration (default 30m)
//	ABSOLUTE_TIMEOUT  Go duration (default 24h)
//	TOUCH_INTERVAL    Go duration (default 1m)
//	COOKIE_SECURE     true to send the cookie over HTTPS only
//	TRUSTED_PROXIES   comma-separated IPs/CIDRs of proxies whose X-Forwarded-* to believe
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	app, err := newApp(cfg, os.Stderr)
	if err != nil {
		return err
	}
	defer app.close()
	srv := &http.Server{Addr: cfg.addr, Handler: app.handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	app.log.Info(fmt.Sprintf("ginauth example listening on http://%s (sessions: %s)", cfg.addr, cfg.storeName))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is the example application wired from its configuration.
type app struct {
	handler http.Handler
	auth    *auth.Auth[*models.User]
	log     *slog.Logger
	closers []func()
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// newApp opens the databases and builds the router. Everything the app
// logs (requests, SQL errors, ginauth's warnings) goes to logw.
func newApp(cfg config, logw io.Writer) (*app, error) {
	log := slog.New(slog.NewTextHandler(logw, nil))
	a := &app{log: log}
	db, err := openDatabase(cfg.databaseURL, logw)
	if err != nil {
		return nil, err
	}
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		return nil, fmt.Errorf("creating the users table: %w", err)
	}
	store, closeStore, err := openSessionStore(cfg, db)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, closeStore)
	if cfg.randomSecret {
		log.Warn("SESSION_SECRET is not set: using a random secret, so sessions end when the app stops")
	}
	a.auth, err = auth.New(auth.Config[*models.User]{
		Store:           store,
		Users:           users,
		Secrets:         cfg.secrets,
		IdleTimeout:     cfg.idle,
		AbsoluteTimeout: cfg.absolute,
		TouchInterval:   cfg.touch,
		TrustedProxies:  cfg.proxies,
		Cookie:          auth.Cookie{Secure: cfg.secure},
		Logger:          log,
	})
	if err != nil {
		a.close()
		return nil, err
	}
	if a.handler, err = newRouter(a.auth, cfg.proxies, logw); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// newRouter mounts the prebuilt routes and the example's pages.
// Gin's request log names the client by c.ClientIP(), which believes
// X-Forwarded-For from the proxies it trusts: the same ones as ginauth's
// (Gin's default trusts every peer).
func newRouter(a *auth.Auth[*models.User], proxies []string, logw io.Writer) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	var ipProxies []string
	for _, p := range proxies {
		if p != auth.TrustUnixSocket {
			ipProxies = append(ipProxies, p)
		}
	}
	if err := r.SetTrustedProxies(ipProxies); err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	r.Use(gin.LoggerWithWriter(logw), gin.RecoveryWithWriter(logw))
	r.Use(middleware.CrossOrigin(a.CrossOriginProtection())) // every form post of the app, not only the auth routes
	r.Use(middleware.Session(a))
	handlers.Mount(r.Group("/"), a, handlers.WithRegister())

	p := &pages{a: a}
	r.GET("/", p.home)
	r.GET("/login", p.login)
	r.GET("/register", p.register)
	account := r.Group("/account", middleware.RequireAuth(a))
	account.GET("/sessions", p.sessions)
	account.POST("/sessions/:id/revoke", p.revoke)
	return r, nil
}
