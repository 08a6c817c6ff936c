package redisauth

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// SetPingInterval makes subscriptions ping Redis after d of silence, until
// restore.
func SetPingInterval(d time.Duration) (restore func()) {
	old := pingInterval
	pingInterval = d
	return func() { pingInterval = old }
}

// NewShardedThrottle is NewThrottle with every key in a slot of its own.
func NewShardedThrottle(c redis.UniversalClient, opts ThrottleOptions) *Throttle {
	t := NewThrottle(c, opts)
	t.sharded = true
	return t
}
