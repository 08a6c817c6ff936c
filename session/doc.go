// Package session keeps the server-side sessions of a Gin application: a
// signed cookie that carries only a random ID, records in a
// sessionstore.Store, idle and absolute timeouts, typed values,
// regeneration, and sessions bound to a user that can be listed, revoked
// and capped. It knows nothing of accounts: the auth package builds sign-in
// on it, and an application with anonymous sessions only (a shopping cart,
// say) needs nothing else.
//
//	sessions, err := session.New(session.Config{Store: store, Secrets: secrets})
//	r.Use(sessions.Middleware())
//	r.POST("/cart/:item", func(c *gin.Context) {
//		cart, _ := session.Get[Cart](c, "cart")
//		cart.Items = append(cart.Items, c.Param("item"))
//		_ = session.Set(c, "cart", cart) // written before the response goes out
//	})
//
// # What a request costs
//
// Middleware verifies the cookie's signature (HMAC-SHA256 with a key
// derived from each secret, newest first), loads the record by the SHA-256
// of the ID (one store round trip), and applies the timeouts in process.
// After the handler it writes only what changed, before the response's
// headers go out; a read-only request inside the touch interval writes
// nothing. A failed write replaces the handler's response: a client is never
// told of a change that was not stored.
//
// # Decisions worth knowing
//
//   - The cookie carries a random 256-bit ID and a signed "was signed in"
//     flag, and nothing else: a cookie whose session is gone is told apart
//     as an ended session (Session.Expired) rather than an anonymous visit.
//     IDs never print themselves: logs name a session by the first 8 hex
//     digits of its store key, and listings by its public ID (Info.ID).
//   - A Secure cookie with Path "/" and no Domain is named "__Host-sid"
//     (Cookie.HostPrefix; HostPrefixOff opts out), so no other site of the
//     parent domain can set it. A request that carries the cookies of two
//     sessions under the name has no session, and the cookie is expired.
//   - Values are JSON, with no type tag: Get decodes into the type asked
//     for, and a person can read them in redis-cli or psql.
//   - Sessions of nobody end an hour after they began (Lifetime.Anonymous):
//     anonymous clients can make them at will.
//   - The client IP is the TCP peer unless it is one of Config.TrustedProxies;
//     the manager does not use Gin's engine setting, which trusts every
//     proxy by default.
//   - Sessions are never cached in process: a revoked session is refused by
//     every instance at its next request.
package session
