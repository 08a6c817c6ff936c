package main

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
)

// The pages of second factors. The prebuilt routes of enrolment answer
// JSON, and the pages run no script, so these handlers call auth's methods
// themselves and render HTML; the second step of a sign-in (POST
// /login/2fa) and re-authentication (POST /reauth) are the prebuilt
// routes, which answer forms with redirects.

// twoFactorPath is the page where a user turns two-step sign-in on or off.
const twoFactorPath = "/account/2fa"

// totpSetup is what the page of an enrolment shows once: the QR code (a
// data: URL of auth's PNG, which the Content-Security-Policy's img-src
// allows) and the secret, for typing into an app by hand.
type totpSetup struct {
	QR     template.URL
	Secret string // in groups of four
}

// mountTwoFactor adds the pages of second factors to r.
func (p *pages) mountTwoFactor(r *gin.Engine, account *gin.RouterGroup) {
	r.GET("/login/2fa", p.loginSecondStep)
	// Starting an enrolment and new recovery codes ask for a recent
	// authentication, as the prebuilt routes do: RequireRecentAuth sends
	// the browser to /reauth, which comes back to the page of the form.
	recent := middleware.RequireRecentAuth(p.a, 0)
	account.GET("/2fa", p.twoFactor)
	account.POST("/2fa/setup", recent, p.setupTOTP)
	account.POST("/2fa/confirm", p.confirmTOTP)
	account.POST("/2fa/recovery-codes", recent, p.newRecoveryCodes)
	// Removing the factor asks for a recent code, not a password: auth's
	// DisableTOTP says so (ErrReauthRequired), and the handler sends the
	// browser to /reauth for a code.
	account.POST("/2fa/remove", p.removeTOTP)
}

// loginSecondStep is the page a sign-in with a second factor comes to
// after the password: a code from the app, or a recovery code, posted to
// POST /login/2fa, which answers back here when the code is wrong.
func (p *pages) loginSecondStep(c *gin.Context) {
	if p.signedIn(c) {
		c.Redirect(http.StatusSeeOther, middleware.ReturnTo(c.DefaultQuery(middleware.ReturnToParam, "/account")))
		return
	}
	pg := p.page(c, "login2fa")
	pg.ReturnTo = returnTo(c)
	if !p.pendingPasskeys(c, pg) {
		return
	}
	p.passkeyState(c, pg, pg.PasskeyCount > 0)
	switch code := c.Query("error"); code {
	case "":
	case "invalid_code":
		pg.Errors["code"] = "That code is not right, or was used already. Try the next code your app shows, or a recovery code you have not used."
	case "bad_request":
		pg.Errors["code"] = "Enter the 6-digit code from your app, or one of your recovery codes."
	default:
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// twoFactor is the state of the user's second factor, with what they can
// do about it.
func (p *pages) twoFactor(c *gin.Context) {
	pg := p.page(c, "twofactor")
	if !p.factorState(c, pg) {
		return
	}
	switch {
	case c.Query("removed") != "":
		pg.note("info", "Two-step sign-in is off. Your other sessions were signed out.")
	case c.Query("reauthed") != "" && pg.TwoFactor:
		pg.note("info", "Confirmed. You can turn two-step sign-in off now.")
	}
	if code := c.Query("error"); code != "" {
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// factorState fills in whether the user has a second factor and how many
// recovery codes are left, or answers the failure and reports false.
func (p *pages) factorState(c *gin.Context, pg *page) bool {
	me, ok := p.me(c)
	if !ok {
		return false
	}
	ctx := c.Request.Context()
	on, err := p.a.HasSecondFactor(ctx, me.AuthID())
	if err == nil && on {
		pg.CodesLeft, err = p.a.RecoveryCodesLeft(ctx, me.AuthID())
	}
	if err != nil {
		middleware.WriteError(c, err)
		return false
	}
	pg.TwoFactor = on
	return true
}

// setupTOTP starts an enrolment and shows its QR code, its secret and the
// form that confirms it with a first code.
func (p *pages) setupTOTP(c *gin.Context) {
	e, err := p.a.EnrollTOTP(c)
	if err != nil {
		p.twoFactorFailed(c, err)
		return
	}
	pg := p.page(c, "twofactor")
	pg.Setup = &totpSetup{
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
		Secret: groups(e.Secret, 4),
	}
	p.render(c, pg)
}

// confirmTOTP turns the enrolment on with a code from the app, and shows
// the recovery codes, once. A wrong code shows the form again (the QR
// code is not shown twice: the app has it already; "start over" makes a
// new one).
func (p *pages) confirmTOTP(c *gin.Context) {
	codes, err := p.a.ConfirmTOTP(c, strings.TrimSpace(c.PostForm("code")))
	if errors.Is(err, auth.ErrInvalidCode) {
		pg := p.page(c, "twofactor")
		pg.Setup = &totpSetup{}
		pg.Errors["code"] = "That code is not right. Enter the code your app shows now; if it keeps failing, check your phone's clock, or start over."
		p.render(c, pg)
		return
	}
	if err != nil {
		p.twoFactorFailed(c, err)
		return
	}
	pg := p.page(c, "twofactor")
	pg.TwoFactor, pg.CodesLeft, pg.RecoveryCodes = true, len(codes), codes
	pg.note("info", "Two-step sign-in is on. Your other sessions were signed out.")
	p.render(c, pg)
}

// newRecoveryCodes replaces the user's recovery codes and shows the new
// ones, once.
func (p *pages) newRecoveryCodes(c *gin.Context) {
	codes, err := p.a.RegenerateRecoveryCodes(c)
	if err != nil {
		p.twoFactorFailed(c, err)
		return
	}
	pg := p.page(c, "twofactor")
	pg.TwoFactor, pg.CodesLeft, pg.RecoveryCodes = true, len(codes), codes
	pg.note("info", "These are your new recovery codes: the old ones no longer work.")
	p.render(c, pg)
}

// removeTOTP turns two-step sign-in off, after a recent code: without one,
// the browser goes to /reauth for it and comes back to the page.
func (p *pages) removeTOTP(c *gin.Context) {
	err := p.a.DisableTOTP(c)
	if errors.Is(err, auth.ErrReauthRequired) {
		c.Redirect(http.StatusSeeOther, middleware.DefaultReauthPath+"?method=code&returnTo="+twoFactorPath+"%3Freauthed%3D1")
		return
	}
	if err != nil {
		p.twoFactorFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, twoFactorPath+"?removed=1")
}

// twoFactorFailed answers a failure of the pages above: back to the page
// with its code, or the error page of the others (a store down).
func (p *pages) twoFactorFailed(c *gin.Context, err error) {
	prob, retry := middleware.Problem(err)
	switch {
	case errors.Is(err, auth.ErrSecondFactorEnabled), errors.Is(err, auth.ErrNoSecondFactor), errors.Is(err, auth.ErrTooManyAttempts):
		q := url.Values{"error": {prob.Code}}
		if retry > 0 {
			q.Set("retry", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		}
		c.Redirect(http.StatusSeeOther, twoFactorPath+"?"+q.Encode())
	default:
		middleware.WriteError(c, err)
	}
}

// groups writes s in groups of n characters, for reading aloud or typing.
func groups(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}
