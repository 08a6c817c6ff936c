package metrics_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

var ctx = context.Background()

// record is a live session record of the user ("" for an anonymous one).
func record(userID string) *sessionstore.Record {
	now := time.Now()
	return &sessionstore.Record{Meta: sessionstore.Meta{
		UserID: userID, CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour),
	}}
}

func key(b byte) sessionstore.Key { return sessionstore.Key{b} }

func memoryStore(t testing.TB, opts memstore.Options) *memstore.Store {
	opts.SweepInterval = -1
	s := memstore.New(opts)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Every call through the wrapper reaches the store, answers what the store
// answered, and is timed under its operation and the store's name.
func TestStoreTimesEveryOperation(t *testing.T) {
	m, reg := newMetrics(t)
	s := m.Store(memoryStore(t, memstore.Options{}), "memory")
	before := snapshot(t, reg)

	a, b := record("user-1"), record("user-1")
	if err := s.Create(ctx, key(1), a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, key(1))
	if err != nil || got.UserID != "user-1" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	got.Values = map[string]sessionstore.Value{"theme": {JSON: []byte(`"dark"`)}}
	if err := s.Update(ctx, key(1), got); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.Touch(ctx, key(1), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Regenerate(ctx, key(1), "user-1", key(2), b); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, key(3), record("user-1")); err != nil {
		t.Fatal(err)
	}
	infos, err := s.List(ctx, "user-1")
	if err != nil || len(infos) != 2 {
		t.Fatalf("List = %v, %v; want 2 sessions", infos, err)
	}
	if err := s.DestroyID(ctx, "user-1", key(3).ID()); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(ctx, key(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, key(4), record("user-1")); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DestroyUser(ctx, "user-1"); err != nil || n != 1 {
		t.Fatalf("DestroyUser = %d, %v; want 1", n, err)
	}

	want := map[string]float64{
		"ginauth_session_store_duration_seconds{operation=create,store=memory}":       3,
		"ginauth_session_store_duration_seconds{operation=load,store=memory}":         1,
		"ginauth_session_store_duration_seconds{operation=update,store=memory}":       1,
		"ginauth_session_store_duration_seconds{operation=touch,store=memory}":        1,
		"ginauth_session_store_duration_seconds{operation=regenerate,store=memory}":   1,
		"ginauth_session_store_duration_seconds{operation=list,store=memory}":         1,
		"ginauth_session_store_duration_seconds{operation=destroy_id,store=memory}":   1,
		"ginauth_session_store_duration_seconds{operation=destroy,store=memory}":      1,
		"ginauth_session_store_duration_seconds{operation=destroy_user,store=memory}": 1,
	}
	if got := moved(before, snapshot(t, reg)); !maps.Equal(got, want) {
		t.Errorf("moved:\n%s\nwant:\n%s", describe(got), describe(want))
	}
	checkLabels(t, reg, "user-1", key(1).String(), key(3).ID())
}

// Every series of a wrapped store exists from the start, at zero: nine
// operations timed, and counted by four kinds of error.
func TestStoreSeriesExistAtZero(t *testing.T) {
	m, reg := newMetrics(t)
	m.Store(memoryStore(t, memstore.Options{}), "memory")
	m.Store(memoryStore(t, memstore.Options{}), "") // "default"
	s := snapshot(t, reg)
	for _, store := range []string{"memory", "default"} {
		for _, op := range allowedLabels["operation"] {
			if v, ok := s["ginauth_session_store_duration_seconds{operation="+op+",store="+store+"}"]; !ok || v != 0 {
				t.Errorf("%s %s: duration series %v, %v", store, op, v, ok)
			}
			for _, kind := range allowedLabels["kind"] {
				if v, ok := s["ginauth_session_store_errors_total{kind="+kind+",operation="+op+",store="+store+"}"]; !ok || v != 0 {
					t.Errorf("%s %s %s: error series %v, %v", store, op, kind, v, ok)
				}
			}
		}
	}
}

// A session that is not there is an answer, not an error: the call is
// timed and no error counted.
func TestStoreNotFoundIsNoError(t *testing.T) {
	m, reg := newMetrics(t)
	s := m.Store(memoryStore(t, memstore.Options{}), "memory")
	before := snapshot(t, reg)
	if _, err := s.Load(ctx, key(9)); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Load of nothing = %v", err)
	}
	if err := s.Update(ctx, key(9), record("user-1")); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Update of nothing = %v", err)
	}
	if err := s.DestroyID(ctx, "user-1", key(9).ID()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("DestroyID of nothing = %v", err)
	}
	want := map[string]float64{
		"ginauth_session_store_duration_seconds{operation=load,store=memory}":       1,
		"ginauth_session_store_duration_seconds{operation=update,store=memory}":     1,
		"ginauth_session_store_duration_seconds{operation=destroy_id,store=memory}": 1,
	}
	if got := moved(before, snapshot(t, reg)); !maps.Equal(got, want) {
		t.Errorf("moved:\n%s\nwant:\n%s", describe(got), describe(want))
	}
}

