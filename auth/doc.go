// Package auth is the session-based login flow of ginauth: local
// username/password login with bcrypt, session regeneration on login,
// typed session values, idle and absolute timeouts with sliding expiration,
// logout, logout everywhere, listing and revoking one's sessions, and
// password change, for any user type that embeds models.User.
//
// # Setting up
//
//	users := gormusers.New[models.User](db) // github.com/ginauth/ginauth/models/gormusers
//	a, err := auth.New(auth.Config[*models.User]{
//		Store:   redisstore.New(rdb, redisstore.Options{}), // or memstore, gormstore, mongostore
//		Users:   users,
//		Secrets: [][]byte{secret}, // 32+ bytes, newest first
//	})
//	r.Use(middleware.Session(a))
//	handlers.Mount(r.Group("/auth"), a, handlers.WithRegister())
//	r.GET("/account", middleware.RequireAuth(a), func(c *gin.Context) {
//		user, _ := a.User(c) // *models.User, no type assertion
//		...
//	})
//
// # What a request costs
//
// The session middleware verifies the cookie, loads the record by the
// SHA-256 of its ID (one store round trip), checks the timeouts in process,
// and takes the user from an LRU cache (no user store query on a hit). After
// the handler it writes only what changed; a read-only request inside the
// touch interval writes nothing.
//
// # Decisions worth knowing
//
//   - Usernames are normalized (NormalizeUsername) at registration and login
//     alike: NFKC, lower case, trimmed; a new name must also be valid under
//     RFC 8265's UsernameCaseMapped profile. A user is found only under
//     exactly that name. Passwords are NFKC-normalized (NIST SP 800-63B),
//     must be 8 characters or more as typed, and at most 72 bytes once
//     normalized: bcrypt's limit, enforced rather than silently truncated.
//   - Login always regenerates the session: new ID, old record destroyed,
//     only Config.KeepOnRegenerate values carried (default none). Each
//     signed-in session keeps a fingerprint of the credentials it signed in
//     with; once they change, it ends at its next request.
//   - Nothing an anonymous client does through ginauth stores a session:
//     the page a browser asked for rides on the login redirect
//     (ReturnToParam). Sessions the application starts for anonymous
//     visitors live at most Config.AnonymousTimeout.
//   - A cookie whose session is gone is answered session_expired when it
//     was issued to a signed-in session (the cookie says so, signed), and
//     unauthenticated otherwise. Only RequireAuth answers it: on other
//     routes the request goes on signed out, and its cookie is expired.
//   - A Secure cookie with Path "/" and no Domain is named "__Host-sid"
//     (Cookie.HostPrefix; HostPrefixOff opts out), so no other site of the
//     parent domain can set it. When a request carries the cookies of two
//     sessions under the name (one may be such a site's, set for the
//     parent domain), it has no session, and the cookie is expired with the
//     configured Path and Domain; a planted cookie of other attributes
//     stays, and the browser is signed out while it does. Cookies of the
//     name that do not verify are ignored.
//   - The client IP is the TCP peer unless it is a configured trusted proxy;
//     ginauth does not use Gin's engine setting, which trusts every proxy by
//     default.
//   - Sessions are never cached in process, so a revoked session is refused
//     by every instance at its next request. Users are cached (5 minutes by
//     default); call InvalidateUser after changing one, and set
//     Config.UserInvalidation so that the call reaches every instance.
package auth
