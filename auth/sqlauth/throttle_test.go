package sqlauth_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/sqlauth"
	"github.com/ginauth/ginauth/auth/throttletest"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
)

type dialect struct {
	name string
	// open opens the database; SQLite's file lives in dir, so that two
	// pools opened with one dir share it.
	open func(t testing.TB, dir string) gorm.Dialector
	// down is the dialect pointed at a port where nothing listens; nil for
	// SQLite, whose outage is a closed pool.
	down func(t testing.TB) gorm.Dialector
}

var dialects = []dialect{
	{"SQLite", func(t testing.TB, dir string) gorm.Dialector {
		return sqlite.Open(filepath.Join(dir, "throttle.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	}, nil},
	{"PostgreSQL", func(t testing.TB, _ string) gorm.Dialector { return postgres.Open(testenv.PostgresURL(t)) },
		func(t testing.TB) gorm.Dialector {
			return postgres.Open("postgres://postgres@" + testenv.ClosedAddr(t) + "/test?sslmode=disable&connect_timeout=2")
		}},
	{"MySQL", func(t testing.TB, _ string) gorm.Dialector { return mysql.Open(testenv.MySQLDSN(t)) },
		func(t testing.TB) gorm.Dialector {
			// Skip the version query the dialect sends when it opens.
			return mysql.New(mysql.Config{DSN: "root@tcp(" + testenv.ClosedAddr(t) + ")/test?timeout=2s", SkipInitializeWithVersion: true})
		}},
}

// server is one database for one test: pools on it share its tables.
type server struct {
	d   dialect
	dir string
}

// pool opens a connection pool of its own on the server, closed at
// cleanup: an instance of the application.
func (s server) pool(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(s.d.open(t, s.dir), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		testenv.Missing(t, s.d.name, err.Error())
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Ping(); err != nil {
		testenv.Missing(t, s.d.name, err.Error())
	}
	sqlDB.SetMaxOpenConns(8) // the server is shared: a burst waits for a connection
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// openGORM opens the dialect's database and returns it with a table name of
// its own, dropped afterwards.
func openGORM(t testing.TB, d dialect) (server, *gorm.DB, string) {
	t.Helper()
	s := server{d: d, dir: t.TempDir()}
	db := s.pool(t)
	table := "ginauth_throttle_test_" + testenv.Unique()
	t.Cleanup(func() { _ = db.Migrator().DropTable(table) })
	return s, db, table
}

func newThrottle(t testing.TB, db *gorm.DB, opts sqlauth.ThrottleStoreOptions) *sqlauth.ThrottleStore {
	t.Helper()
	opts.AutoMigrate = true
	if opts.PruneInterval == 0 {
		opts.PruneInterval = -1
	}
	th, err := sqlauth.NewThrottleStore(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = th.Close() })
	return th
}

func forEachDialect(t *testing.T, test func(t *testing.T, d dialect)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { test(t, d) })
	}
}

func TestThrottle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, db, table := openGORM(t, d)
		th := newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table})
		throttletest.Run(t, func(*testing.T) auth.ThrottleStore { return th })
	})
}

