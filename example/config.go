package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/redis/go-redis/v9"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth/oauth"
	"github.com/ginauth/ginauth/mail/smtpmail"
	"github.com/ginauth/ginauth/session"
)

// defaultAddr is where the app listens when ADDR is unset.
const defaultAddr = "127.0.0.1:8080"

// config is the example's environment (see the package documentation).
type config struct {
	addr, metricsAddr                string
	databaseURL, storeName, redisURL string
	mongoURL                         string
	secrets                          [][]byte
	randomSecret                     bool
	// factorKeys seal the TOTP secrets of second factors
	// (SECOND_FACTOR_KEY), newest first; randomFactorKey says that none
	// was set and a random one serves this process (development only).
	factorKeys            [][]byte
	randomFactorKey       bool
	idle, absolute, touch time.Duration
	// The HTTP server's timeouts (HTTP_*_TIMEOUT).
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	secure                                                    bool
	hostPrefix                                                session.HostPrefix // COOKIE_HOST_PREFIX: unset is the session manager's default
	proxies                                                   []string
	dbMaxConns                                                int
	now                                                       func() time.Time // tests only: the clock
	auditPath                                                 string           // AUDIT_LOG: the file of the audit trail; "": the log
	operator                                                  string           // OPERATOR, or a command's --operator: who runs a command
	logFormat                                                 string           // LOG_FORMAT: "text" or "json"
	logLevel                                                  slog.Level       // LOG_LEVEL
	// maxSessions caps the live sessions of one user
	// (MAX_SESSIONS_PER_USER; 0: no limit), and overLimit says what a
	// sign-in over it does (SESSION_LIMIT).
	maxSessions int
	overLimit   session.OverLimit
	// bcryptCost is, for tests only, the cost of new password hashes, which
	// then may be under auth's floor of 10; 0 is auth's default (12). No
	// environment variable sets it: loadConfig takes it from
	// bcryptCostForTests.
	bcryptCost int
	// smtpURL is where mail goes (SMTP_URL); "": to the log, for
	// development. mailFrom is the sender of the mails (MAIL_FROM), and
	// baseURL the app's address as people reach it, which the links in
	// mails begin with (BASE_URL, without a trailing slash).
	smtpURL, mailFrom, baseURL string
	// passkeyRPID and passkeyOrigin are the relying party of passkeys
	// and the origin they are used from (PASSKEYS, PASSKEY_RP_ID,
	// BASE_URL); both "" when passkeys are off, and passkeysOff then says
	// why. passkeyLocalhost says that BASE_URL's host is a loopback IP
	// address, to which browsers give no passkeys: they work at
	// passkeyOrigin, http://localhost:PORT, instead.
	passkeyRPID, passkeyOrigin, passkeysOff string
	passkeyLocalhost                        bool
	// providers are the OpenID Providers people may sign in with
	// (OIDC_PROVIDERS or OIDC_PROVIDERS_FILE; none when unset), and
	// oauthSignUp lets a first sign-in with one create an account
	// (OAUTH_SIGNUP, default true).
	providers   []oauth.Provider
	oauthSignUp bool
	// command is set for an operator's command, which acts on what the
	// servers use: it records nothing, and checks that its environment
	// names the servers' session store. createTables is set for the
	// servers and the migrate command, the only ones that create tables.
	command, createTables bool
}

// bcryptCostForTests is the bcryptCost of every config loadConfig returns:
// 0, auth's default, except in this package's tests, whose TestMain sets
// it to bcrypt's least. Under the race detector a hash or a comparison at
// cost 12 takes nearly 3 seconds, and the tests make hundreds of them
// through the pages, the API and the operator's commands; that the default
// is what an app without it gets is tested once, in
// TestDefaultBcryptCost. Nothing but the tests sets it.
var bcryptCostForTests int

