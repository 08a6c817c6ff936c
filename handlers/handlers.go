// Package handlers mounts ginauth's prebuilt routes on any Gin router
// group: register, login, logout, logout-all, me, session-info, the list of
// one's sessions, revoking one, password change, re-authentication,
// recovery by mail (with auth.Config.Recovery), and, with options, second
// factors, passkeys and sign-in with other providers.
//
//	handlers.Mount(r.Group("/auth"), a, handlers.WithRegister())
//
// The routes speak JSON; errors are {"error": "...", "code": "..."} with
// the status of the HTTP contract in the package README. Browsers posting
// HTML forms (application/x-www-form-urlencoded) get 303 redirects instead,
// carrying in the query what the page needs to say:
//
//   - after /login and /register, to the form's returnTo field when it is a
//     local path (middleware.ReturnToParam; the login page copies it from its own
//     address) or "/";
//   - after /password, to returnTo (the page of the form) with
//     ?revoked=<the other sessions signed out>;
//   - after /logout, to the login page with ?signedOut=1; after
//     /logout-all, with ?signedOut=all&revoked=<sessions>;
//   - a failed /login back to the login page, a failed /register to GET of
//     its own path, a failed /password to returnTo, each with
//     ?error=<code> (error=1 for wrong credentials) and, for a lockout,
//     retry=<seconds>, keeping returnTo.
//
// Every route carries Cache-Control: no-store, refuses cross-origin unsafe
// requests (403 cross_origin; trusted origins through WithCrossOrigin),
// reads at most 64 KiB of body (413 payload_too_large past it), and
// installs the session manager's middleware for itself, so mounting works
// whether or not the application installed it globally.
package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
)

// DefaultBodyLimit bounds the request bodies of the prebuilt routes.
const DefaultBodyLimit = 64 << 10

// Option changes what Mount mounts.
type Option func(*options)

type options struct {
	register     bool
	bodyLimit    int64
	loginPath    string
	reauthPath   string
	secondFactor bool
	passkeys     any // a Passkeys[U] of Mount's U
	providers    any // a Providers[U] of Mount's U
	cop          *http.CrossOriginProtection
	extra        []gin.HandlerFunc
}

// WithRegister mounts POST /register, which creates a user and signs them
// in. It is off by default: many applications create users elsewhere.
func WithRegister() Option { return func(o *options) { o.register = true } }

// WithBodyLimit sets the body limit of the routes (default 64 KiB).
func WithBodyLimit(n int64) Option { return func(o *options) { o.bodyLimit = n } }

// WithLoginPath sets the address of the application's login page, where
// browsers are sent to sign in and back after a failed form post (default
// middleware.DefaultLoginPath). Give RequireAuth the same
// (middleware.WithLoginPath) on the application's own routes.
func WithLoginPath(p string) Option { return func(o *options) { o.loginPath = p } }

// WithReauthPath sets the address of the application's page that asks a
// signed-in user for their password again, where browsers are sent when a
// route needs a recent authentication, and back after a failed form post
// to /reauth (default middleware.DefaultReauthPath). Give
// RequireRecentAuth the same (middleware.WithReauthPath).
func WithReauthPath(p string) Option { return func(o *options) { o.reauthPath = p } }

// WithCrossOrigin sets the protection against cross-origin requests, with
// the application's trusted origins (default: same-origin requests and
// non-browser clients only). Give middleware.CrossOrigin the same on the
// application's own routes.
func WithCrossOrigin(cop *http.CrossOriginProtection) Option {
	return func(o *options) { o.cop = cop }
}

// WithMiddleware runs extra handlers before every route's own, after the
// session is loaded (for example a rate limiter or an audit log).
func WithMiddleware(h ...gin.HandlerFunc) Option {
	return func(o *options) { o.extra = append(o.extra, h...) }
}

