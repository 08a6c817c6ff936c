package handlers

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
)

// WithSecondFactor mounts the routes of second factors (auth.Config's
// SecondFactor): enrolment of an authenticator app, recovery codes, and
// the second step of a sign-in.
//
//	POST   /2fa/totp                (recent authentication) 200 {"secret","otpauthURL","qrPNG"}, not yet active
//	POST   /2fa/totp/confirm        {"code"}: 200 {"recoveryCodes"}, active; other sessions end
//	DELETE /2fa/totp                (recent authentication with a code) 204; other sessions end
//	POST   /2fa/recovery-codes      (recent authentication) 200 {"recoveryCodes"}, the old set void
//	GET    /2fa                     200 {"enabled","recoveryCodesLeft"}
//	POST   /login/2fa               {"code"} or {"recoveryCode"}: 200 {"user"}, signed in
func WithSecondFactor() Option { return func(o *options) { o.secondFactor = true } }

// mountSecondFactor adds the routes of WithSecondFactor.
func (h *routes[U]) mountSecondFactor(g *gin.RouterGroup, chain func(bool, gin.HandlerFunc) []gin.HandlerFunc, recent gin.HandlerFunc) {
	g.POST("/2fa/totp", append(chain(false, recent), h.enrollTOTP)...)
	g.POST("/2fa/totp/confirm", chain(true, h.confirmTOTP)...)
	g.DELETE("/2fa/totp", chain(true, h.disableTOTP)...)
	g.POST("/2fa/recovery-codes", append(chain(false, recent), h.recoveryCodes)...)
	g.GET("/2fa", chain(true, h.secondFactorState)...)
	g.POST("/login/2fa", chain(false, h.loginSecondStep)...)
}

func (h *routes[U]) enrollTOTP(c *gin.Context) {
	e, err := h.a.EnrollTOTP(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (h *routes[U]) confirmTOTP(c *gin.Context) {
	var code, returnTo string
	form, err := readBody(c,
		field{name: "code", str: &code, required: true},
		field{name: middleware.ReturnToParam, str: &returnTo})
	var codes []string
	if err == nil {
		codes, err = h.a.ConfirmTOTP(c, code)
	}
	if err != nil {
		h.fail(c, form, formPage(c, returnTo), returnTo, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recoveryCodes": codes})
}

func (h *routes[U]) disableTOTP(c *gin.Context) {
	if err := h.a.DisableTOTP(c); err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *routes[U]) recoveryCodes(c *gin.Context) {
	codes, err := h.a.RegenerateRecoveryCodes(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recoveryCodes": codes})
}

func (h *routes[U]) secondFactorState(c *gin.Context) {
	u, _ := h.a.User(c) // RequireAuth let only signed-in requests through
	on, err := h.a.HasSecondFactor(c.Request.Context(), u.AuthID())
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	left := 0
	if on {
		if left, err = h.a.RecoveryCodesLeft(c.Request.Context(), u.AuthID()); err != nil {
			middleware.WriteError(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"enabled": on, "recoveryCodesLeft": left})
}

// loginSecondStep is POST /login/2fa: {"code"} or {"recoveryCode"}.
func (h *routes[U]) loginSecondStep(c *gin.Context) {
	var code, recovery, returnTo string
	form, err := readBody(c,
		field{name: "code", str: &code},
		field{name: "recoveryCode", str: &recovery},
		field{name: middleware.ReturnToParam, str: &returnTo})
	if err == nil && (code == "") == (recovery == "") {
		err = middleware.BadRequest(`Send "code" or "recoveryCode".`)
	}
	var user U
	if err == nil {
		user, err = h.a.CompleteLogin(c, code, recovery)
	}
	if err != nil {
		page := h.loginPath + "/2fa"
		if form && errors.Is(err, auth.ErrUnauthenticated) {
			page = h.loginPath // the pending sign-in is gone: start over
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
