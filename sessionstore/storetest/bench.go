package storetest

import (
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// Bench measures the three operations of the hot path on store: Load (every
// request), Update (a request that changed a value) and Touch (at most once
// per touch interval). Call it from a store's BenchmarkStore.
func Bench(b *testing.B, store sessionstore.Store) {
	s := session.New(time.Now())
	_ = s.SetUser("bench", "0123456789abcdef0123456789abcdef", false)
	v, _ := session.EncodeValue("/somewhere")
	s.Set("page", v)
	n, _ := session.EncodeValue(1)
	s.Set("count", n)
	if _, err := s.Commit(ctx, store, time.Now(), policy); err != nil {
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
			rec.Values["count"], _ = session.EncodeValue(i)
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
}
