// Package oauth adds sign-in with other providers to an auth.Auth: OpenID
// Connect providers by issuer URL (github.com/coreos/go-oidc) and plain
// OAuth 2.0 services with a user-info endpoint (golang.org/x/oauth2), any
// number of each, every one a way to sign in to the same accounts, with
// the same sessions, throttle, events and second factors as a password.
//
// It is a package of its own so that an application without providers
// compiles none of OAuth or OpenID Connect. handlers.WithProviders mounts
// its routes.
//
// The flow is the authorization code with PKCE (S256), a state and a
// nonce, each 256 bits from crypto/rand, kept in the browser's session
// (server side) for a few minutes and used once; the ID token's issuer,
// audience, expiry, signature and nonce are verified. Identities are
// keyed by (provider, subject), never by email: an email links to an
// existing account only when the provider says it is verified and the
// application trusts the provider for it.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// Provider is one way to sign in elsewhere. Set Issuer for an OpenID
// Provider; or Endpoint, UserInfoURL and Profile for a plain OAuth 2.0
// service.
type Provider struct {
	// Name is the provider's stable name in the application: lower-case
	// letters, digits and dashes, at most 32. It is in the routes
	// (/oauth/<name>/start), the identities kept, the sessions' factors
	// and the metrics. Renaming one unlinks every identity made with it.
	Name string
	// Label names it on buttons ("Google"). Default: Name.
	Label string

	ClientID, ClientSecret string

	// Issuer is an OpenID Provider's issuer URL; its discovery document
	// is read at the first sign-in.
	Issuer string

	// Endpoint, UserInfoURL and Profile describe a plain OAuth 2.0
	// service (no Issuer): where to authorize and exchange the code, where
	// to read the signed-in user, and how to read the answer.
	Endpoint    oauth2.Endpoint
	UserInfoURL string
	Profile     func(body []byte) (Profile, error)

	// Scopes asked for. Default for an OpenID Provider: openid, email,
	// profile.
	Scopes []string

	// TrustEmail lets an email this provider says is verified sign in to
	// the existing account with that address (itself verified) and link
	// it. Leave it off unless the provider owns the addresses it vouches
	// for (a company's own identity provider, say): an address another
	// provider merely says is verified is how accounts are taken over.
	TrustEmail bool
}

// Profile is what a provider says of the signed-in user.
type Profile struct {
	Subject       string // the provider's stable ID of the user
	Email         string
	EmailVerified bool
	Username      string // a suggestion for a new account's username
}

