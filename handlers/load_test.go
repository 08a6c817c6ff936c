package handlers_test

import (
	"context"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/apptest"
)

// BenchmarkMeUnderLoginFlood measures authenticated GET /me over real HTTP
// (memory store), alone and while other clients flood POST /login at bcrypt
// cost 12, and reports throughput and the 99th percentile latency. The
// bcrypt slots (MaxConcurrentHashes) are what keep the flood from starving
// signed-in users.
//
//	go test -run '^$' -bench MeUnderLoginFlood -benchtime 5s ./handlers
func BenchmarkMeUnderLoginFlood(b *testing.B) {
	for _, tc := range []struct {
		name    string
		flood   int
		hashers int
	}{
		{"quiet", 0, 0},
		{"flood/slots=default", 8, 0},
		{"flood/slots=GOMAXPROCS", 8, runtime.GOMAXPROCS(0)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, _, cookie := benchApp(b, apptest.Backends[0], func(c *apptest.Config) {
				c.Auth.Passwords.BcryptCost = 12
				c.Auth.Throttle.Disabled = true // the flood is of wrong passwords: measure bcrypt, not the lockout
				if tc.hashers > 0 {
					c.Auth.Passwords.MaxConcurrentHashes = tc.hashers
				}
				c.Auth.Passwords.HashQueueTimeout = time.Hour // queue rather than answer busy
			})
			ctx, stop := context.WithCancel(context.Background())
			var flood sync.WaitGroup
			for range tc.flood {
				flood.Add(1)
				go func() {
					defer flood.Done()
					c := &http.Client{}
					for ctx.Err() == nil {
						req, _ := http.NewRequestWithContext(ctx, "POST", a.Server.URL+"/login",
							strings.NewReader(`{"username":"bench","password":"not the password"}`))
						req.Header.Set("Content-Type", "application/json")
						if res, err := c.Do(req); err == nil {
							res.Body.Close()
						}
					}
				}()
			}
			if tc.flood > 0 {
				time.Sleep(500 * time.Millisecond) // let the flood saturate bcrypt before measuring
			}
			var mu sync.Mutex
			var all []time.Duration
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := &http.Client{}
				var lat []time.Duration
				for pb.Next() {
					req, _ := http.NewRequest("GET", a.Server.URL+"/me", nil)
					req.AddCookie(cookie)
					start := time.Now()
					res, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					res.Body.Close()
					lat = append(lat, time.Since(start))
					if res.StatusCode != http.StatusOK {
						b.Errorf("GET /me: %d", res.StatusCode)
						return
					}
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
			b.StopTimer()
			stop()
			flood.Wait()
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
			}
		})
	}
}
