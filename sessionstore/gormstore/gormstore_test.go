package gormstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

type dialect struct {
	name string
	// open returns the dialect's database; for SQLite a file of its own,
	// which open(t, path) opens again.
	open func(t testing.TB, path ...string) gorm.Dialector
	// down is the dialect pointed at a port where nothing listens; nil for
	// SQLite, whose outage is a closed pool.
	down func(t testing.TB) gorm.Dialector
}

var dialects = []dialect{
	{"SQLite", func(t testing.TB, path ...string) gorm.Dialector {
		file := filepath.Join(t.TempDir(), "sessions.db")
		if len(path) > 0 {
			file = path[0]
		}
		return sqlite.Open(file + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	}, nil},
	{"PostgreSQL", func(t testing.TB, _ ...string) gorm.Dialector { return postgres.Open(testenv.PostgresURL(t)) },
		func(t testing.TB) gorm.Dialector {
			return postgres.Open("postgres://postgres@" + testenv.ClosedAddr(t) + "/test?sslmode=disable&connect_timeout=2")
		}},
	{"MySQL", func(t testing.TB, _ ...string) gorm.Dialector { return mysql.Open(testenv.MySQLDSN(t)) },
		func(t testing.TB) gorm.Dialector {
			// Skip the version query the dialect sends when it opens.
			return mysql.New(mysql.Config{DSN: "root@tcp(" + testenv.ClosedAddr(t) + ")/test?timeout=2s", SkipInitializeWithVersion: true})
		}},
}

// openGORM opens the dialect's database and returns it with a table name of
// its own, dropped afterwards (with its lock table).
func openGORM(t testing.TB, d dialect) (*gorm.DB, string) {
	t.Helper()
	db := connect(t, d, d.open(t))
	table := "sessions_test_" + testenv.Unique()
	t.Cleanup(func() { _ = db.Migrator().DropTable(table, table+"_locks") })
	return db, table
}

// reopen opens the database of db again, with a pool of its own, as
// another instance of the application would.
func reopen(t testing.TB, d dialect, db *gorm.DB) *gorm.DB {
	t.Helper()
	var path []string
	if d.name == "SQLite" {
		var file string
		if err := db.Raw("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file).Error; err != nil {
			t.Fatal(err)
		}
		path = append(path, file)
	}
	return connect(t, d, d.open(t, path...))
}

func connect(t testing.TB, d dialect, dialector gorm.Dialector) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		testenv.Missing(t, d.name, err.Error())
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Ping(); err != nil {
		testenv.Missing(t, d.name, err.Error())
	}
	if d.name == "SQLite" {
		sqlDB.SetMaxOpenConns(1) // one writer; SQLite serialises writes anyway
	}
	sqlDB.SetMaxIdleConns(32) // the limit's hammer opens 20 at once, round after round
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

func TestGORMStore(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) *storetest.Harness {
				db, table := openGORM(t, d)
				clock := storetest.NewClock()
				s, err := gormstore.New(db, gormstore.Options{
					Table: table, AutoMigrate: true, Now: clock.Now, PruneInterval: -1,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				h := &storetest.Harness{
					Store: s,
					Clock: clock,
					Twin: func(t testing.TB) sessionstore.IndexedStore {
						twin, err := gormstore.New(reopen(t, d, db), gormstore.Options{Table: table, Now: clock.Now, PruneInterval: -1})
						if err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { _ = twin.Close() })
						return twin
					},
					Corrupt: func(t testing.TB, k sessionstore.Key) {
						err := db.Table(table).Where("key_hash = ?", k.String()).Update("data", "\x01not json").Error
						if err != nil {
							t.Fatal(err)
						}
					},
					IndexLen: func(t testing.TB, uid string) int {
						var n int64
						if err := db.Table(table).Where("user_id = ?", uid).Count(&n).Error; err != nil {
							t.Fatal(err)
						}
						return int(n)
					},
					Prune: func(t testing.TB) {
						if _, err := s.Prune(context.Background()); err != nil {
							t.Fatal(err)
						}
					},
					Down: func(t testing.TB) sessionstore.IndexedStore {
						if d.down != nil {
							// A server that does not answer: a closed port.
							db2, err := gorm.Open(d.down(t), &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
							if err != nil {
								t.Fatal(err)
							}
							t.Cleanup(func() {
								if sqlDB, err := db2.DB(); err == nil {
									_ = sqlDB.Close()
								}
							})
							down, err := gormstore.New(db2, gormstore.Options{PruneInterval: -1})
							if err != nil {
								t.Fatal(err)
							}
							return down
						}
						// SQLite: a pool that has been closed.
						db2, table2 := openGORM(t, d)
						down, err := gormstore.New(db2, gormstore.Options{Table: table2, AutoMigrate: true, PruneInterval: -1})
						if err != nil {
							t.Fatal(err)
						}
						sqlDB, _ := db2.DB()
						_ = sqlDB.Close()
						return down
					},
				}
				return h
			})
		})
	}
}

