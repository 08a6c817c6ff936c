package handlers

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
)

// Providers are the sign-ins with other providers WithProviders mounts;
// the auth/oauth package's Providers implement them.
type Providers[U models.Authenticatable] interface {
	Start(c *gin.Context, name, returnTo string, link bool) (string, error)
	Callback(c *gin.Context) (U, string, error)
	Identities(c *gin.Context) ([]models.Identity, error)
	Unlink(c *gin.Context, name, subject string) error
}

// WithProviders mounts the routes of sign-in with other providers
// (oauth.New's result, for the Auth given to Mount):
//
//	GET    /oauth/:provider/start?returnTo=          303 to the provider
//	POST   /oauth/:provider/start  link=1&returnTo=  (a form) 303 to the provider: the signed-in user links it (recent authentication)
//	GET    /oauth/:provider/callback                 303 to returnTo, signed in (or to the login page's /2fa for a second factor)
//	GET    /oauth/identities                         200 {"identities":[{"provider","handle","email","createdAt","lastUsedAt"}]}
//	DELETE /oauth/identities/:provider/:handle       (recent authentication) 204
//
// The first two are browser navigations: a failure goes back to the login
// page (or, for a link, to returnTo) with ?error=<code>.
func WithProviders[U models.Authenticatable](p Providers[U]) Option {
	return func(o *options) { o.providers = p }
}

// mountProviders adds the routes of WithProviders.
func (h *routes[U]) mountProviders(g *gin.RouterGroup, p Providers[U], chain func(bool, gin.HandlerFunc) []gin.HandlerFunc, recent gin.HandlerFunc) {
	r := providerRoutes[U]{h: h, p: p}
	g.GET("/oauth/:provider/start", chain(false, r.start)...)
	g.POST("/oauth/:provider/start", chain(false, r.start)...)
	g.GET("/oauth/:provider/callback", chain(false, r.callback)...)
	g.GET("/oauth/identities", chain(true, r.identities)...)
	g.DELETE("/oauth/identities/:provider/:handle", append(chain(false, recent), r.unlink)...)
}

type providerRoutes[U models.Authenticatable] struct {
	h *routes[U]
	p Providers[U]
}

func (r providerRoutes[U]) start(c *gin.Context) {
	returnTo, link := c.Query(middleware.ReturnToParam), c.Query("link") == "1"
	if c.Request.Method == http.MethodPost {
		var flag string
		form, err := readBody(c, field{name: middleware.ReturnToParam, str: &returnTo}, field{name: "link", str: &flag})
		if err != nil || !form {
			middleware.WriteError(c, middleware.BadRequest(`Post a form of "link" and "returnTo".`))
			return
		}
		link = flag == "1"
	} else if link {
		// A link started by a GET could be started by any site the user
		// visits (a navigation carries the cookie), linking to the account
		// whatever provider account the browser is signed in to there:
		// linking is a form post, which CrossOrigin guards.
		middleware.WriteError(c, middleware.BadRequest("Linking a provider starts with a form post (POST with link=1)."))
		return
	}
	to, err := r.p.Start(c, c.Param("provider"), returnTo, link)
	if errors.Is(err, auth.ErrReauthRequired) {
		// Back to the page of the form after the re-authentication, where
		// the user links again.
		c.Redirect(http.StatusSeeOther, r.h.reauthPath+"?"+url.Values{middleware.ReturnToParam: {middleware.ReturnTo(returnTo)}}.Encode())
		return
	}
	if err != nil {
		r.back(c, returnTo, link, err)
		return
	}
	c.Redirect(http.StatusSeeOther, to)
}

func (r providerRoutes[U]) callback(c *gin.Context) {
	_, returnTo, err := r.p.Callback(c)
	var more *auth.SecondFactorRequired
	switch {
	case errors.As(err, &more):
		q := url.Values{}
		if middleware.LocalPath(returnTo) {
			q.Set(middleware.ReturnToParam, returnTo)
		}
		c.Redirect(http.StatusSeeOther, r.h.loginPath+"/2fa?"+q.Encode())
	case err != nil:
		_, anonymous := r.h.a.User(c)
		r.back(c, returnTo, anonymous == nil, err) // signed in: a link went wrong
	default:
		c.Redirect(http.StatusSeeOther, middleware.ReturnTo(returnTo))
	}
}

// back sends a browser whose provider sign-in failed to the login page,
// or (a link) to the page it came from, with ?error=<code>.
func (r providerRoutes[U]) back(c *gin.Context, returnTo string, link bool, err error) {
	p, _ := middleware.Problem(err)
	if p.Status >= 500 && !errors.Is(err, auth.ErrProviderUnavailable) {
		middleware.WriteError(c, err)
		return
	}
	q := url.Values{"error": {p.Code}}
	page := r.h.loginPath
	if link && middleware.LocalPath(returnTo) {
		if u, perr := url.Parse(returnTo); perr == nil {
			page = u.Path
		}
	} else if middleware.LocalPath(returnTo) {
		q.Set(middleware.ReturnToParam, returnTo)
	}
	c.Redirect(http.StatusSeeOther, page+"?"+q.Encode())
}

// identityJSON is a linked identity as the routes show it.
type identityJSON struct {
	Provider   string     `json:"provider"`
	Handle     string     `json:"handle"`
	Email      string     `json:"email"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

func (r providerRoutes[U]) identities(c *gin.Context) {
	ids, err := r.p.Identities(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	out := make([]identityJSON, len(ids))
	for i, id := range ids {
		out[i] = identityJSON{Provider: id.Provider, Handle: base64.RawURLEncoding.EncodeToString([]byte(id.Subject)), Email: id.Email, CreatedAt: id.CreatedAt.UTC()}
		if !id.LastUsedAt.IsZero() {
			t := id.LastUsedAt.UTC()
			out[i].LastUsedAt = &t
		}
	}
	c.JSON(http.StatusOK, gin.H{"identities": out})
}

func (r providerRoutes[U]) unlink(c *gin.Context) {
	subject, err := base64.RawURLEncoding.DecodeString(c.Param("handle"))
	if err != nil || len(subject) == 0 {
		middleware.WriteError(c, auth.ErrNoIdentity)
		return
	}
	if err := r.p.Unlink(c, c.Param("provider"), string(subject)); err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
