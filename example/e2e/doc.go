// Package e2e holds the end-to-end suite that runs two instances of the
// example app, as separate processes on one shared store, and drives them
// as a load balancer would: a session made on one works on the other,
// revocations and user changes reach the other at once, the throttle is
// shared, a limit on each user's sessions holds across both, the secret
// rotates instance by instance, an instance stops gracefully under load,
// and a Redis Cluster master fails over under load.
//
// It has no code of its own: everything is in its tests.
//
//	go test ./example/e2e
package e2e
