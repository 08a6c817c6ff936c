package main

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/oauth"
	"github.com/ginauth/ginauth/auth/passkey"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
)

// Account is the example's user: the base model, an email address (for
// password reset and security notices), and a display name, to show how an
// application extends the user model.
type Account struct {
	models.User
	models.Email
	DisplayName string `gorm:"size:80;not null;default:''" json:"displayName"`
}

// Name is what the pages call the user.
func (a *Account) Name() string {
	if a.DisplayName != "" {
		return a.DisplayName
	}
	return a.Username
}

//go:embed web/templates/*.html web/static/*
var web embed.FS

// pages renders the example's server-side pages.
type pages struct {
	a     *auth.Auth[*Account]
	users *gormusers.Store[Account, *Account]
	now   func() time.Time
	limit sessionLimit
	tmpl  map[string]*template.Template

	// passkeys are the passkey ceremonies, nil when passkeys are off;
	// passkeyOrigin is where they work, and passkeyLocalhost says that
	// it is http://localhost:PORT standing for BASE_URL's loopback IP.
	passkeys         *passkey.Passkeys[*Account]
	passkeyOrigin    string
	passkeyLocalhost bool

	// providers are the sign-ins with OpenID Providers, nil when none is
	// configured; oauthSignUp says that they create accounts too.
	providers   *oauth.Providers[*Account]
	oauthSignUp bool
}

// sessionLimit is what the pages say of MAX_SESSIONS_PER_USER and
// SESSION_LIMIT: at most Max sessions per user (0: no limit), and whether
// a sign-in over it ends the oldest or is refused.
type sessionLimit struct {
	Max       int
	EndOldest bool
}

func newPages(a *auth.Auth[*Account], users *gormusers.Store[Account, *Account], now func() time.Time, limit sessionLimit) *pages {
	p := &pages{a: a, users: users, now: now, limit: limit, tmpl: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"device": device,
		"ago":    p.ago,
		"until":  p.until,
		"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"stamp":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	}
	layout := template.Must(template.New("layout").Funcs(funcs).ParseFS(web, "web/templates/layout.html"))
	for _, name := range []string{"home", "login", "register", "account", "sessions", "forgot", "reset", "verify", "endsession", "reauth", "login2fa", "twofactor", "passkeys"} {
		t := template.Must(layout.Clone())
		p.tmpl[name] = template.Must(t.ParseFS(web, "web/templates/"+name+".html"))
	}
	return p
}

// mount adds the pages to r.
func (p *pages) mount(r *gin.Engine) {
	static, _ := fs.Sub(web, "web/static")
	r.StaticFS("/static", http.FS(static))
	r.GET("/", p.home)
	r.GET("/login", p.login)
	r.GET("/register", p.register)
	// The pages of the links in mails (auth.Recovery's paths): each shows
	// a form that posts its token to the route of the same path, and
	// consumes nothing itself, since mail scanners open links.
	r.GET("/password/forgot", p.forgot)
	r.GET("/password/reset", p.reset)
	r.GET("/email/verify", p.verifyEmail)
	r.GET("/sessions/end", p.endSession)
	// The page RequireRecentAuth sends browsers to, which posts to POST
	// /reauth and comes back to the page they were on.
	r.GET("/reauth", middleware.RequireAuth(p.a), p.reauth)
	account := r.Group("/account", middleware.RequireAuth(p.a))
	account.GET("", p.account)
	account.GET("/sessions", p.sessions)
	account.POST("/profile", p.profile)
	account.POST("/theme", p.theme)
	// Ending another session asks for a recent authentication (ASVS
	// 7.5.2), as DELETE /sessions/:id does: a stolen session cannot sign
	// the owner out of theirs.
	account.POST("/sessions/:id/revoke", middleware.RequireRecentAuth(p.a, 0), p.revoke)
	p.mountTwoFactor(r, account)
	p.mountPasskeys(account)
	p.mountProviders(account)
}

// page is what every template gets.
type page struct {
	Page     string
	User     *Account
	Theme    string
	Notices  []notice
	Errors   map[string]string
	ReturnTo string

	Current  session.Details // account
	Sessions int             // account: how many
	List     []session.Info  // sessions
	Limit    sessionLimit    // account, sessions

	Sent  bool   // forgot: the link is asked for
	Token string // reset, verify, endsession: the token of the link

	TwoFactor     bool       // account, twofactor, reauth: the user has a second factor
	CodesLeft     int        // account, twofactor: unused recovery codes
	Setup         *totpSetup // twofactor: an enrolment under way
	RecoveryCodes []string   // twofactor: a new set, shown once
	CodeOnly      bool       // reauth: only a code will do (turning the factor off)

	Script       bool             // the page runs /static/passkey.js: it has a passkey button
	PasskeysOn   bool             // passkeys are on
	PasskeyAt    string           // passkeys work at this address only, not at this page's
	PasskeyCount int              // account, passkeys, reauth, login2fa: the user's passkeys
	Passkeys     []models.Passkey // passkeys

	Providers  []providerLink // login, register, account: the providers offered
	Identities []identityView // account: the user's linked identities
}

type notice struct{ Kind, Text string }

func (p *pages) page(c *gin.Context, name string) *page {
	u, _ := p.a.User(c)
	theme, _ := session.Get[string](c, "theme")
	return &page{Page: name, User: u, Theme: theme, Errors: map[string]string{}, Limit: p.limit}
}

func (p *pages) render(c *gin.Context, pg *page) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	if err := p.tmpl[pg.Page].ExecuteTemplate(c.Writer, "layout", pg); err != nil {
		_ = c.Error(err)
	}
}

