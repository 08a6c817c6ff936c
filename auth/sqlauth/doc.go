// Package sqlauth holds the parts of ginauth's login flow that several
// instances of an application share through a SQL database, so that a
// database alone (PostgreSQL above all) can back a multi-instance
// deployment, with no Redis.
//
// It offers two things, each the counterpart of one in auth/redisauth:
//
//   - NewThrottleStore: the login throttle's counts in a table, through GORM, on
//     PostgreSQL, MySQL/MariaDB or SQLite. Give Throttle to
//     auth.Config.Throttle.Store.
//   - NewUserInvalidation: InvalidateUser carried to every instance's user
//     cache over PostgreSQL's LISTEN/NOTIFY, with pgx. Give it to
//     auth.Config.UserCache.Invalidation.
//
// Both fail closed in the way ginauth expects of a shared store: a database
// that cannot answer gives errors matching sessionstore.ErrUnavailable
// (logins then answer 503), never "not locked".
//
// It is a package of its own so that applications that use neither do not
// compile pgx.
package sqlauth
