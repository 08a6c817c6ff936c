package mongostore_test

import (
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/mongostore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

// benchSession creates a session with a few values, as a logged-in user's
// session holds, and returns its key and record.
func benchSession(b *testing.B) (*mongostore.Store, sessionstore.Key, *sessionstore.Record) {
	b.Helper()
	s := newStore(b, ferret.client.Database(testDB), mongostore.Options{SweepInterval: -1})
	now := time.Now().Truncate(time.Millisecond)
	rec := &sessionstore.Record{
		Meta:   sessionstore.Meta{UserID: "42", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour), IPAddress: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) bench"},
		Values: map[string]sessionstore.Value{},
	}
	for name, v := range map[string]string{"returnTo": `"/account"`, "cart": `["a","b"]`, "n": `7`} {
		rec.Values[name] = sessionstore.Value{JSON: []byte(v)}
	}
	k := storetest.NewKey()
	if err := s.Create(bg, k, rec); err != nil {
		b.Fatal(err)
	}
	return s, k, rec
}

func BenchmarkLoad(b *testing.B) {
	s, k, _ := benchSession(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(bg, k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSave is a committed change: a compare-and-swap Update.
func BenchmarkSave(b *testing.B) {
	s, k, rec := benchSession(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Update(bg, k, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTouch(b *testing.B) {
	s, k, rec := benchSession(b)
	b.ReportAllocs()
	at := rec.LastActivity
	for b.Loop() {
		at = at.Add(time.Millisecond)
		if err := s.Touch(bg, k, at, at.Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