// Config configures the providers. Providers, BaseURL and Store are
// required.
type Config struct {
	Providers []Provider

	// BaseURL is the application's address as browsers reach it; the
	// callback of a provider is BaseURL + "/oauth/<name>/callback" (the
	// redirect URI to register with it). https, or http on localhost.
	BaseURL string

	// Store keeps the linked identities (gormusers' store is one).
	Store models.IdentityStore

	// SignUp lets a first sign-in with an unknown identity create an
	// account (throttled per client address as registrations are).
	// Without it, the user signs in another way and links the provider
	// from their account.
	SignUp bool

	// OnTokens, when set, receives the provider's tokens after each
	// sign-in or link. The package keeps none: an application that needs
	// them (to call the provider's API) keeps them, encrypted at rest.
	OnTokens func(ctx context.Context, userID, provider string, tok *oauth2.Token)

	// FlowTTL is how long a browser has between the start of a sign-in
	// and its callback. Default 10 minutes; at most 30.
	FlowTTL time.Duration

	// HTTPClient talks to the providers. Default: a client with a
	// 10-second timeout.
	HTTPClient *http.Client

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Providers are the provider sign-ins of one auth.Auth.
type Providers[U models.Authenticatable] struct {
	a      *auth.Auth[U]
	cfg    Config
	byName map[string]*provider
	list   []Provider
}

// provider is a configured Provider and, for an OpenID Provider, what its
// discovery found (read once, at its first use).
type provider struct {
	Provider
	base string // the callback URL

	mu       sync.Mutex
	oidc     *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

var nameRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$`)

// configErr is an error of New: it matches auth.ErrConfig.
func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: oauth: %s", auth.ErrConfig, fmt.Sprintf(format, args...))
}

// New checks cfg and returns the provider sign-ins of a. It reaches no
// provider: an OpenID Provider's discovery happens at its first sign-in
// (and again after a failure), so that a provider down at start does not
// stop the application.
func New[U models.Authenticatable](a *auth.Auth[U], cfg Config) (*Providers[U], error) {
	if a == nil {
		return nil, configErr("no auth.Auth")
	}
	if cfg.Store == nil {
		return nil, configErr("Store is required (a models.IdentityStore: gormusers' store is one)")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Host == "" || base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, configErr("BaseURL %q is not an absolute URL without query", cfg.BaseURL)
	}
	if base.Scheme != "https" && !(base.Scheme == "http" && isLocalhost(base.Hostname())) {
		return nil, configErr("BaseURL %q: providers send codes to it, so it must be https (or http on localhost)", cfg.BaseURL)
	}
	if cfg.FlowTTL == 0 {
		cfg.FlowTTL = 10 * time.Minute
	}
	if cfg.FlowTTL < time.Minute || cfg.FlowTTL > 30*time.Minute {
		return nil, configErr("FlowTTL %v is outside 1m..30m", cfg.FlowTTL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Providers) == 0 {
		return nil, configErr("no provider")
	}
	p := &Providers[U]{a: a, cfg: cfg, byName: map[string]*provider{}}
	root := strings.TrimSuffix(base.String(), "/")
	for _, pr := range cfg.Providers {
		if !nameRE.MatchString(pr.Name) {
			return nil, configErr("provider name %q: lower-case letters, digits and dashes, at most 32", pr.Name)
		}
		if p.byName[pr.Name] != nil {
			return nil, configErr("two providers named %q", pr.Name)
		}
		if pr.ClientID == "" {
			return nil, configErr("provider %q: ClientID is required", pr.Name)
		}
		if pr.Issuer != "" {
			iu, err := url.Parse(pr.Issuer)
			if err != nil || iu.Host == "" || (iu.Scheme != "https" && !(iu.Scheme == "http" && isLocalhost(iu.Hostname()))) {
				return nil, configErr("provider %q: Issuer %q must be an https URL (or http on localhost)", pr.Name, pr.Issuer)
			}
			if len(pr.Scopes) == 0 {
				pr.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
			}
		} else if pr.Endpoint.AuthURL == "" || pr.Endpoint.TokenURL == "" || pr.UserInfoURL == "" || pr.Profile == nil {
			return nil, configErr("provider %q: set Issuer (OpenID Connect), or Endpoint, UserInfoURL and Profile (OAuth 2.0)", pr.Name)
		}
		if pr.Label == "" {
			pr.Label = pr.Name
		}
		p.byName[pr.Name] = &provider{Provider: pr, base: root + "/oauth/" + pr.Name + "/callback"}
		p.list = append(p.list, pr)
	}
	return p, nil
}

func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// List returns the providers, as configured (for "Sign in with" buttons).
func (p *Providers[U]) List() []Provider { return p.list }

// config is the OAuth 2.0 configuration of pr; for an OpenID Provider it
// runs the discovery the first time.
func (p *Providers[U]) config(ctx context.Context, pr *provider) (*oauth2.Config, error) {
	c := &oauth2.Config{ClientID: pr.ClientID, ClientSecret: pr.ClientSecret, RedirectURL: pr.base, Scopes: pr.Scopes, Endpoint: pr.Endpoint}
	if pr.Issuer == "" {
		return c, nil
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.oidc == nil {
		op, err := oidc.NewProvider(oidc.ClientContext(ctx, p.cfg.HTTPClient), pr.Issuer)
		if err != nil {
			return nil, fmt.Errorf("%w: %s's discovery: %v", auth.ErrProviderUnavailable, pr.Name, err)
		}
		pr.oidc = op
		pr.verifier = op.Verifier(&oidc.Config{ClientID: pr.ClientID, Now: p.cfg.Now})
	}
	c.Endpoint = pr.oidc.Endpoint()
	return c, nil
}

// flowKey is the session value of a sign-in under way.
const flowKey = "ginauth.oauth"

// flow is that value.
type flow struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r,omitempty"`
	Link     string `json:"l,omitempty"` // the user linking the provider to their account
	At       int64  `json:"t"`           // Unix ms
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Start begins a sign-in with the provider named name and returns the
// provider's address to send the browser to. returnTo is where the
// browser goes after the callback (a local path, else "/"). With link, the
// signed-in user links the provider to their account instead: that asks
// for a recent authentication (auth.ErrReauthRequired). A flow started
// before in this browser is replaced.
func (p *Providers[U]) Start(c *gin.Context, name, returnTo string, link bool) (string, error) {
	pr := p.byName[name]
	if pr == nil {
		return "", auth.ErrNoProvider
	}
	f := flow{Provider: name, State: random(), Verifier: oauth2.GenerateVerifier(), At: p.cfg.Now().UnixMilli()}
	if middleware.LocalPath(returnTo) {
		f.ReturnTo = returnTo
	}
	if link {
		u, err := p.a.User(c)
		if err != nil {
			return "", err
		}
		if err := p.a.RecentAuth(c, auth.DefaultReauthWindow); err != nil {
			return "", err
		}
		f.Link = u.AuthID()
	}
	conf, err := p.config(c.Request.Context(), pr)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier)}
	if pr.Issuer != "" {
		f.Nonce = random()
		opts = append(opts, oidc.Nonce(f.Nonce))
	}
	s := session.From(c)
	if s == nil {
		return "", session.ErrNoMiddleware
	}
	if err := s.Set(flowKey, f); err != nil {
		return "", err
	}
	return conf.AuthCodeURL(f.State, opts...), nil
}

