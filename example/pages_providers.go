package main

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
)

// The pages of sign-in with OpenID Providers (OIDC_PROVIDERS). Signing
// in and linking are the prebuilt routes of handlers.WithProviders,
// browser navigations that plain links start (no script); they come back
// to the login page, or to the account page for a link, with ?error=<code>
// when they fail, which the pages say in words. Unlinking is a form post
// to the page handler below.

// providerLink is a configured provider as the pages offer it: the
// address that starts a sign-in with it (back to the page asked for), and
// where a link of it to the signed-in user's account comes back to (the
// account page's form posts it).
type providerLink struct {
	Name, Label string
	Start, Link string
	Linked      bool // account: the user has an identity there already
}

// identityView is one of the user's linked identities on the account
// page.
type identityView struct {
	Label, Email          string
	CreatedAt, LastUsedAt time.Time
	Unlink                string // the form's action
}

// mountProviders adds the form that unlinks an identity, when providers
// are configured.
func (p *pages) mountProviders(account *gin.RouterGroup) {
	if p.providers == nil {
		return
	}
	// It asks for a recent authentication, as oauth's Unlink says
	// (ErrReauthRequired): the handler sends the browser to /reauth,
	// which comes back to the account page.
	account.POST("/providers/:provider/:handle/unlink", p.unlinkProvider)
}

// label is what the pages call the provider named name: its label, and
// whether it is configured.
func (p *pages) label(name string) (string, bool) {
	for _, pr := range p.providers.List() {
		if pr.Name == name {
			return pr.Label, true
		}
	}
	return "", false
}

// labelOr is the label of the provider named name, or def for a name
// that is none of theirs (an address's, which anyone can write, is not
// repeated).
func (p *pages) labelOr(name, def string) string {
	if l, ok := p.label(name); ok {
		return l
	}
	return def
}

// providerLinks fills in the providers a page offers, with returnTo as
// where a sign-in comes back to.
func (p *pages) providerLinks(pg *page, returnTo string) {
	if p.providers == nil {
		return
	}
	for _, pr := range p.providers.List() {
		start := "/oauth/" + pr.Name + "/start"
		if returnTo != "" {
			start += "?" + url.Values{middleware.ReturnToParam: {returnTo}}.Encode()
		}
		// Linking is a form post (handlers.WithProviders refuses a GET):
		// Link is where it comes back to.
		link := "/account?linked=" + pr.Name
		pg.Providers = append(pg.Providers, providerLink{Name: pr.Name, Label: pr.Label, Start: start, Link: link})
	}
}

// identities fills in the signed-in user's linked identities and the
// links that add one, or answers the failure and reports false.
func (p *pages) identities(c *gin.Context, pg *page) bool {
	if p.providers == nil {
		return true
	}
	ids, err := p.providers.Identities(c)
	if err != nil {
		middleware.WriteError(c, err)
		return false
	}
	for _, id := range ids {
		handle := base64.RawURLEncoding.EncodeToString([]byte(id.Subject))
		pg.Identities = append(pg.Identities, identityView{
			Label: p.labelOr(id.Provider, id.Provider+" (no longer offered)"), Email: id.Email, CreatedAt: id.CreatedAt, LastUsedAt: id.LastUsedAt,
			Unlink: "/account/providers/" + url.PathEscape(id.Provider) + "/" + handle + "/unlink",
		})
	}
	p.providerLinks(pg, "")
	for i, pr := range pg.Providers {
		for _, id := range ids {
			pg.Providers[i].Linked = pg.Providers[i].Linked || id.Provider == pr.Name
		}
	}
	switch {
	case c.Query("linked") != "":
		pg.note("info", p.labelOr(c.Query("linked"), "The provider")+" is linked to your account: you can sign in with it.")
	case c.Query("unlinked") != "":
		pg.note("info", p.labelOr(c.Query("unlinked"), "The provider")+" is unlinked: it no longer signs you in. Your other sessions were signed out.")
	case c.Query("reauthed") != "" && len(pg.Identities) > 0:
		pg.note("info", "Confirmed. You can unlink a provider now.")
	}
	return true
}

