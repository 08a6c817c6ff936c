package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

func init() { gin.SetMode(gin.ReleaseMode) }

var testSecret = []byte("handlers-test-secret-0123456789abcdef")

// Account is an application's own user type, extending the base model.
type Account struct {
	models.User
	Email string `json:"email"`
}

type userStore = gormusers.Store[Account, *Account]

// backend is a place to keep sessions (and users) for the end-to-end tests.
type backend struct {
	name string
	// open returns a session store on the clock, and the database for users.
	open func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB)
}

func sqliteDB(t testing.TB) *gorm.DB {
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "e2e.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

func postgresDB(t testing.TB) *gorm.DB {
	base := testenv.PostgresURL(t)
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		testenv.Missing(t, "PostgreSQL", err.Error())
	}
	adminDB, _ := admin.DB()
	if err := adminDB.Ping(); err != nil {
		testenv.Missing(t, "PostgreSQL", err.Error())
	}
	// Each test gets a schema of its own: its own users and sessions tables.
	schema := "e2e_" + testenv.Unique()
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	db, err := gorm.Open(postgres.Open(base+sep+"search_path="+schema), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if inner, err := db.DB(); err == nil {
			_ = inner.Close()
		}
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		_ = adminDB.Close()
	})
	return db
}

// mysqlDB returns a database of the test's own on MariaDB/MySQL, dropped at
// cleanup. Its default collation is the server's (utf8mb4_general_ci on
// MariaDB), as an application's would be.
func mysqlDB(t testing.TB) *gorm.DB {
	dsn := testenv.MySQLDSN(t)
	admin, err := gorm.Open(mysql.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		testenv.Missing(t, "MySQL/MariaDB", err.Error())
	}
	adminDB, _ := admin.DB()
	if err := adminDB.Ping(); err != nil {
		testenv.Missing(t, "MySQL/MariaDB", err.Error())
	}
	name := "e2e_" + testenv.Unique()
	if err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4").Error; err != nil {
		t.Fatal(err)
	}
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	db, err := gorm.Open(mysql.Open(cfg.FormatDSN()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if inner, err := db.DB(); err == nil {
			_ = inner.Close()
		}
		admin.Exec("DROP DATABASE " + name)
		_ = adminDB.Close()
	})
	return db
}

// userDBs open the databases that users are kept in for the tests of
// username handling: every SQL dialect, each with its default collation.
var userDBs = []struct {
	name string
	open func(t testing.TB) *gorm.DB
}{
	{"sqlite", sqliteDB},
	{"postgres", postgresDB},
	{"mariadb", mysqlDB},
}

func redisClient(t testing.TB) (*redis.Client, string) { return testenv.RedisClient(t) }

func gormStore(t testing.TB, db *gorm.DB, clock *fakeclock.Clock) sessionstore.IndexedStore {
	s, err := gormstore.New(db, gormstore.Options{AutoMigrate: true, Now: clock.Now, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var backends = []backend{
	{"memory", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		m := memstore.New(memstore.Options{Now: clock.Now})
		t.Cleanup(func() { _ = m.Close() })
		return m, sqliteDB(t)
	}},
	{"redis", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		c, prefix := redisClient(t)
		return redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now}), sqliteDB(t)
	}},
	{"sqlite", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		db := sqliteDB(t)
		return gormStore(t, db, clock), db
	}},
	{"postgres", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		db := postgresDB(t)
		return gormStore(t, db, clock), db
	}},
}

// eachBackend runs fn against every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// app is one instance of an application: a router with the prebuilt routes
// and a few routes of its own, served over real HTTP.
type app struct {
	t     testing.TB
	a     *auth.Auth[*Account]
	users *userStore
	store sessionstore.IndexedStore
	clock *fakeclock.Clock
	srv   *httptest.Server
}

// authConfig is what an application instance is built from: its session
// manager's configuration, its Auth's, and the origins it trusts.
type authConfig struct {
	session session.Config
	auth    auth.Config[*Account]
	origins []string
}

type appOption func(*authConfig)

