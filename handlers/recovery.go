package handlers

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
)

// The answers of the routes that send mail: one body whatever was found.
const (
	forgotMessage = "If an account matches, a link to choose a new password is on its way to its email address."
	sentMessage   = "A link is on its way to the email address."
)

// formPage is the path of a form's page from its returnTo field, or the
// route's own path.
func formPage(c *gin.Context, returnTo string) string {
	if middleware.LocalPath(returnTo) {
		if u, err := url.Parse(returnTo); err == nil {
			return u.Path
		}
	}
	return c.Request.URL.Path
}

// forgot is POST /password/forgot: {"email"} or {"username"}. The answer
// is 202 and the same body whether or not an account matches, at once: the
// lookup happens after it.
func (h *routes[U]) forgot(c *gin.Context) {
	var email, username, returnTo string
	form, err := readBody(c,
		field{name: "email", str: &email},
		field{name: "username", str: &username},
		field{name: middleware.ReturnToParam, str: &returnTo})
	page := formPage(c, returnTo)
	if err == nil && (email == "") == (username == "") {
		err = middleware.BadRequest(`Send "email" or "username".`)
	}
	if err == nil && email != "" {
		_, err = auth.NormalizeEmail(email)
	}
	if err == nil {
		err = h.a.SendPasswordReset(c, auth.Lookup{Email: email, Username: username})
	}
	if err != nil {
		h.fail(c, form, page, returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, withQuery(page, "sent", "1"))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"message": forgotMessage})
}

// reset is POST /password/reset: {"token","newPassword"}.
func (h *routes[U]) reset(c *gin.Context) {
	var token, next, returnTo string
	form, err := readBody(c,
		field{name: "token", str: &token, required: true},
		field{name: "newPassword", str: &next, required: true},
		field{name: middleware.ReturnToParam, str: &returnTo})
	page := formPage(c, returnTo)
	var n int
	if err == nil {
		n, err = h.a.ResetPassword(c, token, next)
	}
	if err != nil {
		if form {
			// Back to the page, with the token, to choose another password.
			if _, ok := tokenLike(token); ok {
				page = withQuery(page, "token", token)
			}
		}
		h.fail(c, form, page, "", err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, withQuery(h.loginPath, "reset", "1", "revoked", strconv.Itoa(n)))
		return
	}
	c.JSON(http.StatusOK, gin.H{"revoked": n})
}

// tokenLike reports a string of a token's length, fit for a URL: only then
// does a failed form post carry it back to its page.
func tokenLike(s string) (string, bool) {
	if len(s) != auth.TokenLength {
		return "", false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", false
		}
	}
	return s, true
}

// verifyEmail is POST /email/verify: {"token"}.
func (h *routes[U]) verifyEmail(c *gin.Context) {
	var token, returnTo string
	form, err := readBody(c,
		field{name: "token", str: &token, required: true},
		field{name: middleware.ReturnToParam, str: &returnTo})
	if err == nil {
		err = h.a.VerifyEmail(c, token)
	}
	if err != nil {
		h.fail(c, form, c.Request.URL.Path, returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, withQuery(middleware.ReturnTo(returnTo), "emailVerified", "1"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "The email address is verified."})
}

// resendVerification is POST /email/verify/resend, signed in.
func (h *routes[U]) resendVerification(c *gin.Context) {
	var returnTo string
	form, err := readBody(c, field{name: middleware.ReturnToParam, str: &returnTo})
	if err == nil {
		u, _ := h.a.User(c) // RequireAuth let only signed-in requests through
		err = h.a.SendVerification(c, u.AuthID())
	}
	if err != nil {
		h.fail(c, form, formPage(c, returnTo), returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, withQuery(middleware.ReturnTo(returnTo), "verificationSent", "1"))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"message": sentMessage})
}

// changeEmail is POST /email: {"email"}, signed in. The new address takes
// effect when its owner follows the link mailed to it.
func (h *routes[U]) changeEmail(c *gin.Context) {
	var email, returnTo string
	form, err := readBody(c,
		field{name: "email", str: &email, required: true},
		field{name: middleware.ReturnToParam, str: &returnTo})
	if err == nil {
		u, _ := h.a.User(c) // RequireAuth let only signed-in requests through
		err = h.a.ChangeEmail(c, u.AuthID(), email)
	}
	if err != nil {
		h.fail(c, form, formPage(c, returnTo), returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, withQuery(middleware.ReturnTo(returnTo), "emailSent", "1"))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"message": sentMessage})
}

// endSession is POST /sessions/end: {"token"}, from a new sign-in's notice.
func (h *routes[U]) endSession(c *gin.Context) {
	var token, returnTo string
	form, err := readBody(c,
		field{name: "token", str: &token, required: true},
		field{name: middleware.ReturnToParam, str: &returnTo})
	if err == nil {
		err = h.a.EndSession(c, token)
	}
	if err != nil {
		h.fail(c, form, c.Request.URL.Path, returnTo, err)
		return
	}
	if form {
		c.Redirect(http.StatusSeeOther, withQuery(h.loginPath, "sessionEnded", "1"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "The session has ended."})
}
