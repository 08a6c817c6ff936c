package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/metrics"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// benchStores are the session stores BenchmarkMe runs on.
var benchStores = []struct {
	name string
	open func(b *testing.B) sessionstore.IndexedStore
}{
	{"memory", func(b *testing.B) sessionstore.IndexedStore { return memoryStore(b, memstore.Options{}) }},
	{"redis", func(b *testing.B) sessionstore.IndexedStore {
		c, prefix := testenv.RedisClient(b)
		return redisstore.New(c, redisstore.Options{Prefix: prefix})
	}},
}

// BenchmarkMe measures an authenticated GET /me (the hot path: cookie,
// one store load, the user from the cache, JSON) without metrics, then with
// every hook in place (Config.Metrics, Config.OnEvent and the store
// wrapped), to state what the metrics cost.
func BenchmarkMe(b *testing.B) {
	for _, st := range benchStores {
		for _, withMetrics := range []bool{false, true} {
			name := st.name + "/without_metrics"
			if withMetrics {
				name = st.name + "/with_metrics"
			}
			b.Run(name, func(b *testing.B) {
				var m *metrics.Metrics
				if withMetrics {
					m, _ = newMetrics(b)
				}
				h := newRouter(b, st.open(b), st.name, m)
				req := httptest.NewRequest("GET", "/me", nil)
				req.AddCookie(signUp(b, h))
				testenv.BenchRequest(b, h, req)
			})
		}
	}
}

// signUp registers a user through h and returns the session cookie.
func signUp(b *testing.B, h http.Handler) *http.Cookie {
	b.Helper()
	req := httptest.NewRequest("POST", "/register", strings.NewReader(`{"username":"bench","password":"bench password"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	b.Fatalf("no session cookie at registration: %d %s", w.Code, w.Body)
	return nil
}

// BenchmarkStoreLoad measures the wrapper alone: a Load from the memory
// store, straight and through Metrics.Store (two clock reads and one
// histogram observation more).
func BenchmarkStoreLoad(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "without_metrics"
		if withMetrics {
			name = "with_metrics"
		}
		b.Run(name, func(b *testing.B) {
			var s sessionstore.IndexedStore = memoryStore(b, memstore.Options{})
			if withMetrics {
				m, _ := newMetrics(b)
				s = m.Store(s, "memory")
			}
			if err := s.Create(ctx, key(1), record("user-1")); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Load(ctx, key(1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
