package middleware

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
)

// RequireAuth lets only signed-in requests through. Others get 401 JSON
// (code session_expired when their session ended, unauthenticated
// otherwise), or, when the client asks for HTML, a 303 to the login page
// (auth.LoginURL): ?returnTo= the page they asked for, and expired=true
// after their session ended. The return address travels in the redirect,
// never in a session, so an anonymous client cannot make the server store
// anything. Its responses, and those of the routes it guards, carry
// Cache-Control: no-store.
func RequireAuth(a Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		noStore(c)
		if !a.Begun(c) {
			a.Logger().Error("ginauth: RequireAuth without middleware.Session before it", "path", c.FullPath())
			auth.WriteProblem(c, auth.ErrNoSessionMiddleware)
			return
		}
		if a.IsAuthenticated(c) {
			c.Next()
			return
		}
		expired := a.SessionExpired(c)
		if WantsHTML(c) {
			returnTo := ""
			if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead {
				returnTo = c.Request.URL.RequestURI()
			}
			c.Redirect(http.StatusSeeOther, auth.LoginURL(a.LoginPath(), returnTo, expired))
			c.Abort()
			return
		}
		if expired {
			auth.WriteProblem(c, auth.ErrSessionExpired)
			return
		}
		auth.WriteProblem(c, auth.ErrUnauthenticated)
	}
}

// WantsHTML reports whether the client prefers HTML to JSON, as a browser
// navigating does. API clients, and clients that send no Accept header, get
// JSON.
func WantsHTML(c *gin.Context) bool {
	return c.GetHeader("Accept") != "" && c.NegotiateFormat(gin.MIMEJSON, gin.MIMEHTML) == gin.MIMEHTML
}

// NoStore marks responses uncacheable: auth responses must not be kept by
// browsers or proxies.
func NoStore() gin.HandlerFunc {
	return func(c *gin.Context) {
		noStore(c)
		c.Next()
	}
}

// noStoreValue is the header value NoStore and RequireAuth set: one slice
// for every response (a header value is replaced, never changed in place).
var noStoreValue = []string{"no-store"}

func noStore(c *gin.Context) { c.Writer.Header()["Cache-Control"] = noStoreValue }

// BodyLimit refuses request bodies over n bytes with 413
// payload_too_large: at once when Content-Length says so, and while reading
// otherwise (the handler's read then fails with *http.MaxBytesError). A
// request without a body costs nothing.
func BodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			auth.WriteProblem(c, auth.ErrPayloadTooLarge)
			return
		}
		if b := c.Request.Body; b != nil && b != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, b, n)
		}
		c.Next()
	}
}

// CrossOrigin refuses cross-origin requests with unsafe methods (POST, PUT,
// PATCH, DELETE) with 403 cross_origin, using the standard library's
// http.CrossOriginProtection: browsers' Sec-Fetch-Site, or Origin against
// Host. Same-origin requests, safe methods, and clients that send neither
// header (non-browser clients) pass. Pass a.CrossOriginProtection() to share
// the trusted origins of auth.Config; nil protects with no trusted origin.
// SameSite=Lax cookies already keep most cross-site posts unauthenticated;
// this refuses them outright, sibling subdomains included.
func CrossOrigin(cop *http.CrossOriginProtection) gin.HandlerFunc {
	if cop == nil {
		cop = http.NewCrossOriginProtection()
	}
	return func(c *gin.Context) {
		if err := cop.Check(c.Request); err != nil {
			auth.WriteProblem(c, auth.ErrCrossOrigin)
			return
		}
		c.Next()
	}
}