// newApp builds an application instance on a session store and user
// database; two apps on the same ones behave as two instances of a
// deployment.
func newApp(t testing.TB, store sessionstore.IndexedStore, db *gorm.DB, clock *fakeclock.Clock, opts ...appOption) *app {
	t.Helper()
	users := gormusers.New[Account](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	cfg := authConfig{
		session: session.Config{Store: store, Secrets: [][]byte{testSecret}, Now: clock.Now},
		auth: auth.Config[*Account]{
			Users: users,
			// speed: the cost is a parameter, not what is tested here
			Passwords: auth.Passwords{BcryptCost: 4, AllowLowCost: true},
			Now:       clock.Now,
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	sm, err := session.New(cfg.session)
	if err != nil {
		t.Fatal(err)
	}
	cfg.auth.Sessions = sm
	a, err := auth.New(cfg.auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.origins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			t.Fatal(err)
		}
	}
	r := gin.New()
	r.Use(sm.Middleware())
	handlers.Mount(r.Group("/"), a, handlers.WithRegister(), handlers.WithCrossOrigin(cop))
	r.GET("/private", middleware.RequireAuth(a), func(c *gin.Context) {
		u, _ := a.User(c)
		c.String(http.StatusOK, "hello "+u.Username)
	})
	r.GET("/public", func(c *gin.Context) {
		u, err := a.User(c)
		if err != nil {
			c.String(http.StatusOK, "anonymous")
			return
		}
		c.String(http.StatusOK, "signed in as "+u.Username)
	})
	type cart struct {
		Items []string  `json:"items"`
		At    time.Time `json:"at"`
		N     int       `json:"n"`
	}
	r.POST("/cart", func(c *gin.Context) {
		cur, _ := session.Get[cart](c, "cart")
		cur.Items = append(cur.Items, c.Query("item"))
		cur.N++
		cur.At = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		if err := session.Set(c, "cart", cur); err != nil {
			middleware.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, cur)
	})
	r.GET("/cart", func(c *gin.Context) {
		cur, ok := session.Get[cart](c, "cart")
		c.JSON(http.StatusOK, gin.H{"ok": ok, "cart": cur})
	})
	r.POST("/set", func(c *gin.Context) {
		if err := session.Set(c, c.Query("k"), c.Query("v")); err != nil {
			middleware.WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/get", func(c *gin.Context) {
		v, ok := session.Get[string](c, c.Query("k"))
		c.JSON(http.StatusOK, gin.H{"ok": ok, "v": v})
	})
	// The README's way of changing a field of the user: a copy from the
	// store, written, then the cached copy dropped.
	r.POST("/profile", middleware.RequireAuth(a), func(c *gin.Context) {
		me, _ := a.User(c)
		acct, err := users.FindByID(c, me.AuthID())
		if err != nil {
			middleware.WriteError(c, err)
			return
		}
		acct.Email = c.Query("email")
		if err := users.Update(c, acct, "Email"); err != nil {
			middleware.WriteError(c, err)
			return
		}
		a.InvalidateUser(acct.AuthID())
		c.Status(http.StatusNoContent)
	})
	r.POST("/app-action", middleware.CrossOrigin(cop), func(c *gin.Context) {
		c.Status(http.StatusNoContent)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &app{t: t, a: a, users: users, store: store, clock: clock, srv: srv}
}

// newEnv builds one application on the backend.
func newEnv(t *testing.T, b backend, opts ...appOption) *app {
	clock := fakeclock.New(time.Time{})
	store, db := b.open(t, clock)
	return newApp(t, store, db, clock, opts...)
}

// client is a browser or API client with a cookie jar.
type client struct {
	t    testing.TB
	base string
	http *http.Client
	jar  http.CookieJar
}

func (a *app) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: a.srv.URL, jar: jar, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// on returns a client of another application instance sharing this
// client's cookies.
func (cl *client) on(other *app) *client {
	c := *cl
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(other.srv.URL)
	from, _ := url.Parse(cl.base)
	jar.SetCookies(u, cl.jar.Cookies(from))
	c.jar, c.base = jar, other.srv.URL
	c.http = &http.Client{Jar: jar, CheckRedirect: cl.http.CheckRedirect}
	return &c
}

type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *response) code() string {
	s, _ := r.json["code"].(string)
	return s
}

func (r *response) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends a request; body may be nil, a string (sent as is, with
// contentType), or anything else (sent as JSON).
func (cl *client) do(method, path string, body any, headers ...string) *response {
	cl.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, cl.base+path, rd)
	if err != nil {
		cl.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := cl.http.Do(req)
	if err != nil {
		cl.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := &response{status: res.StatusCode, header: res.Header}
	out.body, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(out.body, &out.json)
	return out
}

func (cl *client) want(r *response, status int, code string) {
	cl.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		cl.t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
}

func creds(user, pw string) map[string]any { return map[string]any{"username": user, "password": pw} }

func (cl *client) register(user, pw string) *response {
	cl.t.Helper()
	r := cl.do("POST", "/register", creds(user, pw))
	cl.want(r, http.StatusCreated, "")
	return r
}

func (cl *client) login(user, pw string) *response {
	cl.t.Helper()
	r := cl.do("POST", "/login", creds(user, pw))
	cl.want(r, http.StatusOK, "")
	return r
}

// sessionCookie returns the client's current session cookie, or nil.
func (cl *client) sessionCookie() *http.Cookie {
	u, _ := url.Parse(cl.base)
	for _, c := range cl.jar.Cookies(u) {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}

// withCookie returns a fresh client that carries only the given cookie, as
// an attacker replaying a stolen one would.
func (a *app) withCookie(t testing.TB, c *http.Cookie) *client {
	cl := a.client(t)
	u, _ := url.Parse(a.srv.URL)
	cl.jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value}})
	return cl
}

// plantedCookie is a correctly signed cookie for an ID the server never
// issued: what an attacker who knows the secret's output format, or a
// leaked cookie of a destroyed session, would present.
func plantedCookie(t testing.TB) *http.Cookie {
	return &http.Cookie{Name: "sid", Value: forgeCookie(t, testSecret, true)}
}

// forgeCookie returns a session cookie value that secret signs, for a
// session that no store of the tests holds: it is made by a manager of its
// own, on a store of its own. signedIn says whether the session was signed
// in (the cookie says so).
func forgeCookie(t testing.TB, secret []byte, signedIn bool) string {
	t.Helper()
	sm, err := session.New(session.Config{Store: memstore.New(memstore.Options{}), Secrets: [][]byte{secret}})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(sm.Middleware())
	r.GET("/", func(c *gin.Context) {
		if signedIn {
			_ = session.From(c).Bind(session.Binding{UserID: "nobody"})
			return
		}
		_ = session.Set(c, "k", 1)
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			return c.Value
		}
	}
	t.Fatal("no cookie was set")
	return ""
}

// signedBy reports whether secret signs the cookie value of a signed-in
// session: a manager with that secret alone reads it as a genuine cookie
// of a session that ended, not as garbage.
func signedBy(t testing.TB, secret []byte, value string) bool {
	t.Helper()
	sm, err := session.New(session.Config{Store: memstore.New(memstore.Options{}), Secrets: [][]byte{secret}})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(sm.Middleware())
	expired := false
	r.GET("/", func(c *gin.Context) { expired = session.From(c).Expired() })
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: value})
	r.ServeHTTP(httptest.NewRecorder(), req)
	return expired
}
