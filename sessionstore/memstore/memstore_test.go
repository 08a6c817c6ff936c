package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		clock := storetest.NewClock()
		m := memstore.New(memstore.Options{Now: clock.Now})
		t.Cleanup(func() { _ = m.Close() })
		return &storetest.Harness{Store: m, Clock: clock, Prune: func(testing.TB) { m.Sweep() },
			IndexLen: func(_ testing.TB, uid string) int { return memstore.IndexLen(m, uid) }}
	})
}

func TestMemoryStoreBound(t *testing.T) {
	clock := storetest.NewClock()
	m := memstore.New(memstore.Options{MaxSessions: 3, Now: clock.Now, SweepInterval: -1})
	defer m.Close()
	ctx := context.Background()
	var keys []sessionstore.Key
	for range 5 {
		k := storetest.NewKey()
		now := clock.Now()
		if err := m.Create(ctx, k, &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		clock.Advance(time.Second)
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	for i, k := range keys {
		_, err := m.Load(ctx, k)
		if evicted := i < 2; evicted != (err != nil) {
			t.Errorf("session %d: Load err = %v; evicted should be %v (oldest first)", i, err, evicted)
		}
	}
	if infos, _ := m.List(ctx, "u"); len(infos) != 3 {
		t.Errorf("index lists %d sessions after eviction, want 3", len(infos))
	}
}

// Anonymous sessions, which clients can make at will, never displace a
// signed-in one: past the bound the oldest anonymous session goes, and an
// anonymous session that would need a signed-in one evicted is refused.
func TestMemoryStoreEvictsAnonymousFirst(t *testing.T) {
	clock := storetest.NewClock()
	m := memstore.New(memstore.Options{MaxSessions: 4, Now: clock.Now, SweepInterval: -1})
	defer m.Close()
	ctx := context.Background()
	create := func(uid string) (sessionstore.Key, error) {
		k := storetest.NewKey()
		now := clock.Now()
		clock.Advance(time.Second)
		return k, m.Create(ctx, k, &sessionstore.Record{Meta: sessionstore.Meta{UserID: uid, CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}})
	}
	victim, _ := create("victim")
	var anon []sessionstore.Key
	for range 1000 {
		k, err := create("")
		if err != nil {
			t.Fatal(err)
		}
		anon = append(anon, k)
	}
	if _, err := m.Load(ctx, victim); err != nil {
		t.Fatalf("the signed-in session was evicted by anonymous ones: %v", err)
	}
	if _, err := m.Load(ctx, anon[len(anon)-1]); err != nil {
		t.Errorf("the newest anonymous session is gone: %v", err)
	}
	if _, err := m.Load(ctx, anon[0]); err == nil {
		t.Error("the oldest anonymous session is still there")
	}
	// Signed-in sessions take the place of anonymous ones, then of the
	// oldest signed-in one; then there is no room for an anonymous one.
	for i := range 4 {
		if _, err := create(fmt.Sprint("user", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Load(ctx, victim); err == nil {
		t.Error("a full store of signed-in sessions kept the oldest past the bound")
	}
	if _, err := create(""); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Errorf("anonymous Create in a store full of signed-in sessions = %v, want ErrUnavailable", err)
	}
	if m.Len() != 4 {
		t.Errorf("Len = %d, want 4", m.Len())
	}
}

func TestMemoryStoreSweeper(t *testing.T) {
	before := runtime.NumGoroutine()
	clock := storetest.NewClock()
	m := memstore.New(memstore.Options{Now: clock.Now, SweepInterval: time.Millisecond})
	ctx := context.Background()
	now := clock.Now()
	for range 100 {
		_ = m.Create(ctx, storetest.NewKey(), &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Minute)}})
	}
	clock.Advance(2 * time.Minute)
	// The sweeper runs on its own ticker: wait for it to have run.
	testenv.Eventually(t, "the sweeper removes the expired sessions", func() bool { return m.Len() == 0 })
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_ = m.Close() // idempotent
	// Close waits for the sweeper to finish; its goroutine may still be
	// counted for a moment as it returns. One left running fails here.
	testenv.Eventually(t, fmt.Sprintf("no more goroutines than the %d before New", before), func() bool {
		return runtime.NumGoroutine() <= before
	})
}

// The figures of a burst: 100,000 sessions created, then expired and swept.
// Memory must come back and no goroutine may be left behind.
func TestMemoryStoreBurst(t *testing.T) {
	testenv.SkipIfShort(t, "creates 100,000 sessions")
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	goroutines := runtime.NumGoroutine()
	base := heap()
	clock := storetest.NewClock()
	m := memstore.New(memstore.Options{Now: clock.Now, SweepInterval: -1})
	ctx := context.Background()
	const n = 100_000
	for i := range n {
		now := clock.Now()
		rec := &sessionstore.Record{
			Meta:   sessionstore.Meta{UserID: fmt.Sprint(i % 1000), CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(30 * time.Minute), Deadline: now.Add(24 * time.Hour)},
			Values: map[string]sessionstore.Value{"page": {JSON: []byte(`"/return/path"`)}},
		}
		if err := m.Create(ctx, storetest.NewKey(), rec); err != nil {
			t.Fatal(err)
		}
	}
	full := heap()
	clock.Advance(25 * time.Hour)
	if swept := m.Sweep(); swept != n {
		t.Fatalf("swept %d, want %d", swept, n)
	}
	after := heap()
	t.Logf("heap: %d KiB before, %d KiB with %d sessions (%d B each), %d KiB after they expired; goroutines %d -> %d",
		base>>10, full>>10, n, (full-base)/n, after>>10, goroutines, runtime.NumGoroutine())
	if after > base+1<<20 { // without shrinking the maps, some 6 MiB stay
		t.Errorf("after the sessions expired the heap is %d KiB, %d KiB over its start: memory was not given back", after>>10, (after-base)>>10)
	}
	if got := runtime.NumGoroutine(); got > goroutines {
		t.Errorf("goroutines: %d before, %d after", goroutines, got)
	}
	runtime.KeepAlive(m)
}

func BenchmarkStore(b *testing.B) {
	m := memstore.New(memstore.Options{})
	b.Cleanup(func() { _ = m.Close() })
	storetest.Bench(b, m)
}