func loadConfig(getenv func(string) string) (config, error) {
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := config{
		addr:        or("ADDR", defaultAddr),
		metricsAddr: getenv("METRICS_ADDR"),
		databaseURL: or("DATABASE_URL", "ginauth-example.db"),
		storeName:   or("SESSION_STORE", "gorm"),
		redisURL:    or("REDIS_URL", "redis://127.0.0.1:6379/0"),
		mongoURL:    or("MONGODB_URL", "mongodb://127.0.0.1:27017/ginauth"),
		auditPath:   getenv("AUDIT_LOG"),
		operator:    getenv("OPERATOR"),
		smtpURL:     getenv("SMTP_URL"),
		mailFrom:    or("MAIL_FROM", defaultMailFrom),
		now:         time.Now,
		bcryptCost:  bcryptCostForTests,

		createTables: true,

		readHeaderTimeout: 10 * time.Second,
		readTimeout:       20 * time.Second,
		writeTimeout:      30 * time.Second,
		idleTimeout:       60 * time.Second,
	}
	var err error
	if c.logFormat, err = parseLogFormat(getenv("LOG_FORMAT")); err != nil {
		return c, err
	}
	if c.logLevel, err = parseLogLevel(getenv("LOG_LEVEL")); err != nil {
		return c, err
	}
	secrets := getenv("SESSION_SECRET")
	if file := getenv("SESSION_SECRET_FILE"); file != "" {
		if secrets != "" {
			return c, fmt.Errorf("SESSION_SECRET and SESSION_SECRET_FILE are both set: use one")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("SESSION_SECRET_FILE: %w", err)
		}
		if secrets = strings.TrimSpace(string(b)); secrets == "" {
			return c, fmt.Errorf("SESSION_SECRET_FILE: %s is empty", file)
		}
	}
	for _, s := range strings.Split(secrets, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.secrets = append(c.secrets, []byte(s))
		}
	}
	if len(c.secrets) == 0 {
		c.secrets = [][]byte{[]byte(rand.Text() + rand.Text())}
		c.randomSecret = true
	}
	if err := c.loadFactorKeys(getenv("SECOND_FACTOR_KEY")); err != nil {
		return c, err
	}
	durations := []struct {
		name string
		dst  *time.Duration
		http bool // an HTTP timeout: positive
	}{{"IDLE_TIMEOUT", &c.idle, false}, {"ABSOLUTE_TIMEOUT", &c.absolute, false}, {"TOUCH_INTERVAL", &c.touch, false},
		{"HTTP_READ_HEADER_TIMEOUT", &c.readHeaderTimeout, true}, {"HTTP_READ_TIMEOUT", &c.readTimeout, true},
		{"HTTP_WRITE_TIMEOUT", &c.writeTimeout, true}, {"HTTP_IDLE_TIMEOUT", &c.idleTimeout, true}}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			var err error
			if *d.dst, err = time.ParseDuration(v); err != nil {
				return c, fmt.Errorf("%s: %w", d.name, err)
			}
			if d.http && *d.dst <= 0 {
				return c, fmt.Errorf("%s: want a positive duration, got %s (no timeout is not an option)", d.name, v)
			}
		}
	}
	if err := c.checkDatabaseURL(); err != nil {
		return c, err
	}
	c.dbMaxConns = 10
	if v := getenv("DATABASE_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("DATABASE_MAX_CONNS: want a positive number, got %q", v)
		}
		c.dbMaxConns = n
	}
	if v := getenv("COOKIE_SECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("COOKIE_SECURE: %w", err)
		}
		c.secure = b
	}
	if v := getenv("COOKIE_HOST_PREFIX"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("COOKIE_HOST_PREFIX: %w", err)
		}
		c.hostPrefix = session.HostPrefixOff
		if b {
			c.hostPrefix = session.HostPrefixRequired
		}
	}
	if v := getenv("MAX_SESSIONS_PER_USER"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("MAX_SESSIONS_PER_USER: want a number, 0 (no limit) or more, got %q", v)
		}
		c.maxSessions = n
	}
	switch v := getenv("SESSION_LIMIT"); v {
	case "", "end-oldest":
		c.overLimit = session.EndOldest
	case "refuse":
		c.overLimit = session.Refuse
	default:
		return c, fmt.Errorf("SESSION_LIMIT: want end-oldest or refuse, got %q", v)
	}
	for _, p := range strings.Split(getenv("TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.proxies = append(c.proxies, p)
		}
	}
	if err := c.loadMail(getenv("BASE_URL")); err != nil {
		return c, err
	}
	if err := c.loadPasskeys(getenv("PASSKEYS"), getenv("PASSKEY_RP_ID")); err != nil {
		return c, err
	}
	if err := c.loadProviders(getenv("OIDC_PROVIDERS"), getenv("OIDC_PROVIDERS_FILE"), getenv("OAUTH_SIGNUP")); err != nil {
		return c, err
	}
	if c.secure && c.randomFactorKey {
		return c, errors.New("COOKIE_SECURE is true but SECOND_FACTOR_KEY is not set: behind HTTPS the key that seals " +
			"the authenticator apps' secrets must outlive the process and be the same on every instance, or the users " +
			"who turned on two-step sign-in cannot sign in after a restart; set SECOND_FACTOR_KEY to the output of " +
			"\"example secret new\"")
	}
	return c, nil
}

// minFactorKey is the least length of each key of SECOND_FACTOR_KEY, as
// auth.SecondFactor asks.
const minFactorKey = 32