// Mount registers the prebuilt routes on g:
//
//	POST   /register      (WithRegister) {"username","password","email"}: create a user (email optional: a verification link is mailed), sign in: 201 {"user"}
//	POST   /login         {"username","password","remember"}: 200 {"user"}
//	POST   /logout        204
//	POST   /logout-all    200 {"message","revoked"}
//	GET    /me            200 {"user"}
//	GET    /session-info  200 {"loginTime","lastActivity","ipAddress","userAgent","expiresAt","absoluteExpiresAt"}
//	GET    /sessions      200 {"sessions":[{"id","current","createdAt","lastActivity","ipAddress","userAgent"}]}
//	DELETE /sessions/:id  (recent authentication) 204
//	POST   /password      {"currentPassword","newPassword"}: 200 {"revoked"}
//	POST   /reauth        {"password"}: 200, the session's authentication renewed ("sudo mode")
//
// and those that work by mail (auth.Config.Recovery; without it they
// answer 404):
//
//	POST   /password/forgot     {"email"} or {"username"}: 202, one body for every case
//	POST   /password/reset      {"token","newPassword"}: 200 {"revoked"}
//	POST   /email               {"email"}, signed in: 202, a link to the new address
//	POST   /email/verify        {"token"}: 200
//	POST   /email/verify/resend signed in: 202
//	POST   /sessions/end        {"token"} from a new sign-in's notice: 200
//
// Options add the routes of second factors (WithSecondFactor), passkeys
// (WithPasskeys) and sign-in with other providers (WithProviders).
func Mount[U models.Authenticatable](g *gin.RouterGroup, a *auth.Auth[U], opts ...Option) {
	o := options{bodyLimit: DefaultBodyLimit, loginPath: middleware.DefaultLoginPath, reauthPath: middleware.DefaultReauthPath}
	for _, opt := range opts {
		opt(&o)
	}
	h := &routes[U]{a: a, loginPath: o.loginPath, reauthPath: o.reauthPath}
	cross := middleware.CrossOrigin(o.cop)
	sessions := a.Sessions().Middleware()
	require := middleware.RequireAuth(a, middleware.WithLoginPath(o.loginPath))
	chain := func(guard bool, last gin.HandlerFunc) []gin.HandlerFunc {
		hs := []gin.HandlerFunc{middleware.NoStore(), cross, middleware.BodyLimit(o.bodyLimit), sessions}
		hs = append(hs, o.extra...)
		if guard {
			hs = append(hs, require)
		}
		return append(hs, last)
	}
	recent := middleware.RequireRecentAuth(a, 0, middleware.WithLoginPath(o.loginPath), middleware.WithReauthPath(o.reauthPath))
	if o.register {
		g.POST("/register", chain(false, h.register)...)
	}
	g.POST("/login", chain(false, h.login)...)
	g.POST("/logout", chain(false, h.logout)...)
	g.POST("/logout-all", chain(true, h.logoutAll)...)
	g.GET("/me", chain(true, h.me)...)
	g.GET("/session-info", chain(true, h.sessionInfo)...)
	g.GET("/sessions", chain(true, h.sessions)...)
	g.DELETE("/sessions/:id", append(chain(false, recent), h.revoke)...)
	g.POST("/password", chain(true, h.password)...)
	g.POST("/password/forgot", chain(false, h.forgot)...)
	g.POST("/password/reset", chain(false, h.reset)...)
	g.POST("/reauth", chain(true, h.reauth)...)
	g.POST("/email", append(chain(false, recent), h.changeEmail)...)
	g.POST("/email/verify", chain(false, h.verifyEmail)...)
	g.POST("/email/verify/resend", chain(true, h.resendVerification)...)
	g.POST("/sessions/end", chain(false, h.endSession)...)
	if o.secondFactor {
		h.mountSecondFactor(g, chain, recent)
	}
	if o.passkeys != nil {
		p, ok := o.passkeys.(Passkeys[U])
		if !ok {
			panic("handlers: WithPasskeys was given passkeys of another user type than Mount's Auth")
		}
		h.mountPasskeys(g, p, chain, recent)
	}
	if o.providers != nil {
		p, ok := o.providers.(Providers[U])
		if !ok {
			panic("handlers: WithProviders was given providers of another user type than Mount's Auth")
		}
		h.mountProviders(g, p, chain, recent)
	}
}

type routes[U models.Authenticatable] struct {
	a          *auth.Auth[U]
	loginPath  string
	reauthPath string
}