var (
	rule   = throttletest.Rule
	strict = auth.ThrottleRule{Failures: 1, Window: time.Hour, BaseDelay: 3 * time.Minute, MaxDelay: time.Hour}
	start  = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

// Instances on pools of their own share the counts: a burst on two keys,
// split between two instances and naming the keys in both orders, gets
// exactly the reservations the rule allows, the rest are told ErrInFlight
// (as is, not as an outage), and no call fails otherwise (no deadlock is
// left unretried).
func TestThrottleInstancesShareCounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv, db, table := openGORM(t, d)
		instances := []*sqlauth.ThrottleStore{
			newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table}),
			newThrottle(t, srv.pool(t), sqlauth.ThrottleStoreOptions{Table: table}),
		}
		five := auth.ThrottleRule{Failures: 5, Window: time.Hour, BaseDelay: time.Hour, MaxDelay: time.Hour}
		user := auth.ThrottleKey{Key: "u:" + testenv.Unique(), Rule: five}
		ip := auth.ThrottleKey{Key: "ip:" + testenv.Unique(), Rule: five}
		const n = 120
		var granted, inFlight atomic.Int64
		var wg sync.WaitGroup
		release := make(chan struct{})
		for i := range n {
			keys := []auth.ThrottleKey{user, ip}
			if i/2%2 == 1 {
				keys = []auth.ThrottleKey{ip, user}
			}
			wg.Go(func() {
				<-release
				w, err := instances[i%2].Reserve(context.Background(), start, keys)
				switch {
				case err == auth.ErrInFlight:
					inFlight.Add(1)
				case err != nil:
					t.Error(err)
				case w == 0:
					granted.Add(1)
				default:
					t.Errorf("refused for a lockout of %v with no failure", w)
				}
			})
		}
		close(release)
		wg.Wait()
		if g := granted.Load(); g != 5 || inFlight.Load() != n-5 {
			t.Errorf("%d parallel attempts on two instances: %d reserved, %d in flight; want exactly 5 reserved", n, g, inFlight.Load())
		}
		// The instances settle them all as failures: both keys are locked,
		// on both instances.
		for i := range 5 {
			both := []auth.Settlement{{ThrottleKey: user, Verdict: auth.Failed, Reserved: true}, {ThrottleKey: ip, Verdict: auth.Failed, Reserved: true}}
			if _, err := instances[i%2].Settle(context.Background(), start, both); err != nil {
				t.Fatal(err)
			}
		}
		for _, th := range instances {
			if w, err := th.Check(context.Background(), start, []auth.ThrottleKey{ip}); err != nil || w != time.Hour {
				t.Errorf("Check after five failures = %v, %v; want locked for 1h", w, err)
			}
		}
	})
}

// The SQL throttle answers exactly what auth's in-memory throttle answers,
// call for call, over a random history of checks, reservations and
// settlements (some naming a key twice, some not reserved), time passing,
// and prunes between them.
func TestThrottleMatchesMemory(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, db, table := openGORM(t, d)
		th := newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table, PruneBatch: 3})
		mem := auth.NewMemoryThrottleStore(auth.MemoryThrottleStoreOptions{})
		ops := 400
		if d.name == "SQLite" {
			ops = 1500
		}
		rules := []auth.ThrottleRule{
			rule,
			strict,
			{Failures: 3, Window: 2 * time.Minute, BaseDelay: 30 * time.Second, MaxDelay: 10 * time.Minute},
		}
		var pool []auth.ThrottleKey
		for i := range 6 {
			pool = append(pool, auth.ThrottleKey{Key: "k" + testenv.Unique(), Rule: rules[i%3]})
		}
		rnd := rand.New(rand.NewPCG(1, uint64(len(d.name))))
		steps := []time.Duration{0, time.Millisecond, time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 16 * time.Minute}
		ctx := context.Background()
		now := start
		for op := range ops {
			now = now.Add(steps[rnd.IntN(len(steps))])
			keys := []auth.ThrottleKey{pool[rnd.IntN(len(pool))]}
			for rnd.IntN(3) == 0 {
				keys = append(keys, pool[rnd.IntN(len(pool))]) // sometimes the same key twice
			}
			switch rnd.IntN(7) {
			case 0, 1, 2:
				want, wantErr := mem.Reserve(ctx, now, keys)
				got, err := th.Reserve(ctx, now, keys)
				if err != wantErr || got != want {
					t.Fatalf("op %d: Reserve(%v) = %v, %v; the memory throttle says %v, %v", op, names(keys), got, err, want, wantErr)
				}
			case 3, 4:
				s := make([]auth.Settlement, len(keys))
				for i, k := range keys {
					s[i] = auth.Settlement{ThrottleKey: k, Verdict: auth.Verdict(rnd.IntN(3)), Reserved: rnd.IntN(4) != 0}
				}
				want, _ := mem.Settle(ctx, now, s)
				got, err := th.Settle(ctx, now, s)
				if err != nil || got != want {
					t.Fatalf("op %d: Settle(%v) = %v, %v; the memory throttle says %v", op, s, got, err, want)
				}
			case 5:
				want, _ := mem.Check(ctx, now, keys)
				got, err := th.Check(ctx, now, keys)
				if err != nil || got != want {
					t.Fatalf("op %d: Check(%v) = %v, %v; the memory throttle says %v", op, names(keys), got, err, want)
				}
			case 6:
				if _, err := th.Prune(ctx, now); err != nil {
					t.Fatalf("op %d: Prune: %v", op, err)
				}
			}
		}
	})
}