// loadFactorKeys reads SECOND_FACTOR_KEY: comma-separated keys, newest
// first, 32 bytes or more each. Unset, a random key serves this process
// (with a warning at start): enrolments then last as long as it does,
// which is development's need only; COOKIE_SECURE=true refuses that (see
// loadConfig). Messages never repeat a key.
func (c *config) loadFactorKeys(v string) error {
	for i, k := range strings.Split(v, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if len(k) < minFactorKey {
			return fmt.Errorf("SECOND_FACTOR_KEY: key %d is %d bytes, want %d or more (\"example secret new\" makes one)", i+1, len(k), minFactorKey)
		}
		c.factorKeys = append(c.factorKeys, []byte(k))
	}
	if len(c.factorKeys) == 0 {
		c.factorKeys = [][]byte{[]byte(rand.Text() + rand.Text())}
		c.randomFactorKey = true
	}
	return nil
}

// defaultMailFrom is the sender of the mails when MAIL_FROM is unset.
const defaultMailFrom = "ginauth example <no-reply@localhost>"

// loadMail checks SMTP_URL, MAIL_FROM and BASE_URL (baseURL, unset: the
// address of ADDR, on localhost when ADDR is every interface's). Behind
// HTTPS (COOKIE_SECURE=true) mail must go to a server, since the log is
// read by others and the mails carry sign-in tokens, and the links must be
// https. Messages never repeat SMTP_URL, which may hold a password.
func (c *config) loadMail(baseURL string) error {
	if c.smtpURL != "" {
		if _, err := smtpmail.New(smtpmail.Options{URL: c.smtpURL, From: c.mailFrom}); err != nil {
			return fmt.Errorf("SMTP_URL or MAIL_FROM: %w", err)
		}
	} else if _, err := netmail.ParseAddress(c.mailFrom); err != nil || strings.ContainsAny(c.mailFrom, "\r\n") {
		return fmt.Errorf("MAIL_FROM %q is not one address, such as \"Shop <no-reply@shop.example>\"", c.mailFrom)
	}
	if c.secure && c.smtpURL == "" {
		return errors.New("COOKIE_SECURE is true but SMTP_URL is not set: behind HTTPS the app's mails " +
			"(password reset links) must go to a mail server, not to the log; set SMTP_URL=smtp://user:password@host:port")
	}
	if baseURL == "" {
		baseURL = "http://" + localAddr(c.addr)
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("BASE_URL %q: want the app's address as people reach it, such as https://example.org, "+
			"with no user, query or fragment", baseURL)
	}
	if c.secure && u.Scheme != "https" {
		return fmt.Errorf("BASE_URL %q: COOKIE_SECURE is true, so the app is behind HTTPS: "+
			"set BASE_URL to its https:// address, which the links in mails begin with", baseURL)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return fmt.Errorf("BASE_URL %q: mails would carry sign-in tokens over plain HTTP: "+
			"use https, or http on localhost only", baseURL)
	}
	c.baseURL = strings.TrimSuffix(u.String(), "/")
	return nil
}

// loadPasskeys sets the relying party of passkeys from BASE_URL (read
// first): the RP ID is PASSKEY_RP_ID, or BASE_URL's host name, and the
// origin BASE_URL's. Browsers give passkeys to a domain name only: on a
// loopback IP address (the default BASE_URL, http://127.0.0.1:8080) they
// work at http://localhost:PORT, the same server; on another IP address
// they are off, and so they are over http on a host other than localhost
// (app.localhost, say), which WebAuthn refuses. PASSKEYS=false turns
// them off. Whether PASSKEY_RP_ID fits BASE_URL is passkey.New's to say,
// when the app starts.
func (c *config) loadPasskeys(on, rpID string) error {
	if on != "" {
		b, err := strconv.ParseBool(on)
		if err != nil {
			return fmt.Errorf("PASSKEYS: %w", err)
		}
		if !b {
			c.passkeysOff = "PASSKEYS is false"
			return nil
		}
	}
	u, err := url.Parse(c.baseURL)
	if err != nil {
		return fmt.Errorf("BASE_URL: %w", err)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		port = "" // a browser's origin names no default port
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			if rpID == "" {
				c.passkeysOff = fmt.Sprintf("BASE_URL's host %s is an IP address, and browsers give passkeys "+
					"only to a domain name: set BASE_URL to the app's https:// address by name", host)
				return nil
			}
		} else {
			host, c.passkeyLocalhost = "localhost", true
		}
	} else if u.Scheme == "http" && host != "localhost" && rpID == "" {
		c.passkeysOff = fmt.Sprintf("browsers use passkeys over https, or on http://localhost only, not on http://%s", host)
		return nil
	}
	if rpID == "" {
		rpID = host
	}
	c.passkeyRPID = rpID
	c.passkeyOrigin = u.Scheme + "://" + host
	if strings.Contains(host, ":") { // an IPv6 address: refused by passkey.New
		c.passkeyOrigin = u.Scheme + "://[" + host + "]"
	}
	if port != "" {
		c.passkeyOrigin += ":" + port
	}
	return nil
}

