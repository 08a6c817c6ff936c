// Package sessionstore is the kit shared by ginauth's session stores and
// their users: the [Store] and [UserIndex] interfaces, the [Record] a store
// keeps, the [Key] and handle that name it, and the errors stores answer.
//
// The stores themselves live in packages of their own, so that an
// application compiles only the backend it uses: memstore, redisstore,
// gormstore and mongostore (a module of its own). ginsessions adapts any of
// them to github.com/gin-contrib/sessions, and storetest is the behavioural
// suite every store passes.
//
// # Model
//
// A session is named by a 256-bit random ID that only the cookie carries. A
// store never sees it: records are kept under the SHA-256 of the ID (a [Key]),
// so a leaked store, backup or log line gives nobody a usable cookie. Listings
// name sessions by a [Key.ID], which is derived from the key and can be
// shown to people.
//
// A [Record] holds the session's metadata (user, creation, last activity,
// expiry, IP address, user agent) and the application's values. Values are
// JSON, so a person can read a session in redis-cli or psql; a type tag kept
// beside each value that JSON alone would not restore (an int, a time.Time, a
// registered struct) gives the value back with its Go type (see auth.Get).
//
// # Stores
//
// Every store implements [Store] and [UserIndex]. Writes follow three rules:
//
//   - a new session is created under a fresh key; it never overwrites one;
//   - an update is a compare-and-swap on the record's revision, and it never
//     recreates a record that was destroyed or expired meanwhile;
//   - a touch refreshes last activity and expiry without rewriting values.
//
// The per-user index lets a store list, revoke one of, or revoke all of a
// user's sessions in one batch. Expired sessions drop out of it.
//
// A store that is also a [Limiter] caps how many live sessions a user may
// have at once: CreateLimited stores a login's session and, in the same
// atomic step on the backend, refuses it ([ErrTooManySessions]) or ends the
// user's oldest sessions, so parallel logins on any number of instances
// never leave a user over the [Limit]. Every store of ginauth is one.
//
// Store errors are returned, never swallowed: a store that cannot be reached
// answers an error that matches [ErrUnavailable] with errors.Is.
//
// # gin-contrib/sessions
//
// ginsessions.NewStore turns any store into a github.com/gin-contrib/sessions
// Store, so an application that uses sessions.Sessions and sessions.Default
// keeps working unchanged while gaining server-side revocation.
package sessionstore
