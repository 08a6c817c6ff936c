package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

// Recovery configures what the account service does by mail: password
// reset, email verification and change, and security notices. It is off
// until Mail is set. Then the user type must implement models.EmailOwner
// (embed models.Email) and the user store models.EmailStore and
// models.TokenStore (gormusers does both), or New refuses the
// configuration.
type Recovery struct {
	// Mail is the queue account mail leaves by: it never makes a request
	// wait for the mail server (see mail.Queue).
	Mail *mail.Queue

	// BaseURL is the application's address as users reach it, such as
	// "https://example.org": the links in mails are BaseURL followed by
	// ResetPath, VerifyPath or EndSessionPath and ?token=. Required with
	// Mail; it must be absolute, and https unless its host is a loopback
	// address or localhost.
	BaseURL string

	// The application's pages that links in mails open; each posts the
	// token from its address to the route of the same path (handlers.Mount)
	// when the person confirms. Defaults "/password/reset", "/email/verify"
	// and "/sessions/end".
	ResetPath, VerifyPath, EndSessionPath string

	// AppName names the application in mails. Default: BaseURL's host.
	AppName string

	// Templates renders the mails. Default mail.DefaultTemplates().
	Templates *mail.Templates

	// ResetTTL is how long a password reset link works. Default 30
	// minutes; at most a day.
	ResetTTL time.Duration

	// VerifyTTL is how long a link that confirms an address works.
	// Default 48 hours; at most a week.
	VerifyTTL time.Duration

	// RequireVerifiedEmail makes sign-in wait for a verified address: a
	// user without one is refused (ErrEmailUnverified, after a correct
	// password only) and, if they have an address, sent a new link.
	RequireVerifiedEmail bool

	// Notices chooses the security notices users get by mail. All are on
	// by default.
	Notices Notices
}

// Notices turns security notices off one by one. A notice goes to a
// verified address only, so that nobody can aim the application's mail at
// a stranger by typing their address.
type Notices struct {
	// NoNewSignIn: no notice of a sign-in from a browser that holds no
	// device cookie of the account (one that never signed in to it
	// before, or cleared its cookies). The notice has the time, address
	// and device, and a link that ends that session. It needs device
	// cookies (ThrottlePolicy.NoDeviceCookies unset), and no lookup of
	// earlier sessions: the browser's cookie is the memory.
	NoNewSignIn bool
	// NoPasswordChange: no notice of a password changed or reset.
	NoPasswordChange bool
	// NoEmailChange: no notice to the old address when the address
	// changes.
	NoEmailChange bool
	// NoLockout: no notice when the throttle locks the account's sign-in
	// (one a quarter of an hour at most).
	NoLockout bool
	// NoSecondFactor: no notice when an authenticator app is set up or
	// removed, recovery codes are replaced, or a recovery code signs in.
	NoSecondFactor bool
}

// The purposes of tokens (models.Token.Purpose).
const (
	purposeReset      = "password_reset"
	purposeVerify     = "email_verify"
	purposeChange     = "email_change"
	purposeEndSession = "session_end"
)

// tokenBytes is the size of a mailed token: 256 bits from crypto/rand.
const tokenBytes = 32

// TokenLength is the length of a mailed token as it appears in links: 32
// random bytes in unpadded base64url (TestTokenForm checks the two agree).
const TokenLength = 43

// newToken returns a new token and the hash a store keeps of it.
func newToken() (string, [32]byte) {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:]), sha256.Sum256(b[:])
}

// tokenHash returns the hash a store keeps of the token s, or false for a
// string that no token has the form of (wrong length or alphabet), which
// then costs no store round trip.
func tokenHash(s string) ([32]byte, bool) {
	if len(s) != TokenLength {
		return [32]byte{}, false
	}
	var b [tokenBytes]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(s))
	if err != nil || n != tokenBytes {
		return [32]byte{}, false
	}
	return sha256.Sum256(b[:]), true
}

