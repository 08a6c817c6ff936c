package middleware

import (
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
)

// Session loads the request's session (one store round trip; the user comes
// from the cache) and commits it automatically, before the response headers
// go out: handlers never call Save. A read-only request inside the touch
// interval writes nothing.
//
// When the commit fails, the client never sees the handler's success: the
// response becomes 503 store_unavailable (or 401 session_expired when the
// session was destroyed meanwhile). A store outage while loading answers 503
// and never logs the user out.
//
// It also installs the session under gin-contrib/sessions' key, so
// sessions.Default(c) works. Installing it twice (globally and on a route)
// is harmless: the outer one does the work.
func Session(a Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.Begun(c) {
			c.Next()
			return
		}
		if err := a.Begin(c); err != nil {
			auth.WriteProblem(c, err)
			return
		}
		c.Next()
		a.Finish(c)
	}
}
