package sessionstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

// The hot path budget on Redis: a load is one command, a touch one, an
// update one; a request that changes nothing inside the touch interval sends
// nothing after its load.
func TestRedisCommandBudget(t *testing.T) {
	c, prefix := redisClient(t)
	counter := &testenv.CommandCounter{}
	c.AddHook(counter)
	ctx := context.Background()
	clock := storetest.NewClock()
	store := sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix, Now: clock.Now})
	p := sessionstore.DefaultPolicy

	s := sessionstore.NewSession(clock.Now())
	_ = s.SetUser("u1", "", false)
	v, _ := sessionstore.EncodeValue("x")
	s.Set("a", v)
	if _, err := s.Commit(ctx, store, clock.Now(), p); err != nil {
		t.Fatal(err)
	}
	if got := counter.Take(); len(got) != 2 {
		t.Errorf("creating an indexed session sent %v; want the record and its index entry in one pipeline", got)
	}
	// Warm the script cache so EVALSHA hits.
	_ = store.Touch(ctx, s.Key(), clock.Now(), clock.Now().Add(time.Minute))
	counter.Take()

	steps := []struct {
		name string
		run  func() error
		want []string
	}{
		{"load", func() error { _, err := sessionstore.LoadSession(ctx, store, s.ID()); return err }, []string{"HGETALL"}},
		{"read-only commit inside the touch interval", func() error {
			r, err := sessionstore.LoadSession(ctx, store, s.ID())
			if err != nil {
				return err
			}
			counter.Take()
			clock.Advance(30 * time.Second)
			_, err = r.Commit(ctx, store, clock.Now(), p)
			return err
		}, nil},
		{"touch after the interval", func() error {
			r, err := sessionstore.LoadSession(ctx, store, s.ID())
			if err != nil {
				return err
			}
			counter.Take()
			clock.Advance(2 * time.Minute)
			_, err = r.Commit(ctx, store, clock.Now(), p)
			return err
		}, []string{"EVALSHA"}},
		{"update", func() error {
			r, err := sessionstore.LoadSession(ctx, store, s.ID())
			if err != nil {
				return err
			}
			counter.Take()
			w, _ := sessionstore.EncodeValue("y")
			r.Set("a", w)
			_, err = r.Commit(ctx, store, clock.Now(), p)
			return err
		}, []string{"EVALSHA"}},
	}
	for _, st := range steps {
		counter.Take()
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := counter.Take()
		if strings.Join(got, " ") != strings.Join(st.want, " ") {
			t.Errorf("%s sent %v, want %v", st.name, got, st.want)
		}
	}
}

// benchStores builds each store the benchmarks measure; stores whose server
// is missing are skipped.
func benchStores(b *testing.B) map[string]func(b *testing.B) sessionstore.Store {
	return map[string]func(b *testing.B) sessionstore.Store{
		"memory": func(b *testing.B) sessionstore.Store {
			m := sessionstore.NewMemoryStore(sessionstore.MemoryOptions{})
			b.Cleanup(func() { _ = m.Close() })
			return m
		},
		"redis": func(b *testing.B) sessionstore.Store {
			c, prefix := redisClient(b)
			return sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix})
		},
		"sqlite":   func(b *testing.B) sessionstore.Store { return benchGORM(b, dialects[0]) },
		"postgres": func(b *testing.B) sessionstore.Store { return benchGORM(b, dialects[1]) },
		"mysql":    func(b *testing.B) sessionstore.Store { return benchGORM(b, dialects[2]) },
	}
}

func benchGORM(b *testing.B, d dialect) sessionstore.Store {
	db, table := openGORM(b, d)
	s, err := sessionstore.NewGORMStore(db, sessionstore.GORMOptions{Table: table, AutoMigrate: true, PruneInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkStore measures the three operations of the hot path on every
// store: Load (every request), Update (a request that changed a value) and
// Touch (at most once per touch interval).
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"memory", "redis", "sqlite", "postgres", "mysql"} {
		b.Run(name, func(b *testing.B) {
			store := benchStores(b)[name](b)
			s := sessionstore.NewSession(time.Now())
			_ = s.SetUser("bench", "", false)
			v, _ := sessionstore.EncodeValue("/somewhere")
			s.Set("returnTo", v)
			n, _ := sessionstore.EncodeValue(1)
			s.Set("count", n)
			if _, err := s.Commit(ctx, store, time.Now(), sessionstore.DefaultPolicy); err != nil {
				b.Fatal(err)
			}
			b.Run("Load", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := store.Load(ctx, s.Key()); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Update", func(b *testing.B) {
				b.ReportAllocs()
				rec, err := store.Load(ctx, s.Key())
				if err != nil {
					b.Fatal(err)
				}
				i := 0
				for b.Loop() {
					i++
					rec.Values["count"], _ = sessionstore.EncodeValue(i)
					if err := store.Update(ctx, s.Key(), rec); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("Touch", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					now := time.Now()
					if err := store.Touch(ctx, s.Key(), now, now.Add(30*time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