// recovery is the mail side of an Auth, when Recovery.Mail is set.
type recovery[U models.Authenticatable] struct {
	cfg    Recovery
	base   *url.URL
	emails models.EmailStore[U]
	tokens models.TokenStore

	jobs chan func(context.Context)
	stop context.CancelFunc
	done chan struct{}
	once sync.Once

	// waiting counts the jobs in the backlog by the client address (its
	// throttle key: the IPv6 /64) that asked for them.
	mu      sync.Mutex
	waiting map[string]int
}

// jobBacklog bounds the work that requests hand to the background (the
// lookups and mails of password resets, notices): past it, such work is
// dropped and logged, and the requests still answer at once. One client
// address may hold at most jobsPerAddress of it, so that a few addresses
// asking as fast as their throttle allows cannot fill it and starve
// everyone else's mail (and the security notices, which wait in it too).
const (
	jobBacklog     = 1024
	jobsPerAddress = 16
)

func (r Recovery) withDefaults() (Recovery, *url.URL, error) {
	u, err := url.Parse(r.BaseURL)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return r, nil, configErr("Recovery.BaseURL %q is not an absolute http(s) URL without query or user", r.BaseURL)
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return r, nil, configErr("Recovery.BaseURL %q sends tokens over plain HTTP; use https", r.BaseURL)
	}
	def := func(p *string, d string) error {
		if *p == "" {
			*p = d
		}
		if !strings.HasPrefix(*p, "/") || strings.HasPrefix(*p, "//") || strings.ContainsAny(*p, "?#") {
			return configErr("Recovery path %q must be a local path", *p)
		}
		return nil
	}
	if err := errors.Join(def(&r.ResetPath, "/password/reset"), def(&r.VerifyPath, "/email/verify"), def(&r.EndSessionPath, "/sessions/end")); err != nil {
		return r, nil, err
	}
	if r.AppName == "" {
		r.AppName = u.Host
	}
	if r.Templates == nil {
		r.Templates = mail.DefaultTemplates()
	}
	if r.ResetTTL == 0 {
		r.ResetTTL = 30 * time.Minute
	}
	if r.VerifyTTL == 0 {
		r.VerifyTTL = 48 * time.Hour
	}
	if r.ResetTTL < 0 || r.ResetTTL > 24*time.Hour {
		return r, nil, configErr("Recovery.ResetTTL %v is outside 0..24h", r.ResetTTL)
	}
	if r.VerifyTTL < 0 || r.VerifyTTL > 7*24*time.Hour {
		return r, nil, configErr("Recovery.VerifyTTL %v is outside 0..168h", r.VerifyTTL)
	}
	return r, u, nil
}

// newRecovery checks that users and their store can do what Recovery
// needs, and starts the background worker.
func newRecovery[U models.Authenticatable](cfg Config[U]) (*recovery[U], error) {
	r, base, err := cfg.Recovery.withDefaults()
	if err != nil {
		return nil, err
	}
	var zero U
	if _, ok := any(zero).(models.EmailOwner); !ok {
		return nil, configErr("Recovery needs a user type with an email address: %T does not implement models.EmailOwner (embed models.Email)", zero)
	}
	emails, ok := cfg.Users.(models.EmailStore[U])
	if !ok {
		return nil, configErr("Recovery needs a user store that keeps addresses: %T does not implement models.EmailStore", cfg.Users)
	}
	tokens, ok := cfg.Users.(models.TokenStore)
	if !ok {
		return nil, configErr("Recovery needs a user store that keeps tokens: %T does not implement models.TokenStore", cfg.Users)
	}
	if !r.Notices.NoNewSignIn && (cfg.Throttle.Disabled || cfg.Throttle.NoDeviceCookies) {
		return nil, configErr("new sign-in notices need device cookies: set Recovery.Notices.NoNewSignIn, or leave the throttle's device cookies on")
	}
	ctx, stop := context.WithCancel(context.Background())
	rec := &recovery[U]{cfg: r, base: base, emails: emails, tokens: tokens,
		jobs: make(chan func(context.Context), jobBacklog), stop: stop, done: make(chan struct{})}
	go rec.run(ctx)
	return rec, nil
}

