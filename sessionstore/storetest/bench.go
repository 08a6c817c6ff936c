package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// Bench measures the three operations of the hot path on store: Load (every
// request), Update (a request that changed a value) and Touch (at most once
// per touch interval). Call it from a store's BenchmarkStore.
func Bench(b *testing.B, store sessionstore.Store) {
	now := time.Now()
	rec := &sessionstore.Record{
		Meta: sessionstore.Meta{
			UserID: "bench", CreatedAt: now, LastActivity: now,
			ExpiresAt: now.Add(idleTimeout), Deadline: now.Add(absoluteTimeout),
			Credential: "0123456789abcdef0123456789abcdef",
		},
		Values: map[string]sessionstore.Value{"page": val(`"/somewhere"`), "count": val(`1`)},
	}
	k := NewKey()
	if err := store.Create(ctx, k, rec); err != nil {
		b.Fatal(err)
	}
	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := store.Load(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Update", func(b *testing.B) {
		b.ReportAllocs()
		rec, err := store.Load(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			rec.Values["count"] = val(strconv.Itoa(i))
			if err := store.Update(ctx, k, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Touch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			now := time.Now()
			if err := store.Touch(ctx, k, now, now.Add(idleTimeout)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
