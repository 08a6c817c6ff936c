// Package session is the engine under ginauth's session middleware, used by
// auth and ginsessions and by no application directly: session IDs that never
// print themselves, the signed cookie codec with secret rotation, the
// per-request Session that tracks what a request changed, the Policy of idle
// and absolute timeouts and touch intervals, and the typed encoding of values.
package session