// run does the background work, one job at a time, until close.
func (r *recovery[U]) run(ctx context.Context) {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-r.jobs:
			job(ctx)
		}
	}
}

func (r *recovery[U]) close() {
	r.once.Do(func() {
		r.stop()
		<-r.done
	})
}

// link is the address of the page at path with the token.
func (r *recovery[U]) link(path, token string) string {
	u := *r.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = url.Values{"token": {token}}.Encode()
	return u.String()
}

// later runs job in the background, off the request: the request's answer
// never waits for (nor reveals) what it finds. Past the backlog, the job
// is dropped.
func (a *Auth[U]) later(job func(ctx context.Context)) { a.laterFor("", job) }

// addressOf is the throttle key of the client address of ctx, when it is
// a request's *gin.Context; "" otherwise.
func (a *Auth[U]) addressOf(ctx context.Context) string {
	if c, ok := ctx.(*gin.Context); ok {
		if k, ok := a.addressKey(c); ok {
			return k.Key
		}
	}
	return ""
}

// laterFor is later for a job a client address asked for: past that
// address's share of the backlog (jobsPerAddress), it is dropped too. ""
// is no address (a notice).
func (a *Auth[U]) laterFor(address string, job func(ctx context.Context)) {
	r := a.rec
	release := func() {}
	if address != "" {
		r.mu.Lock()
		full := r.waiting[address] >= jobsPerAddress
		if !full {
			if r.waiting == nil {
				r.waiting = map[string]int{}
			}
			r.waiting[address]++
		}
		r.mu.Unlock()
		if full {
			a.log.Warn("ginauth: a client address has its share of the account mail backlog waiting; dropping its request's mail")
			return
		}
		release = func() {
			r.mu.Lock()
			if r.waiting[address]--; r.waiting[address] <= 0 {
				delete(r.waiting, address)
			}
			r.mu.Unlock()
		}
	}
	select {
	case r.jobs <- func(ctx context.Context) { release(); job(ctx) }:
	default:
		release()
		a.log.Warn("ginauth: the backlog of account mail work is full; dropping a request's mail")
	}
}

// send renders a mail and queues it. The queue never waits for the mail
// server; failures are logged there, and here, without the mail's body
// (it carries a token).
func (a *Auth[U]) send(ctx context.Context, kind, to string, data mail.TemplateData) error {
	data.AppName = a.rec.cfg.AppName
	m, err := a.rec.cfg.Templates.Render(kind, to, data)
	if err == nil {
		err = a.rec.cfg.Mail.Send(ctx, m)
	}
	if err != nil {
		a.log.Warn("ginauth: account mail not sent", "kind", kind, "err", err)
	}
	return err
}

// loopbackHost reports a host name that stays on this machine, where
// plain HTTP links are fine (development).
func loopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// client is who asked for background work, for the events it reports.
type client struct{ ip, userAgent string }

type clientKey struct{}

// clientOf returns the request's client.
func (a *Auth[U]) clientOf(c *gin.Context) client {
	return client{a.sessions.ClientIP(c.Request), truncateUTF8(c.Request.UserAgent(), maxUserAgent)}
}

func withClient(ctx context.Context, cl client) context.Context {
	return context.WithValue(ctx, clientKey{}, cl)
}

// issue makes a token for the user, keeps its hash, and returns the link
// to the page at path.
func (a *Auth[U]) issue(ctx context.Context, t models.Token, ttl time.Duration, path string) (string, error) {
	tok, hash := newToken()
	t.Hash, t.ExpiresAt = hash, a.now().Add(ttl)
	if err := a.rec.tokens.IssueToken(ctx, t); err != nil {
		return "", sessionstore.Unavailable(err)
	}
	return a.rec.link(path, tok), nil
}