func names(keys []auth.ThrottleKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Key
	}
	return out
}

// Keys are compared byte for byte, whatever the database's collation: on
// MySQL, "Alice" and "alice", or "a" and "a ", would otherwise be one row.
func TestThrottleKeysAreExact(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, db, table := openGORM(t, d)
		th := newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table})
		ctx := context.Background()
		base := "u:Alice-" + testenv.Unique()
		if w, err := th.Reserve(ctx, start, []auth.ThrottleKey{{Key: base, Rule: strict}}); err != nil || w != 0 {
			t.Fatalf("Reserve = %v, %v", w, err)
		}
		long := base + strings.Repeat("é", 400)
		for _, k := range []string{strings.ToLower(base), base + " ", "\x00" + base, long} {
			if w, err := th.Reserve(ctx, start, []auth.ThrottleKey{{Key: k, Rule: strict}}); err != nil || w != 0 {
				t.Errorf("Reserve(%.20q) = %v, %v; want a key of its own", k, w, err)
			}
		}
		if _, err := th.Reserve(ctx, start, []auth.ThrottleKey{{Key: long, Rule: strict}}); err != auth.ErrInFlight {
			t.Errorf("a long key, again: %v, want ErrInFlight", err)
		}
		if _, err := th.Settle(ctx, start, []auth.Settlement{{ThrottleKey: auth.ThrottleKey{Key: long, Rule: strict}, Verdict: auth.Failed, Reserved: true}}); err != nil {
			t.Fatal(err)
		}
		if w, err := th.Check(ctx, start, []auth.ThrottleKey{{Key: long, Rule: strict}}); err != nil || w != strict.BaseDelay {
			t.Errorf("a long key after its failure: %v, %v; want locked for %v", w, err, strict.BaseDelay)
		}
		if w, err := th.Check(ctx, start, []auth.ThrottleKey{{Key: base, Rule: strict}}); err != nil || w != 0 {
			t.Errorf("its prefix: %v, %v; want not locked", w, err)
		}
	})
}