// Callback finishes the sign-in the provider named name sends the browser
// back from, with the request's query (code and state, or error). It
// returns the user signed in (or who linked the provider) and where the
// browser goes next. Every failure leaves nothing signed in and stores
// nothing: auth.ErrProviderState for a state that is missing, used,
// expired or from another browser; auth.ErrProviderRefused for a code the
// provider would not exchange (a replay), an ID token that does not
// verify (issuer, audience, expiry, signature, nonce) or the provider's
// own error; auth.ErrNoAccount when no account is linked and SignUp is
// off, auth.ErrLinkRequired when the provider's email is an existing
// account's that may not be linked by email (the user signs in and links
// from their account), auth.ErrIdentityTaken for a link of an identity
// another account has. A sign-in goes through auth.Auth.Login with the
// factor "provider:<name>": a user with a second factor is asked for it
// (auth.SecondFactorRequired).
func (p *Providers[U]) Callback(c *gin.Context) (U, string, error) {
	name := c.Param("provider")
	pr := p.byName[name]
	if pr == nil {
		var zero U
		return zero, "", auth.ErrNoProvider
	}
	u, returnTo, err := p.callback(c, pr)
	if err != nil && !errors.As(err, new(*auth.SecondFactorRequired)) && !errors.Is(err, auth.ErrLinkRequired) {
		// ErrLinkRequired was reported with the account it names.
		p.a.Emit(c, auth.Event{Type: auth.EventLoginFailure, Action: Factor(name)})
	}
	return u, returnTo, err
}

func (p *Providers[U]) callback(c *gin.Context, pr *provider) (U, string, error) {
	var zero U
	name := pr.Name
	f, err := p.take(c, name)
	if err != nil {
		return zero, "", err
	}
	returnTo := f.ReturnTo
	q := c.Request.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return zero, returnTo, fmt.Errorf("%w: the state does not match this browser's sign-in", auth.ErrProviderState)
	}
	if e := q.Get("error"); e != "" {
		return zero, returnTo, fmt.Errorf("%w: the provider answered %q", auth.ErrProviderRefused, truncate(e, 64))
	}
	ctx := c.Request.Context()
	conf, err := p.config(ctx, pr)
	if err != nil {
		return zero, returnTo, err
	}
	octx := context.WithValue(oidc.ClientContext(ctx, p.cfg.HTTPClient), oauth2.HTTPClient, p.cfg.HTTPClient)
	tok, err := conf.Exchange(octx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return zero, returnTo, fmt.Errorf("%w: the code was refused (%s)", auth.ErrProviderRefused, re.ErrorCode)
		}
		return zero, returnTo, fmt.Errorf("%w: %s's token endpoint: %v", auth.ErrProviderUnavailable, name, err)
	}
	prof, err := p.profile(octx, pr, conf, tok, f.Nonce)
	if err != nil {
		return zero, returnTo, err
	}
	if f.Link != "" {
		u, err := p.link(c, pr, prof, f.Link)
		if err == nil {
			p.tokens(ctx, u.AuthID(), name, tok)
		}
		return u, returnTo, err
	}
	u, err := p.signIn(c, pr, prof)
	if err == nil || errors.As(err, new(*auth.SecondFactorRequired)) {
		p.tokens(ctx, u.AuthID(), name, tok)
	}
	return u, returnTo, err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (p *Providers[U]) tokens(ctx context.Context, userID, name string, tok *oauth2.Token) {
	if p.cfg.OnTokens != nil && userID != "" {
		p.cfg.OnTokens(ctx, userID, name, tok)
	}
}