// consume takes the token s of one of the purposes, once: ErrInvalidToken
// for a malformed, unknown, used, superseded or expired one.
func (a *Auth[U]) consume(ctx context.Context, s string, purposes ...string) (models.Token, error) {
	hash, ok := tokenHash(s)
	if !ok {
		return models.Token{}, ErrInvalidToken
	}
	for _, p := range purposes {
		t, err := a.rec.tokens.ConsumeToken(ctx, hash, p)
		switch {
		case errors.Is(err, models.ErrTokenNotFound):
			continue
		case err != nil:
			return t, sessionstore.Unavailable(err)
		case !a.now().Before(t.ExpiresAt):
			return t, ErrInvalidToken
		}
		return t, nil
	}
	return models.Token{}, ErrInvalidToken
}

// counted counts one request for mail on each key and refuses it, with
// how long to wait, when a key is locked (the rules' Failures are then the
// requests allowed within their Window).
func (a *Auth[U]) counted(ctx context.Context, keys ...ThrottleKey) (time.Duration, error) {
	if a.throttle.Disabled || len(keys) == 0 {
		return 0, nil
	}
	now := a.now()
	wait, err := a.throttle.Store.Check(ctx, now, keys)
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	if wait > 0 {
		return wait, nil
	}
	s := make([]Settlement, len(keys))
	for i, k := range keys {
		s[i] = Settlement{ThrottleKey: k, Verdict: Failed}
	}
	if _, err := a.throttle.Store.Settle(ctx, now, s); err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	return 0, nil
}

// mailKeys are the throttle keys of a request for mail about the user (the
// account's), and of the request's client address when ctx is a request's.
func (a *Auth[U]) mailKeys(ctx context.Context, userID string) []ThrottleKey {
	var keys []ThrottleKey
	if userID != "" {
		keys = append(keys, ThrottleKey{Key: "mail:" + userID, Rule: a.throttle.Mails})
	}
	if c, ok := ctx.(*gin.Context); ok {
		if k, ok := a.addressKey(c); ok {
			keys = append(keys, ThrottleKey{Key: "mail" + k.Key, Rule: a.throttle.MailsPerIP})
		}
	}
	return keys
}

// Lookup names an account by its email address or, when Email is empty,
// by its username, for a request that may name none.
type Lookup struct {
	Email    string
	Username string
}

// find returns the user the lookup names, with an address to write to.
func (a *Auth[U]) find(ctx context.Context, l Lookup) (U, string, error) {
	var zero U
	var u U
	var err error
	if l.Email != "" {
		email, nerr := NormalizeEmail(l.Email)
		if nerr != nil {
			return zero, "", models.ErrUserNotFound
		}
		u, err = a.rec.emails.FindByEmail(ctx, email)
		if err == nil && any(u).(models.EmailOwner).AuthEmail() != email {
			err = models.ErrUserNotFound // a store that folds case
		}
	} else {
		u, err = a.FindUser(ctx, l.Username)
	}
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return zero, "", models.ErrUserNotFound
	case err != nil:
		return zero, "", sessionstore.Unavailable(err)
	}
	return u, any(u).(models.EmailOwner).AuthEmail(), nil
}

// SendPasswordReset mails the account a link to choose a new password:
// a token of 256 bits, kept only as its SHA-256, good once, for
// Recovery.ResetTTL, until the password changes or a newer link is sent.
//
// ctx is the request's *gin.Context for "forgot password" (POST
// /password/forgot): the answer is then the same, at once, whether or not
// the lookup names an account with an address; the lookup and the mail
// happen in the background. Requests are throttled per client address
// (ErrTooManyMails, a *RetryError) and, silently, per account
// (ThrottlePolicy.Mails). Any other context is an operator's: the work is
// done before it returns, unthrottled, and models.ErrUserNotFound or
// ErrNoEmail tell what prevented it.
func (a *Auth[U]) SendPasswordReset(ctx context.Context, l Lookup) error {
	if a.rec == nil {
		return ErrNoMail
	}
	if l.Email == "" && l.Username == "" {
		return ErrInvalidEmail
	}
	c, ok := ctx.(*gin.Context)
	if !ok {
		return a.sendReset(ctx, l, false)
	}
	wait, err := a.counted(c.Request.Context(), a.mailKeys(c, "")...)
	if err != nil {
		return err
	}
	if wait > 0 {
		return retry(ErrTooManyMails, wait)
	}
	cl := a.clientOf(c)
	a.laterFor(a.addressOf(c), func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(withClient(ctx, cl), 30*time.Second)
		defer cancel()
		if err := a.sendReset(ctx, l, true); err != nil && !errors.Is(err, models.ErrUserNotFound) && !errors.Is(err, ErrNoEmail) {
			a.log.Warn("ginauth: a password reset request failed", "err", err)
		}
	})
	return nil
}

