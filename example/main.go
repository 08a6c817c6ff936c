// Command example is a small web application on ginauth: people register,
// sign in (with "remember me"), see their account and the devices signed in
// to it, change their password, revoke sessions, and sign out here or
// everywhere; they turn on two-step sign-in (an authenticator app, with
// recovery codes; /account/2fa), and sign in with passkeys instead of
// passwords (/account/passkeys), or with OpenID Providers (OIDC_PROVIDERS;
// linked from the account page); with an email address, they verify it, choose a new password
// when they forget theirs, and get security notices, by mail. The JSON API of the prebuilt routes is mounted at the root
// too, so curl works as well as a browser. It is also the command an
// operator acts on users and sessions with (see the admin commands below).
//
//	go run ./example                 # serve
//	go run ./example users create alice
//
// It keeps users and sessions in SQLite (pure Go, no cgo) by default, so it
// runs on a machine with nothing but Go. It is a module of its own (tied to
// the library by the repository's go.work), so that the library's users do
// not download the MongoDB driver it can use. Environment:
//
//	ADDR              listen address (default 127.0.0.1:8080)
//	METRICS_ADDR      address of GET /metrics (Prometheus); unset: none
//	DATABASE_URL      a postgres:// URL, or a SQLite file: a path ending in .db, .sqlite or
//	                  .sqlite3, or sqlite:PATH or file:PATH (default ginauth-example.db);
//	                  anything else is refused;
//	                  on PostgreSQL with SESSION_STORE=gorm, the instances share the
//	                  login throttle and user-cache invalidation through it too
//	DATABASE_MAX_CONNS connections each instance may open to PostgreSQL (default 10)
//	SESSION_STORE     gorm (default: the database above), redis, mongo, or memory
//	REDIS_URL         for SESSION_STORE=redis (default redis://127.0.0.1:6379/0);
//	                  ?addr=host:port&addr=... for a Cluster,
//	                  ?master_name=name&addr=... for Sentinel
//	MONGODB_URL       for SESSION_STORE=mongo (default mongodb://127.0.0.1:27017/ginauth)
//	SESSION_SECRET    comma-separated secrets, 32+ bytes each: the first signs cookies,
//	                  every one verifies them (to rotate, see "example help");
//	                  unset: a random one, so sessions end when the app stops
//	SESSION_SECRET_FILE a file holding SESSION_SECRET's value (a Docker or Kubernetes secret)
//	SECOND_FACTOR_KEY comma-separated keys, 32+ bytes each, newest first, that seal the
//	                  secrets of authenticator apps (two-step sign-in) at rest; to rotate,
//	                  put a new one first and keep the old ones while enrolments made
//	                  under them remain ("example secret new" makes one); unset: a random
//	                  one, with a warning, so enrolled apps stop working when the app
//	                  stops (development only); refused unset with COOKIE_SECURE=true
//	IDLE_TIMEOUT      Go duration (default 30m)
//	ABSOLUTE_TIMEOUT  Go duration (default 24h)
//	TOUCH_INTERVAL    Go duration (default 1m)
//	COOKIE_SECURE     true to send the cookie over HTTPS only; then SMTP_URL is required,
//	                  and BASE_URL must be https
//	COOKIE_HOST_PREFIX unset: the cookie is __Host-sid when COOKIE_SECURE is true (no other
//	                  site of the domain can set it), sid otherwise; true: always __Host-sid
//	                  (needs COOKIE_SECURE); false: always sid
//	MAX_SESSIONS_PER_USER the most sessions one user may have at once (default 0: no
//	                  limit); needs a SESSION_STORE that can limit them atomically
//	SESSION_LIMIT     what a sign-in over MAX_SESSIONS_PER_USER does: end-oldest (default)
//	                  signs out the user's oldest session, refuse refuses the sign-in
//	                  (409 too_many_sessions) until the user signs out elsewhere
//	SMTP_URL          the mail server of password reset, verification and security notice
//	                  mails: smtp://user:password@host:port (STARTTLS when the server offers
//	                  it; port 587 by default) or smtps://user:password@host:port (TLS; 465);
//	                  unset: mails are written to the log, with a warning, for development
//	                  only (they carry sign-in tokens); refused with COOKIE_SECURE=true
//	MAIL_FROM         the mails' sender (default "ginauth example <no-reply@localhost>")
//	BASE_URL          the app's address as people reach it, which the links in mails begin
//	                  with, such as https://example.org (default http://ADDR, on localhost
//	                  when ADDR is every interface's); http only for localhost
//	PASSKEYS          false turns passkeys off; default true: on wherever browsers allow them
//	PASSKEY_RP_ID     the domain passkeys belong to (default BASE_URL's host name): a parent
//	                  domain, such as example.org for https://app.example.org, lets the
//	                  domain's other sites use them too; one that is not BASE_URL's host nor a
//	                  parent of it stops the app at start. Passkeys are used from BASE_URL's
//	                  origin, which must be https, or http://localhost. When BASE_URL's host is
//	                  a loopback IP address (the default), they work at http://localhost:PORT,
//	                  the same server by name (browsers give an IP address none); on another
//	                  IP address, or over http on a name other than localhost, they are off,
//	                  and the log says why
//	OIDC_PROVIDERS    OpenID Providers people may sign in with, separated by ";", each
//	                  name=NAME,issuer=URL,client_id=ID,client_secret=SECRET[,label=LABEL]
//	                  [,trust_email=true]: NAME (lower-case letters, digits, dashes; at most
//	                  32) is in the redirect URI to register with the provider,
//	                  BASE_URL/oauth/NAME/callback (logged at start), and in the identities
//	                  kept, so renaming one unlinks them; URL is the issuer (https, or http on
//	                  localhost); LABEL names the buttons (default NAME); trust_email lets an
//	                  address the provider says is verified sign in to the account with that
//	                  verified address (only for a provider that owns its addresses). No value
//	                  may hold "," or ";". Unset: no providers, no buttons, no routes
//	OIDC_PROVIDERS_FILE a file holding OIDC_PROVIDERS' value (line breaks separate providers
//	                  too), to keep the client secrets out of the environment
//	OAUTH_SIGNUP      false: a provider signs in only accounts that linked it (from the
//	                  account page); default true: a first sign-in creates an account
//	TRUSTED_PROXIES   comma-separated IPs/CIDRs of proxies whose X-Forwarded-* to believe,
//	                  or "unix" for a proxy on a Unix socket
//	HTTP_READ_HEADER_TIMEOUT  Go duration: to read a request's headers (default 10s)
//	HTTP_READ_TIMEOUT  Go duration: to read a whole request, body included (default 20s)
//	HTTP_WRITE_TIMEOUT Go duration: from the end of the headers to the end of the
//	                  answer (default 30s)
//	HTTP_IDLE_TIMEOUT  Go duration: a kept-alive connection waiting for its next
//	                  request (default 60s)
//	LOG_FORMAT        text (default: key=value lines) or json (one object a line)
//	AUDIT_LOG         a file the audit trail is appended to, by every instance and every
//	                  admin command; unset: the trail is in the log
//	OPERATOR          an admin command's operator in the audit trail (--operator too);
//	                  unset: the system user running it
//	LOG_LEVEL         debug, info (default), warn or error
//
// # Admin commands
//
// Given a command, the program acts on the users and sessions of the
// database and session store that the same environment names, as every
// running instance sees them, and exits ("example help" says more):
//
//	users create USERNAME            password: typed, unseen, on a terminal; else stdin's first line
//	users passwd USERNAME            new password, read the same way; ends every session of the user
//	users delete USERNAME            ends every session of the user too
//	users set-email USERNAME EMAIL   sets the address at once, unverified, and mails it a link to
//	                                 verify it; "" removes it
//	users send-reset USERNAME        mails the user a link to choose a new password
//	users 2fa-reset USERNAME         removes the user's authenticator app and recovery codes
//	                                 (two-step sign-in off) and ends every session of the user
//	sessions list USERNAME           ID, created, last active, expires, IP, user agent
//	sessions revoke USERNAME ID      ends one session, named by its ID from the list
//	sessions revoke-all USERNAME     ends every session of the user, and says how many
//	secret new                       a random secret for SESSION_SECRET
//	migrate                          creates the tables and indexes, and says which
//	healthcheck                      exit 0 if the server at ADDR answers GET /healthz with 200
//	help                             the usage (also -h)
//
// A command refuses (exit status 1) when its environment names another
// session store than the servers': each server records its SESSION_STORE in
// the database at start, and leaves a mark in Redis or MongoDB that the
// command looks for. Only migrate creates tables.
//
// With --json, anywhere on the line, a command prints one JSON document
// (times in RFC 3339) instead of text. Results go to stdout; errors (one
// line each) and the app's logs to stderr. The exit status is 0 on success,
// 1 when the operation failed, 2 for a usage error, and 3 when the user or
// session does not exist.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		slog.Error(err.Error())
		os.Exit(1)
	}
}

