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
	"path/filepath"
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

// SkipLogEnv names the environment variable that, when set, names a file to
// which every skip through this package appends one line: kind, package
// folder, test, service and reason, separated by tabs. .ci/run sets it and
// prints the file after the tests, so that no skip goes unseen.
const SkipLogEnv = "GINAUTH_SKIP_LOG"

// Missing is for a service that CI provides (Redis, PostgreSQL, MariaDB,
// Chromium, redis-server): it skips the test with the reason, or fails it
// when services are required (REQUIRE_SERVICES=1).
func Missing(t testing.TB, service, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (REQUIRE_SERVICES=1) but unavailable: %s", service, reason)
	}
	skip(t, "required", service, reason+" (set REQUIRE_SERVICES=1 to make this a failure)")
}

// Optional is for a service that neither CI nor a developer machine is
// expected to provide (a real MongoDB beside the in-process FerretDB): it
// skips the test with the reason, REQUIRE_SERVICES or not.
func Optional(t testing.TB, service, reason string) {
	t.Helper()
	skip(t, "optional", service, reason)
}

// SkipIfShort skips the test under -short, saying what it would have done
// (started a cluster, a browser, ...).
func SkipIfShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		skip(t, "short", "", what)
	}
}

// skip logs "SKIP(kind) service: reason" (or "SKIP(short): reason"), appends the same to the file
// named by GINAUTH_SKIP_LOG, if any, and skips the test.
func skip(t testing.TB, kind, service, reason string) {
	t.Helper()
	if name := os.Getenv(SkipLogEnv); name != "" {
		line := strings.Join([]string{kind, packageDir(), t.Name(), service, oneLine(reason)}, "\t") + "\n"
		// One write with O_APPEND: the test binaries of several packages
		// append at once, and each line lands whole.
		f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString(line)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Errorf("%s: %v", SkipLogEnv, err)
		}
	}
	if service == "" {
		t.Skipf("SKIP(%s): %s", kind, reason)
	}
	t.Skipf("SKIP(%s) %s: %s", kind, service, reason)
}

// packageDir returns the test's package folder relative to the folder of
// go.work (go test runs a test binary in its package's folder), or the
// absolute folder when there is no go.work above it.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			if rel, err := filepath.Rel(d, wd); err == nil {
				return filepath.ToSlash(rel)
			}
			return wd
		}
		up := filepath.Dir(d)
		if up == d {
			return wd
		}
		d = up
	}
}

func oneLine(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
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