func (a *Auth[U]) sendReset(ctx context.Context, l Lookup, throttled bool) error {
	u, email, err := a.find(ctx, l)
	if err != nil {
		return err
	}
	if email == "" {
		return ErrNoEmail
	}
	uid := u.AuthID()
	if throttled {
		wait, err := a.counted(ctx, a.mailKeys(ctx, uid)...)
		if err != nil || wait > 0 {
			return err
		}
	}
	link, err := a.issue(ctx, models.Token{Purpose: purposeReset, UserID: uid, Email: email,
		Credential: credentialOf(u.AuthPasswordHash())}, a.rec.cfg.ResetTTL, a.rec.cfg.ResetPath)
	if err != nil {
		return err
	}
	a.emit(ctx, Event{Type: EventResetRequested, UserID: uid, Username: u.AuthUsername()})
	return a.send(ctx, mail.KindPasswordReset, email, mail.TemplateData{Username: u.AuthUsername(), Link: link, ExpiresIn: a.rec.cfg.ResetTTL})
}

// ResetPassword sets a new password with a token from SendPasswordReset's
// mail, ends every session of the user (a reset is a credential change),
// and returns how many it ended. It does not sign anybody in: the user
// signs in with the new password, second factor included. It answers
// ErrInvalidToken for a token that is malformed, unknown, used, expired,
// superseded by a newer one or by a password change since, or whose user
// is gone; the new password's errors as Register does (checked before the
// token is used, so a refused password leaves the link working). Of two
// uses of one token at once, on any instances, one wins.
func (a *Auth[U]) ResetPassword(ctx context.Context, token, newPassword string) (int, error) {
	if a.rec == nil {
		return 0, ErrNoMail
	}
	if _, ok := tokenHash(token); !ok {
		return 0, ErrInvalidToken
	}
	pw, err := a.checkNewPassword(ctx, "", newPassword)
	if err != nil {
		return 0, err
	}
	t, err := a.consume(ctx, token, purposeReset)
	if err != nil {
		return 0, err
	}
	u, err := a.users.FindByID(ctx, t.UserID)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return 0, ErrInvalidToken
	case err != nil:
		return 0, sessionstore.Unavailable(err)
	case !sameCredential(t.Credential, credentialOf(u.AuthPasswordHash())) || t.Credential == "":
		return 0, ErrInvalidToken // the password changed since the link was sent
	}
	if strings.EqualFold(pw, u.AuthUsername()) {
		// The username rule needs the user: the link keeps working.
		if rerr := a.rec.tokens.IssueToken(ctx, t); rerr != nil {
			a.log.Warn("ginauth: restoring a reset link after a refused password failed", "err", rerr)
		}
		return 0, ErrPasswordIsUsername
	}
	var hash string
	if serr := a.slot(ctx, func() { hash, err = a.hasher.hash(pw) }); serr != nil {
		return 0, serr
	}
	if err != nil {
		return 0, err
	}
	uid := u.AuthID()
	n, err := a.replaceHash(context.WithoutCancel(ctx), uid, hash)
	if err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, ErrInvalidToken
		}
		return 0, err
	}
	// The link reached the address: it is the user's.
	if email := any(u).(models.EmailOwner).AuthEmail(); email != "" && email == t.Email {
		if err := a.rec.emails.MarkEmailVerified(ctx, uid, email); err == nil {
			a.InvalidateUser(uid)
		}
	}
	a.emit(ctx, Event{Type: EventPasswordReset, UserID: uid, Username: u.AuthUsername(), Revoked: n})
	return n, nil
}