// Lost races count as conflicts: a Create on a key in use, an Update of a
// revision that moved.
func TestStoreCountsConflicts(t *testing.T) {
	m, reg := newMetrics(t)
	s := m.Store(memoryStore(t, memstore.Options{}), "memory")
	if err := s.Create(ctx, key(1), record("user-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, key(1), record("user-1")); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("Create on a key in use = %v", err)
	}
	first, _ := s.Load(ctx, key(1))
	second, _ := s.Load(ctx, key(1))
	if err := s.Update(ctx, key(1), first); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, key(1), second); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("Update of a stale revision = %v", err)
	}
	for series, want := range map[string]float64{
		"ginauth_session_store_errors_total{kind=conflict,operation=create,store=memory}": 1,
		"ginauth_session_store_errors_total{kind=conflict,operation=update,store=memory}": 1,
		"ginauth_session_store_duration_seconds{operation=create,store=memory}":           2,
		"ginauth_session_store_duration_seconds{operation=update,store=memory}":           2,
	} {
		if got := value(t, reg, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// A store that cannot serve counts as unavailable: a memory store full of
// signed-in sessions refusing an anonymous one, and a Redis server that is
// down.
func TestStoreCountsUnavailable(t *testing.T) {
	m, reg := newMetrics(t)
	full := m.Store(memoryStore(t, memstore.Options{MaxSessions: 1}), "memory")
	if err := full.Create(ctx, key(1), record("user-1")); err != nil {
		t.Fatal(err)
	}
	if err := full.Create(ctx, key(2), record("")); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("anonymous Create in a full store = %v, want ErrUnavailable", err)
	}

	c := redis.NewClient(&redis.Options{Addr: testenv.ClosedAddr(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	down := m.Store(redisstore.New(c, redisstore.Options{}), "redis")
	if _, err := down.Load(ctx, key(1)); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("Load from a server that is down = %v, want ErrUnavailable", err)
	}
	if _, err := down.DestroyUser(ctx, "user-1"); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("DestroyUser on a server that is down = %v, want ErrUnavailable", err)
	}
	for series, want := range map[string]float64{
		"ginauth_session_store_errors_total{kind=unavailable,operation=create,store=memory}":      1,
		"ginauth_session_store_errors_total{kind=unavailable,operation=load,store=redis}":         1,
		"ginauth_session_store_errors_total{kind=unavailable,operation=destroy_user,store=redis}": 1,
		"ginauth_session_store_duration_seconds{operation=load,store=redis}":                      1,
	} {
		if got := value(t, reg, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// A record the store cannot decode counts as corrupt.
func TestStoreCountsCorrupt(t *testing.T) {
	m, reg := newMetrics(t)
	db := sqliteDB(t)
	inner, err := gormstore.New(db, gormstore.Options{AutoMigrate: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inner.Close() })
	s := m.Store(inner, "sqlite")
	if err := s.Create(ctx, key(1), record("user-1")); err != nil {
		t.Fatal(err)
	}
	if err := db.Table("sessions").Where("key_hash = ?", key(1).String()).Update("data", "\x01not json").Error; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, key(1)); !errors.Is(err, sessionstore.ErrCorrupt) {
		t.Fatalf("Load of a damaged record = %v, want ErrCorrupt", err)
	}
	if got := value(t, reg, "ginauth_session_store_errors_total{kind=corrupt,operation=load,store=sqlite}"); got != 1 {
		t.Errorf("corrupt loads = %v, want 1", got)
	}
}