func rows(t testing.TB, db *gorm.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Rows go once they have nothing left to remember (a window after the last
// failure, when the lockout ends if that is later, a ReservationTTL after
// the last reservation of one never settled), not a millisecond before; a
// check or a refused attempt leaves no row; a settlement that leaves
// nothing to remember deletes its row; a pruned key starts afresh.
func TestThrottlePrune(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, db, table := openGORM(t, d)
		th := newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table, PruneBatch: 7})
		ctx := context.Background()
		reserve := func(now time.Time, keys ...auth.ThrottleKey) (time.Duration, error) {
			t.Helper()
			w, err := th.Reserve(ctx, now, keys)
			if err != nil && err != auth.ErrInFlight {
				t.Fatal(err)
			}
			return w, err
		}
		settle := func(now time.Time, v auth.Verdict, keys ...auth.ThrottleKey) time.Duration {
			t.Helper()
			s := make([]auth.Settlement, len(keys))
			for i, k := range keys {
				s[i] = auth.Settlement{ThrottleKey: k, Verdict: v, Reserved: true}
			}
			w, err := th.Settle(ctx, now, s)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		prune := func(now time.Time, want int) {
			t.Helper()
			if n, err := th.Prune(ctx, now); err != nil || n != want {
				t.Fatalf("Prune at +%v = %d, %v; want %d", now.Sub(start), n, err, want)
			}
		}
		for range 25 {
			reserve(start, auth.ThrottleKey{Key: "flood:" + testenv.Unique(), Rule: rule}) // never settled
		}
		user := auth.ThrottleKey{Key: "u:" + testenv.Unique(), Rule: rule}
		for range 5 {
			reserve(start, user)
			settle(start, auth.Failed, user) // locked for a minute, remembered for the window
		}
		longLock := auth.ThrottleRule{Failures: 1, Window: time.Minute, BaseDelay: time.Hour, MaxDelay: time.Hour}
		locked := auth.ThrottleKey{Key: "ip:" + testenv.Unique(), Rule: longLock}
		reserve(start, locked)
		settle(start, auth.Failed, locked) // remembered until its lockout ends
		newKey := auth.ThrottleKey{Key: "u:" + testenv.Unique(), Rule: rule}
		if w, _ := reserve(start.Add(time.Second), newKey, locked); w == 0 {
			t.Fatal("locked key not refused")
		}
		busy := auth.ThrottleKey{Key: "ip:" + testenv.Unique(), Rule: strict}
		reserve(start, busy)
		if _, err := reserve(start, newKey, busy); err != auth.ErrInFlight {
			t.Fatalf("a key with its attempt in flight: %v, want ErrInFlight", err)
		}
		if w, err := th.Check(ctx, start, []auth.ThrottleKey{newKey, {Key: "u:" + testenv.Unique(), Rule: rule}}); err != nil || w != 0 {
			t.Fatalf("Check of new keys = %v, %v", w, err)
		}
		if n := rows(t, db, table); n != 28 {
			t.Fatalf("%d rows, want 28: a check or a refused attempt must leave no row", n)
		}
		// Settled with nothing left to remember: the row goes at once.
		settle(start, auth.Unjudged, busy)
		for _, v := range []auth.Verdict{auth.Unjudged, auth.Cleared} {
			k := auth.ThrottleKey{Key: "u:" + testenv.Unique(), Rule: rule}
			reserve(start, k)
			settle(start, v, k)
		}
		// A success with another attempt in flight keeps the row for it.
		other := auth.ThrottleKey{Key: "u:" + testenv.Unique(), Rule: rule}
		reserve(start, other)
		reserve(start, other)
		settle(start, auth.Cleared, other)
		if n := rows(t, db, table); n != 28 {
			t.Fatalf("%d rows, want 28: settlements that leave nothing to remember must delete their row", n)
		}

		prune(start.Add(auth.ReservationTTL-time.Millisecond), 0)
		prune(start.Add(auth.ReservationTTL), 26) // the flood and other: reservations lapse
		prune(start.Add(rule.Window), 0)          // exactly a window later: still in it
		prune(start.Add(rule.Window+time.Millisecond), 1)
		if n := rows(t, db, table); n != 1 {
			t.Fatalf("%d rows left, want the locked one", n)
		}
		if w, _ := reserve(start.Add(rule.Window+time.Millisecond), locked); w != time.Hour-rule.Window-time.Millisecond {
			t.Fatalf("locked key after the prune: refused for %v", w)
		}
		prune(start.Add(time.Hour-time.Millisecond), 0)
		prune(start.Add(time.Hour), 1)

		// The pruned account starts afresh: five failures before a lockout.
		later := start.Add(2 * time.Hour)
		for i := range 4 {
			if w, err := reserve(later, user); w != 0 || err != nil {
				t.Fatalf("attempt %d after the prune: %v, %v", i+1, w, err)
			}
			if w := settle(later, auth.Failed, user); w != 0 {
				t.Fatalf("failure %d after the prune locked for %v", i+1, w)
			}
		}
		reserve(later, user)
		if w := settle(later, auth.Failed, user); w != time.Minute {
			t.Fatalf("5th failure: locked for %v, want 1m", w)
		}
	})
}