func run(args []string) error {
	// What the libraries log by themselves goes through the app's logger,
	// in LOG_FORMAT, from LOG_LEVEL up; bad values are refused below, by
	// loadConfig, and meanwhile the defaults hold.
	format, _ := parseLogFormat(os.Getenv("LOG_FORMAT"))
	level, _ := parseLogLevel(os.Getenv("LOG_LEVEL"))
	routeProcessLogs(slog.New(newLogHandler(format, level, os.Stderr)))
	if !serving(args) {
		os.Exit(admin(args, os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg)
}

// serving reports whether the command line asks for the server: no
// arguments, or "serve" alone.
func serving(args []string) bool {
	return len(args) == 0 || len(args) == 1 && args[0] == "serve"
}

// serve runs the application until ctx ends (SIGTERM, Ctrl-C), then stops
// accepting connections and lets the requests in flight finish.
func serve(ctx context.Context, cfg config) error {
	app, err := newApp(cfg, os.Stderr)
	if err != nil {
		return err
	}
	defer app.close()
	servers := []*http.Server{newHTTPServer(cfg, cfg.addr, app.handler, app.log)}
	if app.metrics != nil {
		servers = append(servers, newHTTPServer(cfg, cfg.metricsAddr, app.metrics, app.log))
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ListenAndServe() }()
	}
	app.log.Info(fmt.Sprintf("ginauth example listening on http://%s (sessions: %s)", cfg.addr, cfg.storeName))
	if app.metrics != nil {
		app.log.Info(fmt.Sprintf("metrics on http://%s/metrics", cfg.metricsAddr))
	}
	var failed error
	select {
	case failed = <-errc:
	case <-ctx.Done():
	}
	app.log.Info("shutting down: finishing the requests in flight")
	if err := drain(servers, drainTimeout); err != nil && failed == nil {
		failed = err
	}
	return failed
}

// drainTimeout is how long a stopping server lets the requests in flight
// finish (deploy/compose.yaml's stop_grace_period is above it).
const drainTimeout = 10 * time.Second

// drain stops the servers accepting connections and waits up to timeout
// for the requests in flight; past it, it says that some were cut off.
func drain(servers []*http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var failed error
	for _, srv := range servers {
		err := srv.Shutdown(ctx)
		switch {
		case err == nil || errors.Is(err, http.ErrServerClosed) || failed != nil:
		case errors.Is(err, context.DeadlineExceeded):
			_ = srv.Close()
			failed = fmt.Errorf("shutting down: requests still running %s after the stop were cut off", timeout)
		default:
			failed = fmt.Errorf("shutting down: %w", err)
		}
	}
	return failed
}

// newHTTPServer is the server of handler on addr, with the timeouts of
// cfg: a client that sends its request slowly, or keeps an idle connection
// open, is cut off rather than holding a connection and a goroutine. What
// the server logs (a TLS or protocol error) goes to log, as warnings.
func newHTTPServer(cfg config, addr string, handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: cfg.readHeaderTimeout,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
	}
}
