package auth

import "time"

// Metrics receives what ginauth measures inside the login flow, for
// monitoring (the metrics package feeds Prometheus from it). Account
// events reach Config.OnEvent, and store calls can be timed by wrapping
// the store; these are the rest. Every method is called on the request's
// goroutine, so it must be quick, and safe for concurrent use.
type Metrics interface {
	// HashStarted is called when a bcrypt computation gets a slot
	// (Config.Passwords.MaxConcurrentHashes), after waiting wait for it; HashDone
	// when it ends. Their difference is the computations in flight.
	HashStarted(wait time.Duration)
	HashDone()
	// HashBusy is called when a login finds no slot in time and is turned
	// away with ErrBusy.
	HashBusy()
	// UserCacheLookup is called at every lookup of the user cache: hit
	// means no user store query.
	UserCacheLookup(hit bool)
}

// InvalidationMetrics is a Metrics that also follows the link of
// Config.UserCache.Invalidation (the metrics package's does). An Auth finds it
// by type assertion: a Metrics without it is not told.
type InvalidationMetrics interface {
	Metrics
	// UserInvalidationListening is called when the subscription to
	// Config.UserCache.Invalidation starts listening (true) and when it loses
	// its link (false), once per change, from the subscription's
	// goroutine: while it is false, this instance hears of changed users
	// only as its cache entries expire. It is called only for a
	// UserInvalidation that reports its state (ReportingInvalidation), and
	// for any whose Subscribe returns an error.
	UserInvalidationListening(listening bool)
}

// noMetrics is the Metrics of an Auth without Config.Metrics.
type noMetrics struct{}

func (noMetrics) HashStarted(time.Duration) {}
func (noMetrics) HashDone()                 {}
func (noMetrics) HashBusy()                 {}
func (noMetrics) UserCacheLookup(bool)      {}