// SendVerification mails the user a link that confirms their address:
// ErrNoEmail when they have none; nothing is sent when it is verified
// already. ctx is the request's *gin.Context when the signed-in user asks
// ("resend", POST /email/verify/resend): it is then throttled per account
// and client address (ErrTooManyMails). Any other context is an
// operator's, unthrottled.
func (a *Auth[U]) SendVerification(ctx context.Context, userID string) error {
	if a.rec == nil {
		return ErrNoMail
	}
	u, err := a.users.FindByID(ctx, userID)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return err
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	e := any(u).(models.EmailOwner)
	if e.AuthEmail() == "" {
		return ErrNoEmail
	}
	if e.AuthEmailVerified() {
		return nil
	}
	if c, ok := ctx.(*gin.Context); ok {
		wait, err := a.counted(c.Request.Context(), a.mailKeys(c, userID)...)
		if err != nil {
			return err
		}
		if wait > 0 {
			return retry(ErrTooManyMails, wait)
		}
	}
	return a.sendVerification(ctx, u, e.AuthEmail())
}

func (a *Auth[U]) sendVerification(ctx context.Context, u U, email string) error {
	link, err := a.issue(ctx, models.Token{Purpose: purposeVerify, UserID: u.AuthID(), Email: email},
		a.rec.cfg.VerifyTTL, a.rec.cfg.VerifyPath)
	if err != nil {
		return err
	}
	return a.send(ctx, mail.KindEmailVerify, email, mail.TemplateData{Username: u.AuthUsername(), Link: link, ExpiresIn: a.rec.cfg.VerifyTTL})
}