// take takes the flow out of the session (it serves once, whatever comes
// of it).
func (p *Providers[U]) take(c *gin.Context, name string) (flow, error) {
	s := session.From(c)
	if s == nil {
		return flow{}, session.ErrNoMiddleware
	}
	var f flow
	found, err := s.Get(flowKey, &f)
	if found {
		s.Delete(flowKey)
	}
	switch {
	case err != nil || !found:
		return f, fmt.Errorf("%w: no sign-in under way in this browser", auth.ErrProviderState)
	case f.Provider != name:
		return f, fmt.Errorf("%w: the sign-in under way is with another provider", auth.ErrProviderState)
	case p.cfg.Now().Sub(time.UnixMilli(f.At)) > p.cfg.FlowTTL:
		return f, fmt.Errorf("%w: the sign-in took too long", auth.ErrProviderState)
	}
	return f, nil
}

// idClaims are the ID token's claims the package reads.
type idClaims struct {
	Email             string `json:"email"`
	EmailVerified     any    `json:"email_verified"` // a bool, or (some providers) a string
	PreferredUsername string `json:"preferred_username"`
	Nickname          string `json:"nickname"`
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// profile reads the user from the ID token (OpenID Connect), or from the
// user-info endpoint (OAuth 2.0).
func (p *Providers[U]) profile(ctx context.Context, pr *provider, conf *oauth2.Config, tok *oauth2.Token, nonce string) (Profile, error) {
	if pr.Issuer != "" {
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			return Profile{}, fmt.Errorf("%w: no ID token", auth.ErrProviderRefused)
		}
		idt, err := pr.verifier.Verify(ctx, raw)
		if err != nil {
			return Profile{}, fmt.Errorf("%w: the ID token does not verify: %v", auth.ErrProviderRefused, err)
		}
		if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
			return Profile{}, fmt.Errorf("%w: the ID token's nonce is not this sign-in's", auth.ErrProviderRefused)
		}
		var cl idClaims
		if err := idt.Claims(&cl); err != nil {
			return Profile{}, fmt.Errorf("%w: the ID token's claims: %v", auth.ErrProviderRefused, err)
		}
		if cl.Email == "" && cl.PreferredUsername == "" && cl.Nickname == "" && pr.oidc.UserInfoEndpoint() != "" {
			// Many providers put the profile at the user-info endpoint
			// only, when they issue an access token too (OpenID Connect
			// Core 5.4). Its answer counts only for the ID token's subject.
			ui, err := pr.oidc.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				return Profile{}, fmt.Errorf("%w: %s's user info: %v", auth.ErrProviderUnavailable, pr.Name, err)
			}
			if ui.Subject != idt.Subject {
				return Profile{}, fmt.Errorf("%w: the user info is another subject's", auth.ErrProviderRefused)
			}
			if err := ui.Claims(&cl); err != nil {
				return Profile{}, fmt.Errorf("%w: the user info's claims: %v", auth.ErrProviderRefused, err)
			}
		}
		name := cl.PreferredUsername
		if name == "" {
			name = cl.Nickname
		}
		return checkProfile(Profile{Subject: idt.Subject, Email: cl.Email, EmailVerified: truthy(cl.EmailVerified), Username: name})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pr.UserInfoURL, nil)
	if err != nil {
		return Profile{}, err
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	res, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return Profile{}, fmt.Errorf("%w: %s's user info: %v", auth.ErrProviderUnavailable, pr.Name, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil || res.StatusCode != http.StatusOK {
		return Profile{}, fmt.Errorf("%w: %s's user info answered %d", auth.ErrProviderRefused, pr.Name, res.StatusCode)
	}
	prof, err := pr.Profile(body)
	if err != nil {
		return Profile{}, fmt.Errorf("%w: %s's user info: %v", auth.ErrProviderRefused, pr.Name, err)
	}
	return checkProfile(prof)
}

// checkProfile refuses a profile without a usable subject.
func checkProfile(prof Profile) (Profile, error) {
	if prof.Subject == "" || len(prof.Subject) > 255 || strings.ContainsRune(prof.Subject, 0) {
		return Profile{}, fmt.Errorf("%w: the provider gave no usable subject", auth.ErrProviderRefused)
	}
	if prof.Email != "" {
		if e, err := auth.NormalizeEmail(prof.Email); err == nil {
			prof.Email = e
		} else {
			prof.Email, prof.EmailVerified = "", false
		}
	}
	return prof, nil
}

// Factor is the factor a sign-in with the provider named name records in
// the session.
func Factor(name string) string { return "provider:" + name }

// signIn signs in the account linked to the identity, or links one by a
// trusted email, or creates one.
func (p *Providers[U]) signIn(c *gin.Context, pr *provider, prof Profile) (U, error) {
	var zero U
	ctx := c.Request.Context()
	id, err := p.cfg.Store.Identity(ctx, pr.Name, prof.Subject)
	switch {
	case err == nil:
		u, err := p.a.FindUserByID(ctx, id.UserID)
		if err != nil {
			if errors.Is(err, models.ErrUserNotFound) {
				return zero, auth.ErrNoAccount
			}
			return zero, err
		}
		if err := p.cfg.Store.UseIdentity(ctx, pr.Name, prof.Subject, prof.Email, p.cfg.Now()); err != nil && !errors.Is(err, models.ErrNoFactor) {
			return zero, sessionstore.Unavailable(err)
		}
		return u, p.login(c, u, pr)
	case !errors.Is(err, models.ErrNoFactor):
		return zero, sessionstore.Unavailable(err)
	}
	// An identity seen for the first time.
	if prof.Email != "" {
		owner, err := p.emailOwner(ctx, prof.Email)
		if err != nil {
			return zero, err
		}
		if owner != nil {
			if !pr.TrustEmail || !prof.EmailVerified || !owner.verified {
				p.a.Emit(c, auth.Event{Type: auth.EventLoginFailure, UserID: owner.id, Action: Factor(pr.Name)})
				return zero, auth.ErrLinkRequired
			}
			u, err := p.a.FindUserByID(ctx, owner.id)
			if err != nil {
				return zero, err
			}
			if err := p.newLink(ctx, pr, prof, owner.id); err != nil {
				return zero, err
			}
			p.a.Emit(c, auth.Event{Type: auth.EventFactorChange, UserID: owner.id, Username: u.AuthUsername(), Action: "provider_linked"})
			return u, p.login(c, u, pr)
		}
	}
	if !p.cfg.SignUp {
		return zero, auth.ErrNoAccount
	}
	u, err := p.signUp(c, pr, prof)
	if err != nil {
		return zero, err
	}
	return u, p.login(c, u, pr)
}

func (p *Providers[U]) login(c *gin.Context, u U, pr *provider) error {
	return p.a.Login(c, u, auth.LoginOptions{Factors: []string{Factor(pr.Name)}})
}

// emailOwner is the account that has an address, and whether it is
// verified there.
type emailOwner struct {
	id       string
	verified bool
}

func (p *Providers[U]) emailOwner(ctx context.Context, email string) (*emailOwner, error) {
	u, err := p.a.FindUserByEmail(ctx, email)
	switch {
	case errors.Is(err, models.ErrUserNotFound), errors.Is(err, auth.ErrNoEmail):
		return nil, nil
	case err != nil:
		return nil, err
	}
	o := &emailOwner{id: u.AuthID()}
	if eo, ok := any(u).(models.EmailOwner); ok {
		o.verified = eo.AuthEmailVerified()
	}
	return o, nil
}

// newLink keeps a new identity of userID.
func (p *Providers[U]) newLink(ctx context.Context, pr *provider, prof Profile, userID string) error {
	err := p.cfg.Store.LinkIdentity(ctx, models.Identity{Provider: pr.Name, Subject: prof.Subject, UserID: userID, Email: prof.Email, CreatedAt: p.cfg.Now()})
	switch {
	case errors.Is(err, models.ErrIdentityExists):
		return auth.ErrIdentityTaken
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	return nil
}

// signUp creates an account for a new identity: its username from the
// provider's suggestion (or the email's local part, or the provider's
// name), with a number appended while taken; no password; the email when
// the provider vouches for it and is trusted to, verified.
func (p *Providers[U]) signUp(c *gin.Context, pr *provider, prof Profile) (U, error) {
	var zero U
	base := usernameFrom(prof, pr.Name)
	nu := auth.NewUser{NoPassword: true}
	if prof.Email != "" && prof.EmailVerified && pr.TrustEmail {
		nu.Email, nu.EmailVerified = prof.Email, true
	}
	for i := 0; ; i++ {
		nu.Username = base
		if i > 0 {
			nu.Username = fmt.Sprintf("%s%d", base, i+1)
		}
		if i >= 5 {
			nu.Username = base + "-" + random()[:8]
		}
		u, err := p.a.Register(c, nu)
		if errors.Is(err, auth.ErrUsernameTaken) && i < 6 {
			continue
		}
		if errors.Is(err, auth.ErrEmailTaken) && nu.Email != "" {
			nu.Email, nu.EmailVerified = "", false
			continue
		}
		if err != nil {
			return zero, err
		}
		if err := p.newLink(c.Request.Context(), pr, prof, u.AuthID()); err != nil {
			return zero, err
		}
		return u, nil
	}
}

// usernameFrom suggests a username that NormalizeUsername accepts.
func usernameFrom(prof Profile, fallback string) string {
	for _, cand := range []string{prof.Username, strings.SplitN(prof.Email, "@", 2)[0]} {
		var b strings.Builder
		for _, r := range strings.ToLower(cand) {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || strings.ContainsRune("._-", r) {
				b.WriteRune(r)
			}
		}
		if s := b.String(); len(s) >= 2 {
			return truncate(s, 48)
		}
	}
	return fallback + "-user"
}

// link links the identity to the signed-in user who started the flow.
func (p *Providers[U]) link(c *gin.Context, pr *provider, prof Profile, userID string) (U, error) {
	var zero U
	u, err := p.a.User(c)
	if err != nil {
		return zero, err
	}
	if u.AuthID() != userID {
		return zero, fmt.Errorf("%w: the link was started by another user", auth.ErrProviderState)
	}
	id, err := p.cfg.Store.Identity(c.Request.Context(), pr.Name, prof.Subject)
	switch {
	case err == nil && id.UserID == userID:
		return u, nil // linked already
	case err == nil:
		return zero, auth.ErrIdentityTaken
	case !errors.Is(err, models.ErrNoFactor):
		return zero, sessionstore.Unavailable(err)
	}
	if err := p.newLink(c.Request.Context(), pr, prof, userID); err != nil {
		return zero, err
	}
	return u, p.a.FactorChanged(c, "provider_linked", Factor(pr.Name))
}

// Identities lists the signed-in user's linked identities.
func (p *Providers[U]) Identities(c *gin.Context) ([]models.Identity, error) {
	u, err := p.a.User(c)
	if err != nil {
		return nil, err
	}
	ids, err := p.cfg.Store.Identities(c.Request.Context(), u.AuthID())
	if err != nil {
		return nil, sessionstore.Unavailable(err)
	}
	return ids, nil
}

// Unlink removes the signed-in user's identity at the provider named name
// with this subject. It asks for a recent authentication, and refuses to
// remove the last way the user has to sign in (auth.ErrLastSignInMethod):
// no password, no passkey, no other identity.
func (p *Providers[U]) Unlink(c *gin.Context, name, subject string) error {
	u, err := p.a.User(c)
	if err != nil {
		return err
	}
	if err := p.a.RecentAuth(c, auth.DefaultReauthWindow); err != nil {
		return err
	}
	ctx := c.Request.Context()
	ids, err := p.cfg.Store.Identities(ctx, u.AuthID())
	if err != nil {
		return sessionstore.Unavailable(err)
	}
	found := false
	for _, id := range ids {
		found = found || (id.Provider == name && id.Subject == subject)
	}
	if !found {
		return auth.ErrNoIdentity
	}
	if len(ids) == 1 && u.AuthPasswordHash() == "" {
		keys := 0
		if ps, ok := p.cfg.Store.(models.PasskeyStore); ok {
			list, err := ps.Passkeys(ctx, u.AuthID())
			if err != nil {
				return sessionstore.Unavailable(err)
			}
			keys = len(list)
		}
		if keys == 0 {
			return auth.ErrLastSignInMethod
		}
	}
	switch err := p.cfg.Store.UnlinkIdentity(ctx, u.AuthID(), name, subject); {
	case errors.Is(err, models.ErrNoFactor):
		return auth.ErrNoIdentity
	case err != nil:
		return sessionstore.Unavailable(err)
	}
	return p.a.FactorChanged(c, "provider_unlinked")
}
