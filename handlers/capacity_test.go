package handlers_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/auth/sqlauth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// The figures of "Capacity" in DEPLOYING.md: what a session, an index entry
// and a throttle key cost in Redis and in PostgreSQL, measured on real
// servers through the prebuilt routes, and printed (go test -v -run
// TestCapacity ./handlers). The sessions are what a browser's sign-in
// leaves: a user ID, times, an address and a browser's user agent, and the
// values the login stores.

const (
	capacityUsers = 400 // users that register: one session each
	capacityExtra = 200 // further sign-ins of one user: index entries
	capacityUA    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36"
)

// capacityTrusted lets each failed sign-in come from an address of its
// own (X-Forwarded-For), as a spraying botnet's do.
func capacityTrusted(cfg *apptest.Config) {
	cfg.Session.TrustedProxies = []string{"127.0.0.1"}
	// Every user registers from the test's one address: what is measured
	// is their sessions, not the limit on accounts per address.
	cfg.Auth.Throttle.Signups.Failures = 10 * capacityUsers
}

// fill registers capacityUsers users (one session each), signs one user in
// capacityExtra more times, and fails capacityUsers sign-ins, each with an
// unknown username from an address of its own (two throttle keys each).
// measure is called before and after each phase.
func fill(t *testing.T, a *apptest.App, measure func(phase string)) {
	measure("start")
	for i := range capacityUsers {
		cl := a.Client(t)
		cl.Want(cl.Do("POST", "/register", apptest.Creds(fmt.Sprintf("user%04d", i), "a long enough password"), "User-Agent", capacityUA), 201, "")
	}
	measure("sessions")
	for range capacityExtra {
		cl := a.Client(t)
		cl.Want(cl.Do("POST", "/login", apptest.Creds("user0000", "a long enough password"), "User-Agent", capacityUA), 200, "")
	}
	measure("index")
	for i := range capacityUsers {
		cl := a.Client(t)
		ip := fmt.Sprintf("198.51.%d.%d", i/250, 1+i%250)
		cl.Want(cl.Do("POST", "/login", apptest.Creds(fmt.Sprintf("nobody%04d", i), "wrong password"),
			"User-Agent", capacityUA, "X-Forwarded-For", ip), 401, "invalid_credentials")
	}
	measure("throttle")
}