// The background prune runs on its own, on the clock it is given.
func TestThrottleBackgroundPrune(t *testing.T) {
	_, db, table := openGORM(t, dialects[0])
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	th := newThrottle(t, db, sqlauth.ThrottleStoreOptions{
		Table: table, PruneInterval: 10 * time.Millisecond,
		Now: func() time.Time { return time.Unix(0, clock.Load()) },
	})
	for range 3 {
		k := auth.ThrottleKey{Key: testenv.Unique(), Rule: rule}
		if _, err := th.Reserve(context.Background(), start, []auth.ThrottleKey{k}); err != nil {
			t.Fatal(err)
		}
		if _, err := th.Settle(context.Background(), start, []auth.Settlement{{ThrottleKey: k, Verdict: auth.Failed}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := rows(t, db, table); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
	clock.Store(start.Add(rule.Window + time.Second).UnixNano())
	testenv.Eventually(t, "the background prune empties the table", func() bool { return rows(t, db, table) == 0 })
}

// A database that cannot answer is an error matching ErrUnavailable, never
// "not locked": throttling fails closed.
func TestThrottleUnavailable(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		var down *gorm.DB
		table := "ginauth_throttle"
		if d.down != nil {
			var err error
			down, err = gorm.Open(d.down(t), &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if sqlDB, err := down.DB(); err == nil {
					_ = sqlDB.Close()
				}
			})
			if _, err := sqlauth.NewThrottleStore(down, sqlauth.ThrottleStoreOptions{AutoMigrate: true, PruneInterval: -1}); !errors.Is(err, sessionstore.ErrUnavailable) {
				t.Errorf("NewThrottleStore with AutoMigrate = %v, want ErrUnavailable", err)
			}
		} else {
			_, down, table = openGORM(t, d)
			newThrottle(t, down, sqlauth.ThrottleStoreOptions{Table: table})
			sqlDB, _ := down.DB()
			_ = sqlDB.Close()
		}
		th, err := sqlauth.NewThrottleStore(down, sqlauth.ThrottleStoreOptions{Table: table, PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer th.Close()
		ctx := context.Background()
		keys := []auth.ThrottleKey{{Key: "u:x", Rule: rule}, {Key: "ip:x", Rule: rule}}
		if w, err := th.Check(ctx, start, keys); !errors.Is(err, sessionstore.ErrUnavailable) {
			t.Errorf("Check = %v, %v; want ErrUnavailable", w, err)
		}
		if w, err := th.Reserve(ctx, start, keys); !errors.Is(err, sessionstore.ErrUnavailable) {
			t.Errorf("Reserve = %v, %v; want ErrUnavailable", w, err)
		}
		for _, v := range []auth.Verdict{auth.Unjudged, auth.Failed, auth.Cleared} {
			s := []auth.Settlement{{ThrottleKey: keys[0], Verdict: v, Reserved: true}, {ThrottleKey: keys[1], Verdict: v, Reserved: true}}
			if _, err := th.Settle(ctx, start, s); !errors.Is(err, sessionstore.ErrUnavailable) {
				t.Errorf("Settle(%v) = %v; want ErrUnavailable", v, err)
			}
		}
		if _, err := th.Prune(ctx, start); !errors.Is(err, sessionstore.ErrUnavailable) {
			t.Errorf("Prune = %v; want ErrUnavailable", err)
		}
	})
}

// When the network to PostgreSQL fails, calls fail closed; when it comes
// back, the throttle works again, with the counts it had.
func TestThrottlePostgresOutage(t *testing.T) {
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	_, admin, table := openGORM(t, dialects[1])
	newThrottle(t, admin, sqlauth.ThrottleStoreOptions{Table: table}) // creates the table
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	db, err := gorm.Open(postgres.Open(u.String()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	th := newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table})
	user := []auth.ThrottleKey{{Key: "u:" + testenv.Unique(), Rule: strict}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if w, err := th.Reserve(ctx, start, user); err != nil || w != 0 {
		t.Fatalf("Reserve = %v, %v", w, err)
	}
	if w, err := th.Settle(ctx, start, []auth.Settlement{{ThrottleKey: user[0], Verdict: auth.Failed, Reserved: true}}); err != nil || w != strict.BaseDelay {
		t.Fatalf("Settle = %v, %v", w, err)
	}
	proxy.Cut()
	if w, err := th.Check(ctx, start, user); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("during the outage: Check = %v, %v; want ErrUnavailable", w, err)
	}
	if w, err := th.Reserve(ctx, start, user); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("during the outage: Reserve = %v, %v; want ErrUnavailable", w, err)
	}
	proxy.Restore()
	var w time.Duration
	testenv.Eventually(t, "the throttle answers again", func() bool {
		w, err = th.Reserve(ctx, start, user)
		return err == nil
	})
	if w != strict.BaseDelay {
		t.Errorf("after the outage: refused for %v, want %v (the count survived)", w, strict.BaseDelay)
	}
}

func TestThrottleMigrateTwice(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, db, table := openGORM(t, d)
		for range 2 {
			newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table})
		}
		if !db.Migrator().HasIndex(table, "idx_"+table+"_expires_at") {
			t.Error("expires_at index missing")
		}
	})
}

