// Package auth is the account service of ginauth: local username/password
// sign-in with bcrypt, registration, password changes and the operations on
// users, throttled and audited, for any user type that embeds models.User,
// on the sessions of a session.Manager.
//
// # Setting up
//
//	sessions, err := session.New(session.Config{
//		Store:   redisstore.New(rdb, redisstore.Options{}), // or memstore, gormstore, mongostore
//		Secrets: [][]byte{secret},                         // 32+ bytes, newest first
//	})
//	users := gormusers.New[models.User](db) // github.com/ginauth/ginauth/models/gormusers
//	a, err := auth.New(auth.Config[*models.User]{Sessions: sessions, Users: users})
//	r.Use(sessions.Middleware())
//	handlers.Mount(r.Group("/auth"), a, handlers.WithRegister())
//	r.GET("/account", middleware.RequireAuth(a), func(c *gin.Context) {
//		user, _ := a.User(c) // *models.User, no type assertion
//		...
//	})
//
// # What a request costs
//
// The session manager's middleware verifies the cookie and loads the record
// by the SHA-256 of its ID (one store round trip), and checks the timeouts
// in process; User takes the user from an LRU cache (no user store query
// on a hit), once per request. After the handler only what changed is
// written; a read-only request inside the touch interval writes nothing.
//
// # One method for a request and an operator
//
// Register, Revoke, RevokeAll and SetPassword take a context.Context and
// the IDs they act on. Given the request's *gin.Context, they act for the
// client: Register is throttled per client address, Revoke and RevokeAll
// sign the request out when they end its own session, and the account
// events carry the client's address and user agent. Given any other
// context (an operator's page, a command line), they act on the user the
// IDs name, without a client.
//
// # Decisions worth knowing
//
//   - Usernames are normalized (NormalizeUsername) at registration and login
//     alike: NFKC, lower case, trimmed; a new name must also be valid under
//     RFC 8265's UsernameCaseMapped profile. A user is found only under
//     exactly that name. Passwords are NFKC-normalized (NIST SP 800-63B),
//     must be 8 characters or more as typed, and at most 72 bytes once
//     normalized: bcrypt's limit, enforced rather than silently truncated.
//   - Every new password (Register, SetPassword, ChangePassword) is judged
//     by one rule set, after the length rules: it may not be the username
//     (ErrPasswordIsUsername), nor, unless Passwords.AllowCommon, one of
//     the 10,000 most common passwords, in any letter case
//     (ErrCommonPassword; the list is embedded, from zxcvbn, MIT); then
//     Passwords.Checks run in order (the hibp package's breach lookup, an
//     application's own rules). A refusal matches ErrWeakPassword (400); a
//     checker that could not run answers ErrPasswordCheckUnavailable (503),
//     and changes nothing.
//   - Login always regenerates the session (session.Session.Bind): new ID,
//     old record destroyed, only the values the manager keeps on
//     regeneration carried. Each signed-in session keeps a fingerprint of
//     the credentials it signed in with; once they change, it ends at its
//     next request.
//   - Errors are plain sentinels (ErrInvalidCredentials, ErrTooManyAttempts
//     in a *RetryError, ...): what a client is told of them, status and
//     code, is decided at the HTTP edge (middleware.WriteError).
//   - Sessions are never cached in process, so a revoked session is refused
//     by every instance at its next request. Users are cached (5 minutes by
//     default); call InvalidateUser after changing one, and set
//     UserCache.Invalidation so that the call reaches every instance.
package auth