// loopback reports whether host is this machine: localhost or a loopback
// address.
func loopback(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// localAddr is ADDR as a browser on this machine reaches it: localhost for
// an address of every interface (0.0.0.0:8080, [::]:8080, :8080).
func localAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// postgres reports whether the database is PostgreSQL (a postgres:// URL)
// rather than a SQLite file.
func (c config) postgres() bool {
	return strings.HasPrefix(c.databaseURL, "postgres://") || strings.HasPrefix(c.databaseURL, "postgresql://")
}

// sqliteSuffixes are the extensions that name a SQLite file in DATABASE_URL.
var sqliteSuffixes = []string{".db", ".sqlite", ".sqlite3"}

// checkDatabaseURL refuses a DATABASE_URL that is neither a postgres:// URL
// nor plainly a SQLite file: a path ending in .db, .sqlite or .sqlite3, or
// one after a sqlite: or file: prefix. Anything else (a libpq keyword
// string, a mysql:// URL, a misspelt scheme) would otherwise become the
// name of a new, empty SQLite file. The message does not repeat the value,
// which may hold a password.
func (c config) checkDatabaseURL() error {
	u := c.databaseURL
	switch {
	case c.postgres():
		return nil
	case strings.HasPrefix(u, "sqlite:") || strings.HasPrefix(u, "file:"):
		if c.sqliteName() == "" {
			return errors.New("DATABASE_URL: sqlite: or file: names no file")
		}
		return nil
	case strings.Contains(u, "://"):
		scheme, _, _ := strings.Cut(u, "://")
		return fmt.Errorf("DATABASE_URL: a %s:// URL is not supported: want a postgres:// URL or a SQLite file", scheme)
	}
	for _, suffix := range sqliteSuffixes {
		if strings.HasSuffix(strings.ToLower(u), suffix) {
			return nil
		}
	}
	return fmt.Errorf("DATABASE_URL is neither a postgres:// URL nor a SQLite file " +
		"(a path ending in .db, .sqlite or .sqlite3, or sqlite:PATH or file:PATH); " +
		"a PostgreSQL keyword string (host=... dbname=...) must be written as a postgres:// URL")
}

// sqliteName is what the SQLite driver opens for DATABASE_URL: the path
// after a sqlite: prefix, a file: URI as it is, or the path.
func (c config) sqliteName() string {
	u := c.databaseURL
	if rest, ok := strings.CutPrefix(u, "sqlite:"); ok {
		return strings.TrimPrefix(rest, "//")
	}
	if strings.HasPrefix(u, "file:") {
		if name, _, _ := strings.Cut(strings.TrimPrefix(u, "file:"), "?"); name == "" {
			return ""
		}
	}
	return u
}

// openDatabase opens PostgreSQL for a postgres:// URL and SQLite otherwise,
// with GORM logging to log (see gormLogger).
func openDatabase(c config, log *slog.Logger) (*gorm.DB, error) {
	gcfg := &gorm.Config{Logger: gormLogger(log)}
	if c.postgres() {
		db, err := gorm.Open(postgres.Open(c.databaseURL), gcfg)
		if err != nil {
			return nil, err
		}
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		// Every instance holds up to this many connections: instances ×
		// DATABASE_MAX_CONNS must stay under the server's max_connections
		// (with room for the LISTEN connection of each and for operators).
		sqlDB.SetMaxOpenConns(c.dbMaxConns)
		sqlDB.SetMaxIdleConns(c.dbMaxConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		return db, nil
	}
	name, sep := c.sqliteName(), "?"
	if strings.Contains(name, "?") {
		sep = "&"
	}
	db, err := gorm.Open(sqlite.Open(name+sep+"_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"), gcfg)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1) // SQLite has one writer
	return db, nil
}

// openRedis connects to REDIS_URL: a single node (redis://host:port/db), a
// Sentinel deployment (?master_name=mymaster&addr=...) or a Cluster
// (redis://host:port?addr=host2:port&addr=host3:port).
func openRedis(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		opts, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return redis.NewFailoverClient(opts), nil
	case q.Has("addr"):
		opts, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return redis.NewClient(opts), nil
}
