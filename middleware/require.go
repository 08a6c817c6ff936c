package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
)

// DefaultLoginPath is where browsers are sent to sign in unless an option
// says otherwise.
const DefaultLoginPath = "/login"

// DefaultReauthPath is where browsers are sent to confirm their password
// unless an option says otherwise.
const DefaultReauthPath = "/reauth"

// Option changes what RequireAuth and RequireRecentAuth do.
type Option func(*requireOptions)

type requireOptions struct {
	loginPath  string
	reauthPath string
}

// WithLoginPath sets where RequireAuth sends browsers to sign in (default
// DefaultLoginPath).
func WithLoginPath(p string) Option { return func(o *requireOptions) { o.loginPath = p } }

// WithReauthPath sets where RequireRecentAuth sends browsers to confirm
// their password (default DefaultReauthPath).
func WithReauthPath(p string) Option { return func(o *requireOptions) { o.reauthPath = p } }

// RequireRecentAuth lets through only signed-in requests whose session
// proved a factor within window (auth.DefaultReauthWindow when 0): "sudo
// mode" for the routes that change how an account is reached or secured.
// Others get 403 reauth_required in JSON, or, when the client asks for
// HTML, a 303 to the re-authentication page (WithReauthPath) with
// ?returnTo= the page to come back to (the page asked for, or the page a
// form was posted from). Requests without a signed-in session are answered
// as RequireAuth answers them.
func RequireRecentAuth[U models.Authenticatable](a *auth.Auth[U], window time.Duration, opts ...Option) gin.HandlerFunc {
	o := requireOptions{loginPath: DefaultLoginPath, reauthPath: DefaultReauthPath}
	for _, opt := range opts {
		opt(&o)
	}
	return func(c *gin.Context) {
		if !signedIn(c, a, o) {
			return
		}
		err := a.RecentAuth(c, window)
		switch {
		case err == nil:
			c.Next()
			return
		case errors.Is(err, auth.ErrReauthRequired) && WantsHTML(c):
			c.Redirect(http.StatusSeeOther, withReturnTo(o.reauthPath, pageOf(c)))
			c.Abort()
			return
		}
		WriteError(c, err)
	}
}

// pageOf returns the page to come back to after an interruption: the page
// asked for, or, for a form post, the page of the form (its Referer, when
// on this site).
func pageOf(c *gin.Context) string {
	if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead {
		return c.Request.URL.RequestURI()
	}
	ref, err := url.Parse(c.GetHeader("Referer"))
	if err != nil || ref.Host != c.Request.Host {
		return ""
	}
	return ref.RequestURI()
}

// withReturnTo returns path with ?returnTo=p when p is a LocalPath.
func withReturnTo(path, p string) string {
	if !LocalPath(p) || p == "/" {
		return path
	}
	return path + "?" + url.Values{ReturnToParam: {p}}.Encode()
}

// RequireAuth lets only signed-in requests through, their user resolved
// (a.User). Others get 401 JSON (code session_expired when their session
// ended, unauthenticated otherwise), or, when the client asks for HTML, a
// 303 to the login page (LoginURL): ?returnTo= the page they asked for,
// and expired=true after their session ended. The return address travels
// in the redirect, never in a session, so an anonymous client cannot make
// the server store anything. Its responses, and those of the routes it
// guards, carry Cache-Control: no-store. It needs the session manager's
// middleware before it.
func RequireAuth[U models.Authenticatable](a *auth.Auth[U], opts ...Option) gin.HandlerFunc {
	o := requireOptions{loginPath: DefaultLoginPath}
	for _, opt := range opts {
		opt(&o)
	}
	return func(c *gin.Context) {
		if signedIn(c, a, o) {
			c.Next()
		}
	}
}

// signedIn reports whether the request has a signed-in user, and answers
// it otherwise (see RequireAuth).
func signedIn[U models.Authenticatable](c *gin.Context, a *auth.Auth[U], o requireOptions) bool {
	noStore(c)
	_, err := a.User(c)
	switch {
	case err == nil:
		return true
	case errors.Is(err, session.ErrNoMiddleware):
		slog.Default().Error("ginauth: RequireAuth without the session middleware before it", "path", c.FullPath())
	case (errors.Is(err, auth.ErrUnauthenticated) || errors.Is(err, session.ErrExpired)) && WantsHTML(c):
		returnTo := ""
		if m := c.Request.Method; m == http.MethodGet || m == http.MethodHead {
			returnTo = c.Request.URL.RequestURI()
		}
		c.Redirect(http.StatusSeeOther, LoginURL(o.loginPath, returnTo, errors.Is(err, session.ErrExpired)))
		c.Abort()
		return false
	}
	WriteError(c, err)
	return false
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
			WriteError(c, ErrPayloadTooLarge)
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
// header (non-browser clients) pass. Give it the same protection as
// handlers.WithCrossOrigin to share trusted origins; nil protects with no
// trusted origin. SameSite=Lax cookies already keep most cross-site posts
// unauthenticated; this refuses them outright, sibling subdomains included.
func CrossOrigin(cop *http.CrossOriginProtection) gin.HandlerFunc {
	if cop == nil {
		cop = http.NewCrossOriginProtection()
	}
	return func(c *gin.Context) {
		if err := cop.Check(c.Request); err != nil {
			WriteError(c, ErrCrossOrigin)
			return
		}
		c.Next()
	}
}

// ReturnToParam names the page a browser asked for before it was sent to
// sign in: the query parameter of the login page's address, and the form
// field that the login form posts back. It travels with the browser, not in
// a session, so that an anonymous client cannot make the server store
// anything by asking for a protected page.
const ReturnToParam = "returnTo"

// LoginURL returns the address of the login page at loginPath for a
// browser that asked for returnTo (kept only when it is a LocalPath), with
// expired=true after its session ended.
func LoginURL(loginPath, returnTo string, expired bool) string {
	q := url.Values{}
	if LocalPath(returnTo) && returnTo != "/" {
		q.Set(ReturnToParam, returnTo)
	}
	if expired {
		q.Set("expired", "true")
	}
	if len(q) == 0 {
		return loginPath
	}
	return loginPath + "?" + q.Encode()
}

// ReturnTo returns where to send a browser once it has signed in: p when
// it is a LocalPath, "/" otherwise.
func ReturnTo(p string) string {
	if LocalPath(p) {
		return p
	}
	return "/"
}

// LocalPath reports whether p is a path on this site: it starts with one
// slash, and no scheme, host, backslash or control character can make a
// browser leave the site.
func LocalPath(p string) bool {
	if len(p) == 0 || p[0] != '/' || len(p) > 2048 {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return false
		}
	}
	return true
}
