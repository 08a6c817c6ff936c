package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The bcrypt hooks move the gauge of computations in flight, the histogram
// of queue waits and the busy counter.
func TestBcryptHooks(t *testing.T) {
	m, reg := newMetrics(t)
	m.HashStarted(0)                     // a free slot
	m.HashStarted(30 * time.Millisecond) // waited for one
	m.HashStarted(3 * time.Second)       // waited long
	m.HashDone()
	m.HashBusy()
	want := `
# HELP ginauth_bcrypt_busy_total Requests turned away busy because no bcrypt slot was free in time (Config.Passwords.HashQueueTimeout), or the client left while waiting.
# TYPE ginauth_bcrypt_busy_total counter
ginauth_bcrypt_busy_total 1
# HELP ginauth_bcrypt_in_flight bcrypt computations running now (at most Config.Passwords.MaxConcurrentHashes).
# TYPE ginauth_bcrypt_in_flight gauge
ginauth_bcrypt_in_flight 2
# HELP ginauth_bcrypt_queue_wait_seconds How long a bcrypt computation waited for a slot before it started (0 when one was free).
# TYPE ginauth_bcrypt_queue_wait_seconds histogram
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.001"} 1
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.0025"} 1
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.005"} 1
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.01"} 1
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.025"} 1
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.05"} 2
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.1"} 2
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.25"} 2
ginauth_bcrypt_queue_wait_seconds_bucket{le="0.5"} 2
ginauth_bcrypt_queue_wait_seconds_bucket{le="1"} 2
ginauth_bcrypt_queue_wait_seconds_bucket{le="2"} 2
ginauth_bcrypt_queue_wait_seconds_bucket{le="5"} 3
ginauth_bcrypt_queue_wait_seconds_bucket{le="+Inf"} 3
ginauth_bcrypt_queue_wait_seconds_sum 3.03
ginauth_bcrypt_queue_wait_seconds_count 3
`
	err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"ginauth_bcrypt_busy_total", "ginauth_bcrypt_in_flight", "ginauth_bcrypt_queue_wait_seconds")
	if err != nil {
		t.Error(err)
	}
	m.HashDone()
	m.HashDone()
	if got := value(t, reg, "ginauth_bcrypt_in_flight"); got != 0 {
		t.Errorf("in flight = %v after every computation ended, want 0", got)
	}
}

// Each lookup of the user cache counts as a hit or a miss.
func TestUserCacheHook(t *testing.T) {
	m, reg := newMetrics(t)
	m.UserCacheLookup(false)
	m.UserCacheLookup(true)
	m.UserCacheLookup(true)
	want := `
# HELP ginauth_user_cache_lookups_total Lookups of the cache of users that signed-in requests resolve their user from, by result: hit (no user store query) or miss.
# TYPE ginauth_user_cache_lookups_total counter
ginauth_user_cache_lookups_total{result="hit"} 2
ginauth_user_cache_lookups_total{result="miss"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ginauth_user_cache_lookups_total"); err != nil {
		t.Error(err)
	}
}