func TestCapacityRedis(t *testing.T) {
	srv := testenv.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	// Memory is what is measured here, not persistence.
	if err := c.ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Now: clock.Now})
	a := apptest.NewApp(t, store, apptest.SQLiteDB(t), clock, capacityTrusted, func(cfg *apptest.Config) {
		cfg.Auth.Throttle.Store = redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{})
	})

	used, count := map[string]int64{}, map[string]int64{}
	fill(t, a, func(phase string) {
		count[phase] = c.DBSize(ctx).Val()
		info, err := c.InfoMap(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
		if err != nil {
			t.Fatalf("used_memory: %v (%v)", err, info)
		}
		used[phase] = n
	})
	keys := func(pattern string) []string {
		ks, err := c.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	usage := func(key string) int64 {
		n, err := c.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	sessions, indexes, throttles := keys("sess:[^{]*"), keys("sess:{user:*}"), keys("throttle:*")
	if len(sessions) != capacityUsers+capacityExtra || len(indexes) != capacityUsers || count["throttle"]-count["index"] != 2*capacityUsers {
		t.Fatalf("keys: %d sessions, %d indexes, %d throttle keys of failed sign-ins; want %d, %d, %d",
			len(sessions), len(indexes), count["throttle"]-count["index"], capacityUsers+capacityExtra, capacityUsers, 2*capacityUsers)
	}
	var sessionKey int64
	for _, k := range sessions {
		sessionKey += usage(k)
	}
	sessionKey /= int64(len(sessions))
	big := "sess:{user:" + a.UserID(t, "user0000") + "}"

	perSession := float64(used["sessions"]-used["start"]) / capacityUsers
	perLogin := float64(used["index"]-used["sessions"]) / capacityExtra
	perThrottle := float64(used["throttle"]-used["index"]) / (2 * capacityUsers)
	t.Logf("Redis %s: used_memory per signed-in user with one session (session key and a one-entry index): %.0f bytes", serverVersion(t, c), perSession)
	t.Logf("Redis: MEMORY USAGE of a session key: %d bytes on average; of a one-entry index: %d bytes", sessionKey, usage(keys("sess:{user:*}")[0]))
	t.Logf("Redis: used_memory per further session of a user (its key and its index entry): %.0f bytes, so %.0f bytes per index entry (%d entries: %d bytes, %s)",
		perLogin, perLogin-float64(sessionKey), 1+capacityExtra, usage(big), c.ObjectEncoding(ctx, big).Val())
	t.Logf("Redis: used_memory per throttle key: %.0f bytes (MEMORY USAGE %d)", perThrottle, usage(throttles[0]))
	for name, v := range map[string]float64{"session": perSession, "index entry": perLogin - float64(sessionKey), "throttle key": perThrottle} {
		if v <= 0 || v > 8192 {
			t.Errorf("%s: %.0f bytes is not a plausible figure", name, v)
		}
	}
}

func serverVersion(t *testing.T, c *redis.Client) string {
	info, err := c.InfoMap(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	return info["Server"]["redis_version"]
}

func TestCapacityPostgres(t *testing.T) {
	db := apptest.PostgresDB(t)
	clock := fakeclock.New(time.Time{})
	store := apptest.GormStore(t, db, clock)
	throttle, err := sqlauth.NewThrottleStore(db, sqlauth.ThrottleStoreOptions{AutoMigrate: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = throttle.Close() })
	a := apptest.NewApp(t, store, db, clock, capacityTrusted, func(cfg *apptest.Config) { cfg.Auth.Throttle.Store = throttle })

	type sizes struct{ heap, indexes, rows int64 }
	of := func(table string) sizes {
		var s sizes
		// Sizes come from the files: vacuum first, so that the free space
		// map is current and the figures are what a settled table holds.
		if err := db.Exec("VACUUM " + table).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Raw("SELECT pg_table_size(?::regclass), pg_indexes_size(?::regclass), (SELECT count(*) FROM "+table+")",
			table, table).Row().Scan(&s.heap, &s.indexes, &s.rows); err != nil {
			t.Fatal(err)
		}
		return s
	}
	got := map[string]map[string]sizes{}
	fill(t, a, func(phase string) {
		got[phase] = map[string]sizes{"sessions": of("sessions"), "ginauth_throttle": of("ginauth_throttle")}
	})
	per := func(table, from, to string) (heap, idx float64, rows int64) {
		a, b := got[from][table], got[to][table]
		rows = b.rows - a.rows
		return float64(b.heap-a.heap) / float64(rows), float64(b.indexes-a.indexes) / float64(rows), rows
	}
	var version string
	if err := db.Raw("SHOW server_version").Row().Scan(&version); err != nil {
		t.Fatal(err)
	}
	heap, idx, rows := per("sessions", "start", "index")
	t.Logf("PostgreSQL %s: sessions: %.0f bytes of table and %.0f bytes of indexes per row (%d rows)", version, heap, idx, rows)
	var width float64
	if err := db.Raw("SELECT avg(pg_column_size(s.*)) FROM sessions s").Row().Scan(&width); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL: sessions: a row is %.0f bytes wide on average", width)
	theap, tidx, trows := per("ginauth_throttle", "index", "throttle")
	t.Logf("PostgreSQL: ginauth_throttle: %.0f bytes of table and %.0f bytes of indexes per row (%d rows)", theap, tidx, trows)
	indexNames := []string{}
	if err := db.Raw("SELECT indexname FROM pg_indexes WHERE tablename = 'sessions' AND schemaname = current_schema()").Scan(&indexNames).Error; err != nil {
		t.Fatal(err)
	}
	for _, n := range indexNames {
		var size int64
		if err := db.Raw("SELECT pg_relation_size(?::regclass)", n).Row().Scan(&size); err != nil {
			t.Fatal(err)
		}
		t.Logf("PostgreSQL: sessions index %s: %.0f bytes per row", n, float64(size)/float64(rows))
	}
	if rows != capacityUsers+capacityExtra || trows != 2*capacityUsers || heap <= 0 || theap <= 0 {
		t.Errorf("rows %d and %d, sizes %.0f and %.0f: not what the sign-ins should leave", rows, trows, heap, theap)
	}
}
