package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// wantOutage checks that a request during an outage answers 503
// store_unavailable and leaves the client's cookie alone: an outage is not
// a logout.
func wantOutage(t *testing.T, cl *apptest.Client, method, path string, body any) {
	t.Helper()
	before := cl.SessionCookie()
	r := cl.Do(method, path, body)
	if r.Status != http.StatusServiceUnavailable || r.Code() != "store_unavailable" {
		t.Errorf("%s %s during the outage: %d %s; want 503 store_unavailable", method, path, r.Status, r.Body)
	}
	if strings.Contains(r.Header.Get("Set-Cookie"), "sid=") {
		t.Errorf("%s %s during the outage touched the cookie: %s", method, path, r.Header.Get("Set-Cookie"))
	}
	if after := cl.SessionCookie(); before != nil && (after == nil || after.Value != before.Value) {
		t.Errorf("the session cookie changed during the outage")
	}
}

// A Redis of the test's own goes away and comes back: requests in between
// answer 503, never 401 or 500, and the application recovers by itself.
func TestRedisOutage(t *testing.T) {
	apptest.NoLeaks(t)
	srv := testenv.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 300 * time.Millisecond, ReadTimeout: time.Second, MaxRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Now: clock.Now})
	a := apptest.NewApp(t, store, apptest.SQLiteDB(t), clock)
	cl := a.Client(t)
	cl.Register("oscar", "oscar's password")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")

	srv.Stop()
	for range 3 {
		wantOutage(t, cl, "GET", "/me", nil)
	}
	wantOutage(t, cl, "POST", "/cart?item=x", nil)
	wantOutage(t, cl, "POST", "/logout", nil)
	wantOutage(t, a.Client(t), "POST", "/login", apptest.Creds("oscar", "oscar's password"))

	srv.Start()
	testenv.Eventually(t, "the application recovers after Redis came back", func() bool {
		return cl.Do("GET", "/me", nil).Status == http.StatusOK
	})
	// The session survived the outage, and everything works again.
	cl.Want(cl.Do("POST", "/cart?item=y", nil), http.StatusOK, "")
	a.Client(t).Login("oscar", "oscar's password")
	cl.Want(cl.Do("POST", "/logout", nil), http.StatusNoContent, "")
	a.Server.Close()
	c.Close()
}

// PostgreSQL through a connection pool that was closed: 503.
func TestPostgresClosedPool(t *testing.T) {
	apptest.NoLeaks(t)
	clock := fakeclock.New(time.Time{})
	db := apptest.PostgresDB(t)
	store := apptest.GormStore(t, db, clock)
	a := apptest.NewApp(t, store, db, clock)
	cl := a.Client(t)
	cl.Register("pia", "pia's password")
	sqlDB, _ := db.DB()
	_ = sqlDB.Close()
	for range 2 {
		wantOutage(t, cl, "GET", "/me", nil)
	}
	wantOutage(t, cl, "POST", "/logout-all", nil)
	a.Server.Close()
}

// PostgreSQL behind a network that fails and heals: 503 while it is down,
// and the pool reconnects by itself.
func TestPostgresNetworkOutage(t *testing.T) {
	apptest.NoLeaks(t)
	base := apptest.PostgresDB(t) // a schema of the test's own
	var schema string
	base.Raw("SELECT current_schema()").Scan(&schema)
	proxy := testenv.NewProxy(t, "127.0.0.1:5432")
	dsn := "postgres://postgres@" + proxy.Addr() + "/test?sslmode=disable&connect_timeout=2&search_path=" + schema
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	clock := fakeclock.New(time.Time{})
	store := apptest.GormStore(t, db, clock)
	a := apptest.NewApp(t, store, db, clock)
	cl := a.Client(t)
	cl.Register("ravi", "ravi's password")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")

	proxy.Cut()
	for range 3 {
		wantOutage(t, cl, "GET", "/me", nil)
	}
	proxy.Restore()
	testenv.Eventually(t, "the application recovers after PostgreSQL came back", func() bool {
		return cl.Do("GET", "/me", nil).Status == http.StatusOK
	})
	cl.Want(cl.Do("POST", "/cart?item=z", nil), http.StatusOK, "")
	a.Server.Close()
	_ = sqlDB.Close()
	proxy.Cut()
}