func (pg *page) note(kind, text string) { pg.Notices = append(pg.Notices, notice{kind, text}) }

// returnTo is the page a browser asked for, when it is one of this site's.
func returnTo(c *gin.Context) string {
	if r := c.Query(middleware.ReturnToParam); middleware.LocalPath(r) {
		return r
	}
	return ""
}

func (p *pages) home(c *gin.Context) { p.render(c, p.page(c, "home")) }

// me returns the signed-in user of a page behind RequireAuth, or answers
// why there is none (a user store that failed since, say).
func (p *pages) me(c *gin.Context) (*Account, bool) {
	u, err := p.a.User(c)
	if err != nil {
		middleware.WriteError(c, err)
		return nil, false
	}
	return u, true
}

// signedIn reports whether the request has a signed-in user.
func (p *pages) signedIn(c *gin.Context) bool {
	_, err := p.a.User(c)
	return err == nil
}

func (p *pages) login(c *gin.Context) {
	if p.signedIn(c) {
		c.Redirect(http.StatusSeeOther, middleware.ReturnTo(c.DefaultQuery(middleware.ReturnToParam, "/account")))
		return
	}
	pg := p.page(c, "login")
	pg.ReturnTo = returnTo(c)
	p.passkeyState(c, pg, true)
	p.providerLinks(pg, pg.ReturnTo)
	switch {
	case c.Query("expired") == "true":
		pg.note("warn", "Your session has ended. Sign in again to continue.")
	case c.Query("signedOut") == "all":
		if n, ok := count(c.Query("revoked")); ok {
			pg.note("info", fmt.Sprintf("You are signed out everywhere: %d %s ended.", n, plural(n, "session", "sessions")))
		} else {
			pg.note("info", "You are signed out everywhere.")
		}
	case c.Query("signedOut") != "":
		pg.note("info", "You are signed out.")
	case c.Query("reset") != "":
		if n, ok := count(c.Query("revoked")); ok && n > 0 {
			pg.note("info", fmt.Sprintf("Your new password is set, and %d %s signed out. Sign in with it.", n, plural(n, "session was", "sessions were")))
		} else {
			pg.note("info", "Your new password is set. Sign in with it.")
		}
	case c.Query("sessionEnded") != "":
		pg.note("info", "That session is signed out. If it was not you, sign in and change your password.")
	case c.Query("emailVerified") != "":
		pg.note("info", "Your email address is verified.")
	}
	switch code := c.Query("error"); code {
	case "":
	case "1":
		pg.Errors["credentials"] = "That username and password do not match an account."
	case "bad_request":
		pg.Errors["credentials"] = "Enter your username and your password."
	case "too_many_sessions":
		pg.note("error", p.tooManySessions())
	default:
		if text, ok := p.providerText(code, false); ok {
			pg.note("error", text)
			break
		}
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// tooManySessions says why a sign-in was refused by SESSION_LIMIT=refuse.
func (p *pages) tooManySessions() string {
	if n := p.limit.Max; n > 0 {
		return fmt.Sprintf("You are signed in on %d %s, as many as an account may be. Sign out on one of them, then sign in here.",
			n, plural(n, "device", "devices"))
	}
	return problemTexts["too_many_sessions"]
}

func (p *pages) register(c *gin.Context) {
	pg := p.page(c, "register")
	pg.ReturnTo = returnTo(c)
	if p.oauthSignUp {
		p.providerLinks(pg, pg.ReturnTo)
	}
	switch code := c.Query("error"); code {
	case "":
	case "username_taken":
		pg.Errors["username"] = "That username is taken. Choose another."
	case "bad_request":
		pg.Errors["username"] = "Use 1 to 64 letters, digits or . _ - @ +, all in one script."
	case "invalid_email", "email_taken":
		pg.Errors["email"] = problemTexts[code]
	case "weak_password":
		pg.Errors["password"] = "Use at least 8 characters."
	case "password_too_long":
		pg.Errors["password"] = "Use at most 72 bytes: a few words are enough."
	case "common_password":
		pg.Errors["password"] = commonPasswordText
	case "breached_password":
		pg.Errors["password"] = breachedPasswordText
	default:
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

func (p *pages) account(c *gin.Context) {
	pg := p.page(c, "account")
	var ok bool
	if pg.Current, ok = session.From(c).Details(); !ok {
		middleware.WriteError(c, auth.ErrUnauthenticated)
		return
	}
	me, ok := p.me(c)
	if !ok {
		return
	}
	list, err := p.a.Sessions().List(c, me.AuthID())
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	pg.Sessions = len(list)
	if !p.factorState(c, pg) || !p.countPasskeys(c, pg, me.AuthID()) || !p.identities(c, pg) {
		return
	}
	p.passkeyState(c, pg, false)
	if r := c.Query("revoked"); r != "" {
		if n, ok := count(r); ok {
			pg.note("info", fmt.Sprintf("Your password is changed. %d other %s signed out.", n, plural(n, "session was", "sessions were")))
		} else {
			pg.note("info", "Your password is changed. Your other sessions were signed out.")
		}
	}
	if c.Query("saved") != "" {
		pg.note("info", "Your display name is saved.")
	}
	switch {
	case c.Query("emailSent") != "":
		pg.note("info", "We mailed a link to the new address: it becomes yours when you follow it.")
	case c.Query("verificationSent") != "":
		pg.note("info", "We mailed you a new link to verify your address.")
	case c.Query("emailVerified") != "":
		pg.note("info", "Your email address is verified.")
	}
	switch code := c.Query("error"); code {
	case "":
	case "invalid_email", "email_taken":
		pg.Errors["email"] = problemTexts[code]
	case "1":
		pg.Errors["current"] = "That is not your current password."
	case "weak_password":
		pg.Errors["next"] = "Use at least 8 characters."
	case "password_too_long":
		pg.Errors["next"] = "Use at most 72 bytes."
	case "common_password":
		pg.Errors["next"] = commonPasswordText
	case "breached_password":
		pg.Errors["next"] = breachedPasswordText
	case "bad_request":
		pg.note("error", "Fill in your current password and the new one.")
	default:
		if text, ok := p.providerText(code, true); ok {
			pg.note("error", text)
			break
		}
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

func (p *pages) sessions(c *gin.Context) {
	pg := p.page(c, "sessions")
	me, ok := p.me(c)
	if !ok {
		return
	}
	list, err := p.a.Sessions().List(c, me.AuthID())
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	pg.List = list
	if c.Query("revoked") != "" {
		pg.note("info", "That session is signed out.")
	}
	p.render(c, pg)
}

// profile saves the display name: the README's way of changing a field of
// the user (a copy read from the store, written, the cached one dropped).
func (p *pages) profile(c *gin.Context) {
	me, ok := p.me(c)
	if !ok {
		return
	}
	acct, err := p.users.FindByID(c, me.AuthID())
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	name := strings.TrimSpace(c.PostForm("displayName"))
	if utf8.RuneCountInString(name) > 80 || !utf8.ValidString(name) {
		middleware.WriteError(c, middleware.BadRequest("A display name is at most 80 characters."))
		return
	}
	acct.DisplayName = name
	if err := p.users.Update(c, acct, "DisplayName"); err != nil {
		middleware.WriteError(c, err)
		return
	}
	p.a.InvalidateUser(acct.AuthID())
	c.Redirect(http.StatusSeeOther, "/account?saved=1")
}

// forgot is the page that asks for a password reset link.
// reauth asks the signed-in user for their password again ("sudo mode").
func (p *pages) reauth(c *gin.Context) {
	pg := p.page(c, "reauth")
	pg.ReturnTo = returnTo(c)
	if !p.factorState(c, pg) {
		return
	}
	pg.CodeOnly = pg.TwoFactor && c.Query("method") == "code"
	if !p.countPasskeys(c, pg, pg.User.AuthID()) {
		return
	}
	// A passkey proves a factor other than the password: it will do for
	// the code too.
	p.passkeyState(c, pg, pg.PasskeyCount > 0)
	if !p.reauthProviders(c, pg) {
		return
	}
	switch code := c.Query("error"); code {
	case "":
	case "1":
		pg.Errors["password"] = "That is not your password."
	case "invalid_code":
		pg.Errors["code"] = "That code is not right, or was used already. Enter the code your app shows now."
	default:
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

func (p *pages) forgot(c *gin.Context) {
	pg := p.page(c, "forgot")
	pg.Sent = c.Query("sent") != ""
	switch code := c.Query("error"); code {
	case "":
	case "invalid_email", "bad_request":
		pg.Errors["email"] = problemTexts["invalid_email"]
	default:
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// reset is the page of a reset link: a new password, posted with the
// token to POST /password/reset, which answers back here with the token
// when the password is refused.
func (p *pages) reset(c *gin.Context) {
	pg := p.page(c, "reset")
	pg.Token = linkToken(c)
	switch code := c.Query("error"); code {
	case "":
	case "weak_password", "common_password", "breached_password":
		pg.Errors["next"] = problemTexts[code]
	case "password_too_long":
		pg.Errors["next"] = "Use at most 72 bytes: a few words are enough."
	case "invalid_token":
		pg.Token = "" // used, expired or superseded: only a new one helps
		pg.note("error", "That link has expired or was used already. Ask for a new one.")
	default:
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// verifyEmail is the page of a link that confirms an address: a button
// that posts the token to POST /email/verify.
func (p *pages) verifyEmail(c *gin.Context) {
	pg := p.page(c, "verify")
	pg.Token = linkToken(c)
	if code := c.Query("error"); code != "" {
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// endSession is the page of a new sign-in notice's link: a button that
// posts the token to POST /sessions/end.
func (p *pages) endSession(c *gin.Context) {
	pg := p.page(c, "endsession")
	pg.Token = linkToken(c)
	if code := c.Query("error"); code != "" {
		pg.note("error", problemText(code, c.Query("retry")))
	}
	p.render(c, pg)
}

// linkToken is the token of a mailed link's address, when it looks like
// one (auth.TokenLength characters of base64url); otherwise "", and the
// page offers no form. It is not checked here: the page only carries it
// to its route, on the person's click.
func linkToken(c *gin.Context) string {
	t := c.Query("token")
	if len(t) != auth.TokenLength {
		return ""
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return ""
		}
	}
	return t
}

// theme keeps the chosen theme in the session: a typed session value.
func (p *pages) theme(c *gin.Context) {
	theme := c.PostForm("theme")
	if theme != "dark" {
		theme = "light"
	}
	if err := session.Set(c, "theme", theme); err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/account")
}

func (p *pages) revoke(c *gin.Context) {
	me, ok := p.me(c)
	if !ok {
		return
	}
	if err := p.a.Revoke(c, me.AuthID(), c.Param("id")); err != nil {
		middleware.WriteError(c, err)
		return
	}
	if !p.signedIn(c) { // this very session
		c.Redirect(http.StatusSeeOther, middleware.DefaultLoginPath+"?signedOut=1")
		return
	}
	c.Redirect(http.StatusSeeOther, "/account/sessions?revoked=1")
}

// problemText says, for people, what an error code of a redirect means.
// The code and the retry come from the address, which anyone can write and
// send in a link: only known codes have a text, none is shown as given, and
// a retry beyond any lockout is not believed.
func problemText(code, retry string) string {
	if code == "too_many_attempts" {
		secs, err := strconv.Atoi(retry)
		if err != nil || secs < 1 || secs > maxRetrySeconds {
			return "Too many failed attempts. Try again later."
		}
		return "Too many failed attempts. Try again " + inTime(time.Duration(secs)*time.Second) + "."
	}
	if text, ok := problemTexts[code]; ok {
		return text
	}
	return "Something went wrong. Try again."
}

// The texts of a new password refused by the password checks: the code
// common_password stands for the common list and for the username.
const (
	commonPasswordText   = "That password is one of the most common ones, or your username: attackers try those first. Choose another; a few unrelated words work well."
	breachedPasswordText = "That password has appeared in a data breach, so attackers have it on their lists. Choose another; a few unrelated words work well."
)

// problemTexts are the texts of the codes a redirect can carry to a page
// that has no field to show them at.
var problemTexts = map[string]string{
	"busy":                   "Too many sign-ins at once. Try again in a moment.",
	"store_unavailable":      "We cannot reach our session store. Try again shortly.",
	"cross_origin":           "That form was sent from another site. Try again from this one.",
	"unsupported_media_type": "Your browser sent the form in a way we do not read. Try again.",
	"unauthenticated":        "Sign in to continue.",
	"session_expired":        "Your session has ended. Sign in again to continue.",
	"not_found":              "That session is signed out already.",
	"too_many_sessions":      "You are signed in on as many devices as an account may be. Sign out on one of them, then sign in here.",
	"invalid_token":          "That link has expired or was used already. Ask for a new one.",
	"invalid_email":          "Enter an email address, such as name@example.org.",
	"email_taken":            "That email address belongs to another account.",
	"no_email":               "Your account has no email address yet. Add one first.",
	"email_unverified":       "Verify your email address first: we mailed you a link.",
	"reauth_required":        "Confirm your password to continue.",
	"passkey_rejected":       "The passkey's answer could not be verified. Try again.",
	"passkey_exists":         "That passkey is added already, or your account has as many as it may.",
	"invalid_code":           "That code is not right, or was used already.",
	"second_factor_enabled":  "Two-step sign-in is on already.",
	"no_second_factor":       "Two-step sign-in is not on, or its setup was started over: set it up again.",
	"weak_password":          "Use at least 8 characters.",
	"common_password":        commonPasswordText,
	"breached_password":      breachedPasswordText,
}

// maxRetrySeconds bounds the wait a page repeats from its address: a day,
// far beyond any lockout of the login throttle.
const maxRetrySeconds = 24 * 60 * 60

// maxShownCount bounds a count of sessions a page repeats from its
// address.
const maxShownCount = 10000

// count reads a count of sessions from the address: a number from 0 to
// maxShownCount, or not ok.
func count(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxShownCount {
		return 0, false
	}
	return n, true
}

// inTime says "in 2 minutes", "in 40 seconds".
func inTime(d time.Duration) string {
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		s := int(d.Round(time.Second) / time.Second)
		return fmt.Sprintf("in %d %s", s, plural(s, "second", "seconds"))
	}
	m := int((d + time.Minute - 1) / time.Minute)
	return fmt.Sprintf("in %d %s", m, plural(m, "minute", "minutes"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ago says how long before now t was, for people.
func (p *pages) ago(t time.Time) string {
	d := p.now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		m := int(d / time.Minute)
		return fmt.Sprintf("%d %s ago", m, plural(m, "minute", "minutes"))
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		return fmt.Sprintf("%d %s ago", h, plural(h, "hour", "hours"))
	}
	return "on " + t.UTC().Format("2 January 2006")
}

// until says when t comes, for people.
func (p *pages) until(t time.Time) string { return inTime(t.Sub(p.now())) }
