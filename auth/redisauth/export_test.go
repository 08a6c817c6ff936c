package redisauth

import "time"

// SetPingInterval makes subscriptions ping Redis after d of silence, until
// restore.
func SetPingInterval(d time.Duration) (restore func()) {
	old := pingInterval
	pingInterval = d
	return func() { pingInterval = old }
}
