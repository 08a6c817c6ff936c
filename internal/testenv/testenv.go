// Package testenv finds the real services that tests talk to, and decides what
// a test does when one is missing: skip with the reason, or fail when
// REQUIRE_SERVICES=1.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Default addresses of the services a developer machine and CI provide.
const (
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test?parseTime=true&multiStatements=false"
)

// Required reports whether missing services fail the run (REQUIRE_SERVICES=1).
func Required() bool { return os.Getenv("REQUIRE_SERVICES") == "1" }

// Missing skips the test with the reason, or fails it when services are required.
func Missing(t testing.TB, service, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (REQUIRE_SERVICES=1) but unavailable: %s", service, reason)
	}
	t.Skipf("skipping %s tests: %s (set REQUIRE_SERVICES=1 to make this a failure)", service, reason)
}

// RedisURL returns REDIS_URL or the default, after checking that something
// listens there.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := env("REDIS_URL", DefaultRedisURL)
	if err := reachable(u, "6379"); err != nil {
		Missing(t, "Redis", err.Error())
	}
	return u
}

// PostgresURL returns DATABASE_URL_POSTGRES or the default local test database.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := env("DATABASE_URL_POSTGRES", DefaultPostgresURL)
	if err := reachable(u, "5432"); err != nil {
		Missing(t, "PostgreSQL", err.Error())
	}
	return u
}

// MySQLDSN returns DATABASE_URL_MYSQL (a go-sql-driver DSN) or the default.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	dsn := env("DATABASE_URL_MYSQL", DefaultMySQLDSN)
	addr := "127.0.0.1:3306"
	if i, j := strings.Index(dsn, "tcp("), strings.Index(dsn, ")/"); i >= 0 && j > i {
		addr = dsn[i+4 : j]
	}
	if err := dial(addr); err != nil {
		Missing(t, "MySQL/MariaDB", err.Error())
	}
	return dsn
}

// Unique returns a short random name part, so that concurrent or repeated test
// runs against one server never share keys or tables.
func Unique() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func reachable(rawURL, defPort string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad URL: %v", err)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = defPort
	}
	return dial(net.JoinHostPort(host, port))
}

func dial(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("nothing answers at %s", addr)
	}
	return c.Close()
}

// ClosedAddr returns a loopback address where nothing listens: a server
// that is down.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
