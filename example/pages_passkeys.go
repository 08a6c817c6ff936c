package main

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
)

// The pages of passkeys. The ceremonies themselves are the prebuilt JSON
// routes of handlers.WithPasskeys (/webauthn/...), which a browser can
// only drive by script: /static/passkey.js, loaded by the pages that offer
// a passkey button, and by no other. Listing, renaming and removing
// passkeys are form posts, as the other pages' are.

// passkeysPath is the page where a user adds, renames and removes their
// passkeys.
const passkeysPath = "/account/passkeys"

// mountPasskeys adds the pages of passkeys to r, when passkeys are on.
func (p *pages) mountPasskeys(account *gin.RouterGroup) {
	if p.passkeys == nil {
		return
	}
	account.GET("/passkeys", p.passkeyList)
	account.POST("/passkeys/:handle/rename", p.renamePasskey)
	// Removing one asks for a recent authentication, as auth's Remove
	// says (ErrReauthRequired): the handler sends the browser to /reauth,
	// which comes back here.
	account.POST("/passkeys/:handle/remove", p.removePasskey)
}

// passkeyState fills in what a page says of passkeys: whether they are
// on, where they work when not at the address of this request, and
// whether the page runs the passkey script (script: it offers a button).
func (p *pages) passkeyState(c *gin.Context, pg *page, script bool) {
	if p.passkeys == nil {
		return
	}
	pg.PasskeysOn = true
	if p.passkeyLocalhost {
		// BASE_URL is a loopback IP address: the browser may be at
		// http://127.0.0.1:8080, where no passkey works; the same server
		// at http://localhost:8080 is where they do.
		if u, err := url.Parse(p.passkeyOrigin); err == nil && !strings.EqualFold(c.Request.Host, u.Host) {
			pg.PasskeyAt = p.passkeyOrigin + c.Request.URL.Path
			return
		}
	}
	pg.Script = script
}

// countPasskeys sets pg.PasskeyCount to how many passkeys the user with
// this ID has, or answers the failure and reports false.
func (p *pages) countPasskeys(c *gin.Context, pg *page, userID string) bool {
	if p.passkeys == nil {
		return true
	}
	keys, err := p.users.Passkeys(c.Request.Context(), userID)
	if err != nil {
		middleware.WriteError(c, err)
		return false
	}
	pg.PasskeyCount = len(keys)
	return true
}

// passkeyList lists the user's passkeys, with the forms that rename and
// remove each, and the button that adds one.
func (p *pages) passkeyList(c *gin.Context) {
	pg := p.page(c, "passkeys")
	keys, err := p.passkeys.List(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	pg.Passkeys = keys
	pg.PasskeyCount = len(keys)
	p.passkeyState(c, pg, true)
	switch {
	case c.Query("added") != "":
		pg.note("info", "Your passkey is added. Your other sessions were signed out.")
	case c.Query("renamed") != "":
		pg.note("info", "The passkey is renamed.")
	case c.Query("removed") != "":
		pg.note("info", "The passkey is removed: it no longer signs you in. Your other sessions were signed out.")
	case c.Query("reauthed") != "" && len(keys) > 0:
		pg.note("info", "Confirmed. You can remove a passkey now.")
	}
	switch code := c.Query("error"); code {
	case "":
	case "bad_request":
		pg.note("error", "A passkey's name is at most 64 characters, with no line breaks.")
	case "not_found":
		pg.note("error", "That passkey is removed already.")
	default:
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// renamePasskey names one of the user's passkeys.
func (p *pages) renamePasskey(c *gin.Context) {
	if err := p.passkeys.Rename(c, c.Param("handle"), c.PostForm("name")); err != nil {
		p.passkeyFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, passkeysPath+"?renamed=1")
}

// removePasskey removes one of the user's passkeys, after a recent
// authentication: without one, the browser goes to /reauth for it and
// comes back to the page, where the user removes it again.
func (p *pages) removePasskey(c *gin.Context) {
	err := p.passkeys.Remove(c, c.Param("handle"))
	if errors.Is(err, auth.ErrReauthRequired) {
		c.Redirect(http.StatusSeeOther, middleware.DefaultReauthPath+"?returnTo="+url.QueryEscape(passkeysPath+"?reauthed=1"))
		return
	}
	if err != nil {
		p.passkeyFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, passkeysPath+"?removed=1")
}

// passkeyFailed answers a failure of the forms above: back to the page
// with its code, or the error page of the others (a store down).
func (p *pages) passkeyFailed(c *gin.Context, err error) {
	if errors.Is(err, auth.ErrInvalidPasskeyName) || errors.Is(err, auth.ErrNoPasskey) {
		prob, _ := middleware.Problem(err)
		c.Redirect(http.StatusSeeOther, passkeysPath+"?error="+url.QueryEscape(prob.Code))
		return
	}
	middleware.WriteError(c, err)
}

// pendingPasskeys reports whether the sign-in waiting in this browser for
// its second factor may complete with a passkey: its user has one.
func (p *pages) pendingPasskeys(c *gin.Context, pg *page) bool {
	if p.passkeys == nil {
		return true
	}
	u, _, err := p.a.PendingLogin(c)
	if err != nil {
		return true // no pending sign-in: the page says to start over
	}
	return p.countPasskeys(c, pg, u.AuthID())
}
