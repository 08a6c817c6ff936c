package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// noLeaks checks, after every other cleanup of the test, that no goroutine
// the test started is left.
func noLeaks(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// wantOutage checks that a request during an outage answers 503
// store_unavailable and leaves the client's cookie alone: an outage is not
// a logout.
func wantOutage(t *testing.T, cl *client, method, path string, body any) {
	t.Helper()
	before := cl.sessionCookie()
	r := cl.do(method, path, body)
	if r.status != http.StatusServiceUnavailable || r.code() != "store_unavailable" {
		t.Errorf("%s %s during the outage: %d %s; want 503 store_unavailable", method, path, r.status, r.body)
	}
	if strings.Contains(r.header.Get("Set-Cookie"), "sid=") {
		t.Errorf("%s %s during the outage touched the cookie: %s", method, path, r.header.Get("Set-Cookie"))
	}
	if after := cl.sessionCookie(); before != nil && (after == nil || after.Value != before.Value) {
		t.Errorf("the session cookie changed during the outage")
	}
}

// A Redis of the test's own goes away and comes back: requests in between
// answer 503, never 401 or 500, and the application recovers by itself.
func TestRedisOutage(t *testing.T) {
	noLeaks(t)
	srv := testenv.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 300 * time.Millisecond, ReadTimeout: time.Second, MaxRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Now: clock.Now})
	a := newApp(t, store, sqliteDB(t), clock)
	cl := a.client(t)
	cl.register("oscar", "oscar's password")
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")

	srv.Stop()
	for range 3 {
		wantOutage(t, cl, "GET", "/me", nil)
	}
	wantOutage(t, cl, "POST", "/cart?item=x", nil)
	wantOutage(t, cl, "POST", "/logout", nil)
	wantOutage(t, a.client(t), "POST", "/login", creds("oscar", "oscar's password"))

	srv.Start()
	testenv.Eventually(t, "the application recovers after Redis came back", func() bool {
		return cl.do("GET", "/me", nil).status == http.StatusOK
	})
	// The session survived the outage, and everything works again.
	cl.want(cl.do("POST", "/cart?item=y", nil), http.StatusOK, "")
	a.client(t).login("oscar", "oscar's password")
	cl.want(cl.do("POST", "/logout", nil), http.StatusNoContent, "")
	a.srv.Close()
	c.Close()
}

// PostgreSQL through a connection pool that was closed: 503.
func TestPostgresClosedPool(t *testing.T) {
	noLeaks(t)
	clock := fakeclock.New(time.Time{})
	db := postgresDB(t)
	store := gormStore(t, db, clock)
	a := newApp(t, store, db, clock)
	cl := a.client(t)
	cl.register("pia", "pia's password")
	sqlDB, _ := db.DB()
	_ = sqlDB.Close()
	for range 2 {
		wantOutage(t, cl, "GET", "/me", nil)
	}
	wantOutage(t, cl, "POST", "/logout-all", nil)
	a.srv.Close()
}

// PostgreSQL behind a network that fails and heals: 503 while it is down,
// and the pool reconnects by itself.
func TestPostgresNetworkOutage(t *testing.T) {
	noLeaks(t)
	base := postgresDB(t) // a schema of the test's own
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
	store := gormStore(t, db, clock)
	a := newApp(t, store, db, clock)
	cl := a.client(t)
	cl.register("ravi", "ravi's password")
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")

	proxy.Cut()
	for range 3 {
		wantOutage(t, cl, "GET", "/me", nil)
	}
	proxy.Restore()
	testenv.Eventually(t, "the application recovers after PostgreSQL came back", func() bool {
		return cl.do("GET", "/me", nil).status == http.StatusOK
	})
	cl.want(cl.do("POST", "/cart?item=z", nil), http.StatusOK, "")
	a.srv.Close()
	_ = sqlDB.Close()
	proxy.Cut()
}