// unlinkProvider removes one of the user's linked identities, after a
// recent authentication: without one, the browser goes to /reauth and
// comes back to the account page, where the user unlinks it again.
func (p *pages) unlinkProvider(c *gin.Context) {
	name := c.Param("provider")
	subject, err := base64.RawURLEncoding.DecodeString(c.Param("handle"))
	if err == nil && len(subject) > 0 {
		err = p.providers.Unlink(c, name, string(subject))
	} else {
		err = auth.ErrNoIdentity
	}
	switch {
	case errors.Is(err, auth.ErrReauthRequired):
		c.Redirect(http.StatusSeeOther, middleware.DefaultReauthPath+"?returnTo="+url.QueryEscape("/account?reauthed=1"))
	case errors.Is(err, auth.ErrLastSignInMethod), errors.Is(err, auth.ErrNoIdentity):
		prob, _ := middleware.Problem(err)
		c.Redirect(http.StatusSeeOther, "/account?error="+url.QueryEscape(prob.Code))
	case err != nil:
		middleware.WriteError(c, err)
	default:
		c.Redirect(http.StatusSeeOther, "/account?"+url.Values{"unlinked": {name}}.Encode())
	}
}

// providerText says, for people, what a code of the provider routes'
// redirects means on the login page (account: false) or the account page
// (a link, an unlink), and whether it is one of theirs. The redirects do
// not name the provider: with one configured, the text does.
func (p *pages) providerText(code string, account bool) (string, bool) {
	if p.providers == nil {
		return "", false
	}
	which := "the provider"
	if list := p.providers.List(); len(list) == 1 {
		which = list[0].Label
	}
	switch code {
	case "invalid_state":
		return "That sign-in was not started in this browser, or took too long. Start again.", true
	case "provider_refused":
		return "The sign-in with " + which + " did not go through: it refused, or it was cancelled. Start again.", true
	case "provider_unavailable":
		if account {
			return "We cannot reach " + which + " right now. Try again shortly.", true
		}
		return "We cannot reach " + which + " right now. Try again shortly, or sign in another way.", true
	case "no_account":
		return "No account here is linked to that one at " + which + ". Sign in another way, then link it from your account page.", true
	case "link_required":
		return "An account with that email exists: sign in with your password, then link " + which + " from your account page.", true
	case "identity_taken":
		return "That account at " + which + " is linked to another account here already. Unlink it there first.", true
	case "last_sign_in_method":
		return "You cannot unlink it: it is the last way you have to sign in. Add a passkey or link another provider first.", true
	case "not_found":
		if account {
			return "That provider is not linked to your account any more.", true
		}
		return "There is no such way to sign in. Choose one of those below.", true
	}
	return "", false
}

// reauthProviders offers, on the re-authentication page, a new sign-in
// with each provider the user is linked to: a sign-in is an
// authentication, and it is the only one an account without a password or
// passkey has. It comes back to the page's returnTo. It answers the
// failure and reports false.
func (p *pages) reauthProviders(c *gin.Context, pg *page) bool {
	if p.providers == nil {
		return true
	}
	ids, err := p.providers.Identities(c)
	if err != nil {
		middleware.WriteError(c, err)
		return false
	}
	for _, pr := range p.providers.List() {
		linked := false
		for _, id := range ids {
			linked = linked || id.Provider == pr.Name
		}
		if !linked {
			continue
		}
		start := "/oauth/" + pr.Name + "/start"
		if pg.ReturnTo != "" {
			start += "?" + url.Values{middleware.ReturnToParam: {pg.ReturnTo}}.Encode()
		}
		pg.Providers = append(pg.Providers, providerLink{Name: pr.Name, Label: pr.Label, Start: start})
	}
	return true
}
