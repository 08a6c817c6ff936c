package sessionstore_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		clock := storetest.NewClock()
		m := sessionstore.NewMemoryStore(sessionstore.MemoryOptions{Now: clock.Now})
		t.Cleanup(func() { _ = m.Close() })
		return &storetest.Harness{Store: m, Clock: clock, Prune: func(testing.TB) { m.Sweep() }}
	})
}

func TestMemoryStoreBound(t *testing.T) {
	clock := storetest.NewClock()
	m := sessionstore.NewMemoryStore(sessionstore.MemoryOptions{MaxSessions: 3, Now: clock.Now, SweepInterval: -1})
	defer m.Close()
	ctx := context.Background()
	var keys []sessionstore.Key
	for range 5 {
		k := sessionstore.NewID().Key()
		now := clock.Now()
		if err := m.Create(ctx, k, &sessionstore.Record{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
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

func TestMemoryStoreSweeper(t *testing.T) {
	before := runtime.NumGoroutine()
	clock := storetest.NewClock()
	m := sessionstore.NewMemoryStore(sessionstore.MemoryOptions{Now: clock.Now, SweepInterval: time.Millisecond})
	ctx := context.Background()
	now := clock.Now()
	for range 100 {
		_ = m.Create(ctx, sessionstore.NewID().Key(), &sessionstore.Record{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Minute)})
	}
	clock.Advance(2 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for m.Len() != 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if m.Len() != 0 {
		t.Errorf("sweeper left %d expired sessions", m.Len())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_ = m.Close() // idempotent
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before, %d after Close", before, after)
	}
}