func TestGORMStorePruneBatches(t *testing.T) {
	db, table := openGORM(t, dialects[0])
	clock := storetest.NewClock()
	s, err := gormstore.New(db, gormstore.Options{Table: table, AutoMigrate: true, Now: clock.Now, PruneBatch: 7, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := clock.Now()
	for i := range 30 {
		exp := now.Add(time.Minute)
		if i%3 == 0 {
			exp = now.Add(time.Hour)
		}
		if err := s.Create(ctx, storetest.NewKey(), &sessionstore.Record{Meta: sessionstore.Meta{CreatedAt: now, LastActivity: now, ExpiresAt: exp}}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Minute)
	n, err := s.Prune(ctx)
	if err != nil || n != 20 {
		t.Fatalf("Prune = %d, %v; want 20", n, err)
	}
	var left int64
	db.Table(table).Count(&left)
	if left != 10 {
		t.Errorf("%d rows left, want 10", left)
	}
}

func TestGORMStoreMigrateTwice(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db, table := openGORM(t, d)
			for range 2 {
				s, err := gormstore.New(db, gormstore.Options{Table: table, AutoMigrate: true, PruneInterval: -1})
				if err != nil {
					t.Fatalf("gormstore.New: %v", err)
				}
				_ = s.Close()
			}
			for _, idx := range []string{"idx_" + table + "_user_id", "idx_" + table + "_expires_at"} {
				if !db.Migrator().HasIndex(table, idx) {
					t.Errorf("index %s missing", idx)
				}
			}
			if !db.Migrator().HasTable(table + "_locks") {
				t.Errorf("lock table %s_locks missing", table)
			}
		})
	}
}

func BenchmarkStore(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			db, table := openGORM(b, d)
			s, err := gormstore.New(db, gormstore.Options{Table: table, AutoMigrate: true, PruneInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			storetest.Bench(b, s)
		})
	}
}

// statementCounter counts, through GORM's callbacks, the statements sent
// and the transactions GORM opened around them.
type statementCounter struct{ statements, transactions int }

func (c *statementCounter) register(t testing.TB, db *gorm.DB) {
	t.Helper()
	cb := db.Callback()
	count := func(*gorm.DB) { c.statements++ }
	tx := func(d *gorm.DB) {
		if _, ok := d.Statement.ConnPool.(gorm.TxCommitter); ok {
			c.transactions++
		}
	}
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("count:create", count),
		cb.Update().After("gorm:update").Register("count:update", count),
		cb.Delete().After("gorm:delete").Register("count:delete", count),
		cb.Query().After("gorm:query").Register("count:query", count),
		cb.Raw().After("gorm:raw").Register("count:raw", count),
		cb.Create().Before("gorm:create").Register("count:tx-create", tx),
		cb.Update().Before("gorm:update").Register("count:tx-update", tx),
		cb.Delete().Before("gorm:delete").Register("count:tx-delete", tx),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (c *statementCounter) take() (int, int) {
	s, x := c.statements, c.transactions
	c.statements, c.transactions = 0, 0
	return s, x
}

// A login's write is one statement, a login over an existing session too,
// and a touch or an update one: no transaction of GORM's around them (a
// BEGIN and a COMMIT would be two more round trips each).
func TestGORMStoreStatements(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db, table := openGORM(t, d)
			s, err := gormstore.New(db, gormstore.Options{Table: table, AutoMigrate: true, PruneInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			c := &statementCounter{}
			c.register(t, db)
			ctx := context.Background()
			now := time.Now()
			rec := func() *sessionstore.Record {
				return &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}
			}
			k1, k2 := storetest.NewKey(), storetest.NewKey()
			r := rec()
			steps := []struct {
				name       string
				run        func() error
				statements int
			}{
				{"create (a login)", func() error { return s.Create(ctx, k1, r) }, 1},
				{"touch", func() error { return s.Touch(ctx, k1, now.Add(time.Minute), now.Add(time.Hour)) }, 1},
				{"update", func() error { return s.Update(ctx, k1, r) }, 1},
				{"regenerate (a login over a session)", func() error { return s.Regenerate(ctx, k1, "u", k2, rec()) }, 1},
				{"destroy (a logout)", func() error { return s.Destroy(ctx, k2) }, 1},
			}
			c.take()
			for _, st := range steps {
				if err := st.run(); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if n, tx := c.take(); n != st.statements || tx != 0 {
					t.Errorf("%s: %d statements in %d transactions of GORM's, want %d and none", st.name, n, tx, st.statements)
				}
			}
		})
	}
}

// A login under a session limit is one transaction: the user's lock row
// (an upsert), the user's live sessions, the new session, and, when it
// ends some, one DELETE. The lock row of a user whose sessions have all
// expired is pruned, and comes back with the next login.
func TestGORMStoreLimitStatements(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			db, table := openGORM(t, d)
			clock := storetest.NewClock()
			s, err := gormstore.New(db, gormstore.Options{Table: table, AutoMigrate: true, Now: clock.Now, PruneInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			c := &statementCounter{}
			c.register(t, db)
			ctx := context.Background()
			login := func() int {
				t.Helper()
				now := clock.Now()
				rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour)}}
				c.take()
				if _, err := s.CreateLimited(ctx, nil, "", storetest.NewKey(), rec, sessionstore.Limit{Max: 1, EndOldest: true}); err != nil {
					t.Fatal(err)
				}
				clock.Advance(time.Second)
				n, _ := c.take()
				return n
			}
			if n := login(); n != 3 {
				t.Errorf("a first login: %d statements, want 3 (lock, read, insert)", n)
			}
			if n := login(); n != 4 {
				t.Errorf("a login that ends the oldest session: %d statements, want 4 (lock, read, insert, delete)", n)
			}
			locks := func() int64 {
				var n int64
				if err := db.Table(table+"_locks").Where("user_id = ?", "u").Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := locks(); n != 1 {
				t.Fatalf("%d lock rows for the user, want 1", n)
			}
			clock.Advance(2 * time.Hour)
			if _, err := s.Prune(ctx); err != nil {
				t.Fatal(err)
			}
			if n := locks(); n != 0 {
				t.Errorf("%d lock rows after the user's sessions expired and were pruned, want 0", n)
			}
			login()
			if n := locks(); n != 1 {
				t.Errorf("%d lock rows after another login, want 1", n)
			}
		})
	}
}