// VerifyEmail confirms an address with a token from a verification mail,
// or from an address change's (which then takes effect, and the old
// address is told). It answers ErrInvalidToken for a malformed, unknown,
// used or expired token, or one for an address the user no longer has,
// and ErrEmailTaken when another account took the new address meanwhile.
func (a *Auth[U]) VerifyEmail(ctx context.Context, token string) error {
	if a.rec == nil {
		return ErrNoMail
	}
	t, err := a.consume(ctx, token, purposeVerify, purposeChange)
	if err != nil {
		return err
	}
	u, err := a.users.FindByID(ctx, t.UserID)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return ErrInvalidToken
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	old := any(u).(models.EmailOwner).AuthEmail()
	if t.Purpose == purposeChange && old != t.Email {
		switch err := a.rec.emails.SetEmail(ctx, t.UserID, t.Email); {
		case errors.Is(err, models.ErrEmailTaken):
			return ErrEmailTaken
		case errors.Is(err, models.ErrUserNotFound):
			return ErrInvalidToken
		case err != nil:
			return sessionstore.Unavailable(err)
		}
		// A reset link sent to the old address dies with it.
		if err := a.rec.tokens.DeleteTokens(ctx, t.UserID, purposeReset); err != nil {
			a.log.Warn("ginauth: deleting reset links of a changed address failed", "err", err)
		}
	}
	switch err := a.rec.emails.MarkEmailVerified(ctx, t.UserID, t.Email); {
	case errors.Is(err, models.ErrUserNotFound):
		return ErrInvalidToken
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	a.InvalidateUser(t.UserID)
	if t.Purpose == purposeChange && old != t.Email {
		a.emit(ctx, Event{Type: EventEmailChange, UserID: t.UserID, Username: u.AuthUsername()})
		if old != "" && any(u).(models.EmailOwner).AuthEmailVerified() && !a.rec.cfg.Notices.NoEmailChange {
			_ = a.send(ctx, mail.KindEmailChanged, old, mail.TemplateData{Username: u.AuthUsername(), NewEmail: mail.MaskAddress(t.Email), Time: a.now()})
		}
		return nil
	}
	a.emit(ctx, Event{Type: EventEmailVerified, UserID: t.UserID, Username: u.AuthUsername()})
	return nil
}

// ChangeEmail gives the user a new address. ctx is the request's
// *gin.Context when the signed-in user asks (POST /email): the change then
// waits for the link mailed to the new address (VerifyEmail), the request
// is throttled per account and client address (ErrTooManyMails), and an
// address another account has gets a mail saying so instead of a link, so
// that the answer never tells whether an address is taken. Any other
// context is an operator's: the address is set at once, unverified
// (models.ErrEmailTaken → ErrEmailTaken), and a verification link sent.
// An empty email removes the address (operators only).
func (a *Auth[U]) ChangeEmail(ctx context.Context, userID, email string) error {
	if a.rec == nil {
		return ErrNoMail
	}
	c, isRequest := ctx.(*gin.Context)
	if email == "" && !isRequest {
		return a.setEmail(ctx, userID, "")
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if !isRequest {
		return a.setEmail(ctx, userID, email)
	}
	u, err := a.User(c)
	if err != nil {
		return err
	}
	if u.AuthID() != userID {
		return ErrUnauthenticated
	}
	if any(u).(models.EmailOwner).AuthEmail() == email {
		return nil
	}
	rctx := c.Request.Context()
	wait, err := a.counted(rctx, a.mailKeys(c, userID)...)
	if err != nil {
		return err
	}
	if wait > 0 {
		return retry(ErrTooManyMails, wait)
	}
	other, err := a.rec.emails.FindByEmail(rctx, email)
	switch {
	case err == nil && other.AuthID() != userID:
		// Taken: its owner hears of the attempt; the requester learns
		// nothing here.
		return a.send(rctx, mail.KindEmailTaken, email, mail.TemplateData{Time: a.now()})
	case err != nil && !errors.Is(err, models.ErrUserNotFound):
		return sessionstore.Unavailable(err)
	}
	link, err := a.issue(rctx, models.Token{Purpose: purposeChange, UserID: userID, Email: email}, a.rec.cfg.VerifyTTL, a.rec.cfg.VerifyPath)
	if err != nil {
		return err
	}
	a.emit(c, Event{Type: EventEmailChangeRequested, UserID: userID, Username: u.AuthUsername()})
	return a.send(rctx, mail.KindEmailChange, email, mail.TemplateData{Username: u.AuthUsername(), Link: link, ExpiresIn: a.rec.cfg.VerifyTTL})
}

// setEmail is an operator's change of address.
func (a *Auth[U]) setEmail(ctx context.Context, userID, email string) error {
	switch err := a.rec.emails.SetEmail(ctx, userID, email); {
	case errors.Is(err, models.ErrEmailTaken):
		return ErrEmailTaken
	case errors.Is(err, models.ErrUserNotFound):
		return err
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	a.InvalidateUser(userID)
	if err := a.rec.tokens.DeleteTokens(ctx, userID, ""); err != nil {
		return sessionstore.Unavailable(err)
	}
	a.emit(ctx, Event{Type: EventEmailChange, UserID: userID})
	if email == "" {
		return nil
	}
	u, err := a.users.FindByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("auth: the address is set, the verification mail not sent: %w", err)
	}
	return a.sendVerification(ctx, u, email)
}

// EndSession ends the session named in a new sign-in's notice, with the
// token of the notice's link, without signing in: the owner of the mailbox
// says "that was not me". It answers ErrInvalidToken for a token that is
// malformed, unknown, used or expired, or superseded by a newer notice.
// The session may have ended already; that is not an error.
func (a *Auth[U]) EndSession(ctx context.Context, token string) error {
	if a.rec == nil {
		return ErrNoMail
	}
	t, err := a.consume(ctx, token, purposeEndSession)
	if err != nil {
		return err
	}
	if err := a.sessions.Revoke(context.WithoutCancel(ctx), t.UserID, t.Session); err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
		return err
	}
	a.emit(ctx, Event{Type: EventSessionRevoked, UserID: t.UserID, Session: t.Session})
	return nil
}