// fail answers err: to a browser's form post with a redirect back to the
// form's page (page, with ?error=code, keeping returnTo) for what the
// person can fix, to everyone else with JSON.
func (h *routes[U]) fail(c *gin.Context, form bool, page, returnTo string, err error) {
	p, retryAfter := middleware.Problem(err)
	if form && p.Status < 500 && p.Status != http.StatusRequestEntityTooLarge {
		q := url.Values{"error": {p.Code}}
		if errors.Is(err, auth.ErrInvalidCredentials) {
			q.Set("error", "1")
		}
		if retryAfter > 0 {
			q.Set("retry", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
		}
		if middleware.LocalPath(returnTo) {
			q.Set(middleware.ReturnToParam, returnTo)
		}
		if u, err := url.Parse(page); err == nil && u.RawQuery != "" {
			for k, v := range u.Query() {
				if !q.Has(k) {
					q[k] = v
				}
			}
			page = u.Path
		}
		c.Redirect(http.StatusSeeOther, page+"?"+q.Encode())
		c.Abort()
		return
	}
	middleware.WriteError(c, err)
}

// withQuery returns the local path p with the query parameters added.
func withQuery(p string, kv ...string) string {
	u, err := url.Parse(p)
	if err != nil {
		return p
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (h *routes[U]) register(c *gin.Context) {
	var username, password, email, returnTo string
	form, err := readBody(c,
		field{name: "username", str: &username, required: true},
		field{name: "password", str: &password, required: true},
		field{name: "email", str: &email},
		field{name: middleware.ReturnToParam, str: &returnTo})
	page := c.Request.URL.Path // the registration form's page, by convention
	if err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	user, err := h.a.Register(c, auth.NewUser{Username: username, Password: password, Email: email})
	if err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	if err := h.a.Login(c, user, auth.LoginOptions{}); err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, middleware.ReturnTo(returnTo))
		return
	}
	c.JSON(http.StatusCreated, userBody[U]{user})
}

func (h *routes[U]) login(c *gin.Context) {
	var username, password, returnTo string
	var remember bool
	form, err := readBody(c,
		field{name: "username", str: &username, required: true},
		field{name: "password", str: &password, required: true},
		field{name: "remember", flag: &remember},
		field{name: middleware.ReturnToParam, str: &returnTo})
	page := h.loginPath
	if err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	user, err := h.a.Authenticate(c, username, password)
	if err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	if err := h.a.Login(c, user, auth.LoginOptions{Remember: remember}); err != nil {
		var more *auth.SecondFactorRequired
		if errors.As(err, &more) {
			if form {
				c.Redirect(http.StatusSeeOther, withQuery(h.loginPath+"/2fa", middleware.ReturnToParam, middleware.ReturnTo(returnTo)))
				return
			}
			c.JSON(http.StatusOK, gin.H{"mfaRequired": true, "methods": more.Methods})
			return
		}
		h.fail(c, form, page, returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, middleware.ReturnTo(returnTo))
		return
	}
	c.JSON(http.StatusOK, userBody[U]{user})
}

// isForm reports a browser's form post (for the routes without a body to
// parse).
func isForm(c *gin.Context) bool {
	return c.ContentType() == "application/x-www-form-urlencoded"
}

func (h *routes[U]) logout(c *gin.Context) {
	if err := h.a.Logout(c); err != nil {
		middleware.WriteError(c, err)
		return
	}
	if isForm(c) {
		c.Redirect(http.StatusSeeOther, withQuery(h.loginPath, "signedOut", "1"))
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *routes[U]) logoutAll(c *gin.Context) {
	u, err := h.a.User(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	n, err := h.a.RevokeAll(c, u.AuthID())
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	if isForm(c) {
		c.Redirect(http.StatusSeeOther, withQuery(h.loginPath, "signedOut", "all", "revoked", strconv.Itoa(n)))
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged out everywhere", "revoked": n})
}

// userBody is the JSON of a response that carries the user.
type userBody[U any] struct {
	User U `json:"user"`
}

func (h *routes[U]) me(c *gin.Context) {
	u, _ := h.a.User(c) // RequireAuth let only signed-in requests through
	c.JSON(http.StatusOK, userBody[U]{u})
}

func (h *routes[U]) sessionInfo(c *gin.Context) {
	d, ok := session.From(c).Details()
	if !ok {
		middleware.WriteError(c, auth.ErrUnauthenticated)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (h *routes[U]) sessions(c *gin.Context) {
	u, _ := h.a.User(c) // RequireAuth let only signed-in requests through
	list, err := h.a.Sessions().List(c, u.AuthID())
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"sessions": list})
}

func (h *routes[U]) revoke(c *gin.Context) {
	u, _ := h.a.User(c) // RequireAuth let only signed-in requests through
	if err := h.a.Revoke(c, u.AuthID(), c.Param("id")); err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *routes[U]) password(c *gin.Context) {
	var current, next, returnTo string
	form, err := readBody(c,
		field{name: "currentPassword", str: &current, required: true},
		field{name: "newPassword", str: &next, required: true},
		field{name: middleware.ReturnToParam, str: &returnTo})
	page := middleware.ReturnTo(returnTo) // the form's page
	if u, err := url.Parse(page); err == nil {
		page = u.Path
	}
	if err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	n, err := h.a.ChangePassword(c, current, next)
	if err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, withQuery(middleware.ReturnTo(returnTo), "revoked", strconv.Itoa(n)))
		return
	}
	c.JSON(http.StatusOK, gin.H{"revoked": n})
}

// reauth is POST /reauth: {"password"}, signed in. The session records
// the proof and gets a new ID; routes behind RequireRecentAuth let it
// through for the window that follows.
func (h *routes[U]) reauth(c *gin.Context) {
	var password, code, returnTo string
	form, err := readBody(c,
		field{name: "password", str: &password},
		field{name: "code", str: &code},
		field{name: middleware.ReturnToParam, str: &returnTo})
	switch {
	case err != nil:
	case (password == "") == (code == ""):
		err = middleware.BadRequest(`Send "password" or "code".`)
	case code != "":
		err = h.a.ReauthenticateCode(c, code)
	default:
		err = h.a.Reauthenticate(c, password)
	}
	if err != nil {
		h.fail(c, form, h.reauthPath, returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, middleware.ReturnTo(returnTo))
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Confirmed."})
}