// otherDialect is SQLite under another name: a dialect the throttle does
// not know.
type otherDialect struct{ gorm.Dialector }

func (otherDialect) Name() string { return "sqlserver" }

func TestThrottleUnsupportedDialect(t *testing.T) {
	db, err := gorm.Open(otherDialect{sqlite.Open(filepath.Join(t.TempDir(), "x.db"))}, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if _, err := sqlauth.NewThrottleStore(db, sqlauth.ThrottleStoreOptions{}); err == nil || !strings.Contains(err.Error(), "sqlserver") {
		t.Errorf("NewThrottleStore on an unknown dialect = %v, want an error naming it", err)
	}
}

// retries counts the transactions the throttle ran again (its debug log),
// and how many of them deadlocked.
type retries struct{ all, deadlocks atomic.Int64 }

func (r *retries) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "running it again") {
		r.all.Add(1)
		if strings.Contains(string(p), "eadlock") {
			r.deadlocks.Add(1)
		}
	}
	return len(p), nil
}

// Parallel reservations and settlements on two instances, each call naming
// overlapping keys in an order of its own, all succeed, and give back every
// reservation they took. The rows are locked in one order whatever the
// keys' order, so on PostgreSQL no transaction even deadlocks (elsewhere a
// deadlock, were there one, runs again). Some calls run again because a
// settlement deleted a row between their INSERT and their SELECT.
func TestThrottleHammer(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv, db, table := openGORM(t, d)
		var r retries
		log := slog.New(slog.NewTextHandler(&r, &slog.HandlerOptions{Level: slog.LevelDebug}))
		instances := []*sqlauth.ThrottleStore{
			newThrottle(t, db, sqlauth.ThrottleStoreOptions{Table: table, Logger: log}),
			newThrottle(t, srv.pool(t), sqlauth.ThrottleStoreOptions{Table: table, Logger: log}),
		}
		lenient := auth.ThrottleRule{Failures: 1000, Window: time.Hour, BaseDelay: time.Minute, MaxDelay: time.Hour}
		var keys []auth.ThrottleKey
		for range 5 {
			keys = append(keys, auth.ThrottleKey{Key: "k" + testenv.Unique(), Rule: lenient})
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				th := instances[g%2]
				for i := range 25 {
					now := start.Add(time.Duration(i) * time.Millisecond)
					mine := []auth.ThrottleKey{keys[(g+i)%5], keys[(3*g+i+1)%5], keys[(g+2*i+2)%5]}
					if w, err := th.Reserve(context.Background(), now, mine); err != nil || w != 0 {
						t.Errorf("Reserve = %v, %v", w, err)
						return
					}
					slices.Reverse(mine)
					s := make([]auth.Settlement, len(mine))
					for j, k := range mine {
						s[j] = auth.Settlement{ThrottleKey: k, Verdict: auth.Verdict((i + j) % 3), Reserved: true}
					}
					if i%5 == 4 {
						// A failure without a reservation, on a key that may
						// have no row.
						s = append(s, auth.Settlement{ThrottleKey: keys[(g+i)%5], Verdict: auth.Failed})
					}
					if _, err := th.Settle(context.Background(), now, s); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		t.Logf("%d transactions ran again, %d of them after a deadlock", r.all.Load(), r.deadlocks.Load())
		if d.name == "PostgreSQL" && r.deadlocks.Load() != 0 {
			t.Errorf("%d transactions deadlocked; rows locked in one order never deadlock", r.deadlocks.Load())
		}
		var flying int64
		if err := db.Table(table).Select("COALESCE(SUM(in_flight), 0)").Scan(&flying).Error; err != nil {
			t.Fatal(err)
		}
		if flying != 0 {
			t.Errorf("%d reservations left in flight after every attempt was settled", flying)
		}
	})
}
