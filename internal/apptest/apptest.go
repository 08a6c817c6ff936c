// Package apptest runs an application on ginauth's prebuilt routes over real
// HTTP, on each backend the end-to-end tests use, and drives it as a browser
// or API client would.
//
// It is the shared harness of the end-to-end tests of auth, session,
// middleware and handlers, which live beside the code they test: an App
// (the routes of handlers.Mount and a few of an application's own, on a
// session store, a user database and a fake clock), a Client with a cookie
// jar, and session cookies made by other managers. Only tests import it.
package apptest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	mysqldriver "github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// testSecret signs the cookies of every App.
var testSecret = []byte("handlers-test-secret-0123456789abcdef")

// Account is an application's own user type, extending the base model.
type Account struct {
	models.User
	models.Email
	Nickname string `json:"nickname"`
}

// Backend is a place to keep sessions (and users) for the end-to-end tests.
type Backend struct {
	Name string // memory, redis, sqlite or postgres
	// Open returns a session store on the clock, and the database for users.
	Open func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB)
}

// Backends are the session stores the end-to-end tests run on: memory,
// Redis, SQLite and PostgreSQL, with users in SQLite or in the same
// database.
var Backends = []Backend{
	{"memory", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		m := memstore.New(memstore.Options{Now: clock.Now})
		t.Cleanup(func() { _ = m.Close() })
		return m, SQLiteDB(t)
	}},
	{"redis", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		c, prefix := testenv.RedisClient(t)
		return redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now}), SQLiteDB(t)
	}},
	{"sqlite", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		db := SQLiteDB(t)
		return GormStore(t, db, clock), db
	}},
	{"postgres", func(t testing.TB, clock *fakeclock.Clock) (sessionstore.IndexedStore, *gorm.DB) {
		db := PostgresDB(t)
		return GormStore(t, db, clock), db
	}},
}

// EachBackend runs fn against every backend, each in a subtest of its name.
func EachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// UserDBs open the databases that users are kept in for the tests of
// username handling: every SQL dialect, each with its default collation.
var UserDBs = []struct {
	Name string
	Open func(t testing.TB) *gorm.DB
}{
	{"sqlite", SQLiteDB},
	{"postgres", PostgresDB},
	{"mariadb", mysqlDB},
}

// SQLiteDB opens a SQLite database in the test's temporary folder.
func SQLiteDB(t testing.TB) *gorm.DB {
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "e2e.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// PostgresDB returns a connection to PostgreSQL whose tables go in a schema
// of the test's own, dropped at cleanup.
func PostgresDB(t testing.TB) *gorm.DB {
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

// GormStore returns a session store in db on the clock, migrated, with no
// background pruning, closed at cleanup.
func GormStore(t testing.TB, db *gorm.DB, clock *fakeclock.Clock) sessionstore.IndexedStore {
	s, err := gormstore.New(db, gormstore.Options{AutoMigrate: true, Now: clock.Now, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NoLeaks checks, after every other cleanup of the test, that no goroutine
// the test started is left.
func NoLeaks(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}
