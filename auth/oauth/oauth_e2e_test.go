package oauth_test

// Sign-in with other providers end to end, over HTTP, against a provider
// that speaks the protocol (testop_test.go): the flow, sign-up, linking,
// second factors, and every hostile case of the flow.

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/oauth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/models"
)

const pw = "a long enough password"

// hubProfile reads the test provider's GitHub-like user info.
func hubProfile(body []byte) (oauth.Profile, error) {
	var v struct {
		ID, Login, Email string
		Verified         bool
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return oauth.Profile{}, err
	}
	if v.ID == "" {
		return oauth.Profile{}, errors.New("no id")
	}
	return oauth.Profile{Subject: v.ID, Email: v.Email, EmailVerified: v.Verified, Username: v.Login}, nil
}

// opApp is an application with the test provider as "test" (OpenID
// Connect, trusted for email) and "hub" (plain OAuth 2.0, not trusted),
// second factors, and sign-up on.
func opApp(t *testing.T, change ...func(*oauth.Config)) (*apptest.App, *testOP, *apptest.Events) {
	t.Helper()
	clock := fakeclock.New(time.Time{})
	op := newTestOP(t, clock.Now)
	store, db := apptest.Backends[0].Open(t, clock)
	ev := &apptest.Events{}
	a := apptest.NewApp(t, store, db, clock, func(c *apptest.Config) {
		c.Auth.SecondFactor = auth.SecondFactor{Keys: [][]byte{[]byte("second-factor-test-key-0123456789abcdef")}}
		c.Auth.OnEvent = ev.Add
		c.Providers = &oauth.Config{
			Providers: []oauth.Provider{
				{Name: "test", Label: "Test", Issuer: op.URL(), ClientID: op.clientID, ClientSecret: op.secret, TrustEmail: true},
				{Name: "hub", Endpoint: oauthEndpoint(op), UserInfoURL: op.URL() + "/userinfo", Profile: hubProfile, ClientID: op.clientID, ClientSecret: op.secret},
			},
			SignUp: true,
		}
		for _, f := range change {
			f(c.Providers)
		}
	})
	return a, op, ev
}

// start begins a sign-in in the client's browser and returns the
// provider's address it was sent to.
func start(t *testing.T, cl *apptest.Client, query string) string {
	t.Helper()
	r := cl.Do("GET", "/oauth/"+query, nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("GET /oauth/%s = %d %s", query, r.Status, r.Body)
	}
	return r.Header.Get("Location")
}

// startLink begins a link of the provider by the signed-in client (a form
// post) and returns the provider's address it was sent to.
func startLink(t *testing.T, cl *apptest.Client, name, returnTo string) string {
	t.Helper()
	r := cl.Do("POST", "/oauth/"+name+"/start", url.Values{"link": {"1"}, "returnTo": {returnTo}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST /oauth/%s/start = %d %s", name, r.Status, r.Body)
	}
	return r.Header.Get("Location")
}

// atProvider follows the browser to the provider, which signs op.User in
// at once and sends it back: the callback's path and query.
func atProvider(t *testing.T, cl *apptest.Client, loc string) string {
	t.Helper()
	res, err := cl.HTTP.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(back.Path, "/oauth/") {
		t.Fatalf("the provider answered %d to %s", res.StatusCode, res.Header.Get("Location"))
	}
	return back.RequestURI()
}

// signInVia runs a whole sign-in with the provider and returns the
// callback's answer.
func signInVia(t *testing.T, cl *apptest.Client, name, returnTo string) *apptest.Response {
	t.Helper()
	return cl.Do("GET", atProvider(t, cl, start(t, cl, name+"/start?returnTo="+url.QueryEscape(returnTo))), nil)
}

func wantRedirect(t *testing.T, r *apptest.Response, prefix string) {
	t.Helper()
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), prefix) {
		t.Fatalf("got %d to %q, want 303 to %s...", r.Status, r.Header.Get("Location"), prefix)
	}
}

func me(cl *apptest.Client) string {
	r := cl.Do("GET", "/me", nil)
	if r.Status != http.StatusOK {
		return ""
	}
	return r.JSON["user"].(map[string]any)["username"].(string)
}

func TestProviderSignUpAndSignIn(t *testing.T) {
	a, op, ev := opApp(t)
	cl := a.Client(t)
	wantRedirect(t, signInVia(t, cl, "test", "/private"), "/private")
	if me(cl) != "ada" {
		t.Fatalf("signed up as %q, want ada", me(cl))
	}
	// Signed in again, the same account.
	again := a.Client(t)
	wantRedirect(t, signInVia(t, again, "test", "/"), "/")
	if me(again) != "ada" {
		t.Fatalf("signed in as %q", me(again))
	}
	ids := again.Do("GET", "/oauth/identities", nil)
	again.Want(ids, http.StatusOK, "")
	if list := ids.JSON["identities"].([]any); len(list) != 1 || list[0].(map[string]any)["provider"] != "test" {
		t.Fatalf("identities = %s", ids.Body)
	}
	// The sessions list says how each signed in.
	if !strings.Contains(string(again.Do("GET", "/sessions", nil).Body), `"factor":"provider:test"`) {
		t.Error("the sessions list does not say the provider signed in")
	}
	if ev.Count(auth.EventLoginSuccess, "provider:test") != 2 {
		t.Error("no login_success events with the provider")
	}
	// The account has no password: none signs in.
	a.Client(t).Want(a.Client(t).Do("POST", "/login", apptest.Creds("ada", "")), http.StatusBadRequest, "")
	a.Client(t).Want(a.Client(t).Do("POST", "/login", apptest.Creds("ada", "anything at all")), http.StatusUnauthorized, "invalid_credentials")

	// The plain OAuth 2.0 provider: another identity, another account.
	op.User = opUser{Sub: "4242", Username: "grace", Email: "grace@example.com", Verified: true}
	hub := a.Client(t)
	wantRedirect(t, signInVia(t, hub, "hub", "/"), "/")
	if me(hub) != "grace" {
		t.Fatalf("hub signed up %q", me(hub))
	}
}

func TestProviderNoSignUp(t *testing.T) {
	a, _, _ := opApp(t, func(c *oauth.Config) { c.SignUp = false })
	cl := a.Client(t)
	wantRedirect(t, signInVia(t, cl, "test", "/"), "/login?error=no_account")
	if me(cl) != "" {
		t.Fatal("signed in without an account")
	}
}

// TestProviderState: the state must be this browser's, unused, recent.
func TestProviderState(t *testing.T) {
	a, _, _ := opApp(t)
	victim := a.Client(t)
	cb := atProvider(t, victim, start(t, victim, "test/start"))

	attacker := a.Client(t)
	wantRedirect(t, attacker.Do("GET", cb, nil), "/login?error=invalid_state") // another browser's
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Del("state")
	wantRedirect(t, victim.Do("GET", u.Path+"?"+q.Encode(), nil), "/login?error=invalid_state") // missing (and spends the flow)
	wantRedirect(t, victim.Do("GET", cb, nil), "/login?error=invalid_state")                    // used
	if me(victim) != "" || me(attacker) != "" {
		t.Fatal("a refused callback signed someone in")
	}

	// Too late.
	late := a.Client(t)
	cb = atProvider(t, late, start(t, late, "test/start"))
	a.Clock.Advance(10*time.Minute + time.Second)
	wantRedirect(t, late.Do("GET", cb, nil), "/login?error=invalid_state")
	// Another provider's callback.
	other := a.Client(t)
	cb = atProvider(t, other, start(t, other, "test/start"))
	wantRedirect(t, other.Do("GET", strings.Replace(cb, "/oauth/test/", "/oauth/hub/", 1), nil), "/login?error=invalid_state")
	a.Client(t).Want(a.Client(t).Do("GET", "/oauth/nope/start", nil), http.StatusSeeOther, "")
}

// TestProviderIDToken: an ID token that does not verify signs nobody in.
func TestProviderIDToken(t *testing.T) {
	a, op, ev := opApp(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		tamper func(map[string]any)
		key    *rsa.PrivateKey
	}{
		{"another audience", func(c map[string]any) { c["aud"] = "another-client" }, nil},
		{"expired", func(c map[string]any) { c["exp"] = a.Clock.Now().Add(-time.Minute).Unix() }, nil},
		{"another issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, nil},
		{"another nonce", func(c map[string]any) { c["nonce"] = "not this sign-in's" }, nil},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }, nil},
		{"a bad signature", nil, other},
		{"no subject", func(c map[string]any) { c["sub"] = "" }, nil},
		// No profile in the ID token: it is read from the user info, whose
		// answer here names no subject (the test provider's user info
		// speaks like GitHub's), so it is not the ID token's user's.
		{"user info of another subject", func(c map[string]any) { delete(c, "email"); delete(c, "preferred_username") }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op.mu.Lock()
			op.Tamper, op.SignWith = tc.tamper, tc.key
			op.mu.Unlock()
			cl := a.Client(t)
			wantRedirect(t, signInVia(t, cl, "test", "/"), "/login?error=provider_refused")
			if me(cl) != "" {
				t.Fatal("signed in")
			}
		})
	}
	if n := ev.Count(auth.EventLoginFailure, "provider:test"); n != len(cases) {
		t.Errorf("%d login_failure events for %d refused callbacks", n, len(cases))
	}
}

// TestProviderCodeReplay: a code is exchanged once; a second callback
// with it (under a new state of the same browser) is refused.
func TestProviderCodeReplay(t *testing.T) {
	a, _, _ := opApp(t)
	cl := a.Client(t)
	cb := atProvider(t, cl, start(t, cl, "test/start"))
	wantRedirect(t, cl.Do("GET", cb, nil), "/")
	code, _ := url.Parse(cb)

	thief := a.Client(t)
	fresh, _ := url.Parse(atProvider(t, thief, start(t, thief, "test/start")))
	q := fresh.Query()
	q.Set("code", code.Query().Get("code"))
	wantRedirect(t, thief.Do("GET", fresh.Path+"?"+q.Encode(), nil), "/login?error=provider_refused")
	if me(thief) != "" {
		t.Fatal("a replayed code signed in")
	}
}

// TestProviderEmailLinking: an email links to an existing account only
// when the provider says it is verified, the provider is trusted for it,
// and the account's own address is verified.
func TestProviderEmailLinking(t *testing.T) {
	a, op, _ := opApp(t)
	owner := a.Client(t)
	owner.Register("owner", pw)
	uid := a.UserID(t, "owner")
	if err := a.Users.SetEmail(t.Context(), uid, "owner@example.com"); err != nil {
		t.Fatal(err)
	}

	// Trusted and verified at the provider, but the account's own address
	// is not verified.
	op.User = opUser{Sub: "attacker-1", Email: "owner@example.com", Username: "mallory", Verified: true}
	cl := a.Client(t)
	wantRedirect(t, signInVia(t, cl, "test", "/"), "/login?error=link_required")
	if err := a.Users.MarkEmailVerified(t.Context(), uid, "owner@example.com"); err != nil {
		t.Fatal(err)
	}
	// Unverified at the provider: never linked.
	op.User.Verified = false
	cl = a.Client(t)
	wantRedirect(t, signInVia(t, cl, "test", "/"), "/login?error=link_required")
	// Verified, but the provider is not trusted for email.
	op.User.Verified = true
	cl = a.Client(t)
	wantRedirect(t, signInVia(t, cl, "hub", "/"), "/login?error=link_required")
	if me(cl) != "" {
		t.Fatal("signed in to the owner's account")
	}
	// All three: linked, and signed in to the owner's account.
	op.User.Sub = "owner-at-test"
	cl = a.Client(t)
	wantRedirect(t, signInVia(t, cl, "test", "/"), "/")
	if me(cl) != "owner" {
		t.Fatalf("signed in as %q, want owner", me(cl))
	}
}

// TestProviderReturnTo: returnTo to another origin goes nowhere but home.
func TestProviderReturnTo(t *testing.T) {
	a, _, _ := opApp(t)
	for _, to := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
		cl := a.Client(t)
		r := signInVia(t, cl, "test", to)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Errorf("returnTo %q: got %d to %q, want /", to, r.Status, r.Header.Get("Location"))
		}
	}
}

// TestProviderSecondFactor: a provider sign-in of a user with a second
// factor waits for it.
func TestProviderSecondFactor(t *testing.T) {
	a, _, _ := opApp(t)
	cl := a.Client(t)
	wantRedirect(t, signInVia(t, cl, "test", "/private"), "/private")
	r := cl.Do("POST", "/2fa/totp", nil)
	cl.Want(r, http.StatusOK, "")
	secret := r.JSON["secret"].(string)
	code := func() string {
		c, _ := totp.GenerateCodeCustom(secret, a.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		return c
	}
	cl.Want(cl.Do("POST", "/2fa/totp/confirm", map[string]any{"code": code()}), http.StatusOK, "")

	next := a.Client(t)
	wantRedirect(t, signInVia(t, next, "test", "/private"), "/login/2fa?returnTo=%2Fprivate")
	if me(next) != "" {
		t.Fatal("signed in before the second factor")
	}
	a.Clock.Advance(30 * time.Second)
	next.Want(next.Do("POST", "/login/2fa", map[string]any{"code": code()}), http.StatusOK, "")
	if me(next) != "ada" {
		t.Fatal("not signed in after the second factor")
	}
	if !strings.Contains(string(next.Do("GET", "/sessions", nil).Body), `"factor":"totp"`) {
		t.Error("the session does not record the code")
	}
}

// TestProviderLink: a signed-in user links a provider after a recent
// authentication; an identity of another account is refused; the last
// way to sign in cannot be unlinked.
func TestProviderLink(t *testing.T) {
	a, op, ev := opApp(t)
	cl := a.Client(t)
	cl.Register("linda", pw)
	op.User = opUser{Sub: "linda-sub", Username: "linda2"}

	// A link starts with a form post: a GET, which any site can make the
	// browser send, is refused, and so is a cross-site post.
	cl.Want(cl.Do("GET", "/oauth/test/start?link=1&returnTo=%2Faccount", nil), http.StatusBadRequest, "bad_request")
	cl.Want(cl.Do("POST", "/oauth/test/start", url.Values{"link": {"1"}}, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden, "cross_origin")

	a.Clock.Advance(auth.DefaultReauthWindow + time.Minute)
	r := cl.Do("POST", "/oauth/test/start", url.Values{"link": {"1"}, "returnTo": {"/account"}})
	wantRedirect(t, r, "/reauth?returnTo=%2Faccount")
	cl.Want(cl.Do("POST", "/reauth", map[string]any{"password": pw}), http.StatusOK, "")
	wantRedirect(t, cl.Do("GET", atProvider(t, cl, startLink(t, cl, "test", "/account")), nil), "/account")
	ids := cl.Do("GET", "/oauth/identities", nil).JSON["identities"].([]any)
	if len(ids) != 1 {
		t.Fatalf("%d identities after a link", len(ids))
	}
	if ev.Count(auth.EventFactorChange, "provider_linked") != 1 {
		t.Error("no factor_change event for the link")
	}
	// The provider now signs in to linda's account.
	other := a.Client(t)
	wantRedirect(t, signInVia(t, other, "test", "/"), "/")
	if me(other) != "linda" {
		t.Fatalf("signed in as %q", me(other))
	}

	// Another user cannot link the same identity.
	bob := a.Client(t)
	bob.Register("bob", pw)
	cb := bob.Do("GET", atProvider(t, bob, startLink(t, bob, "test", "/account")), nil)
	wantRedirect(t, cb, "/account?error=identity_taken")

	// Unlinking: linda has a password, so she may.
	handle := ids[0].(map[string]any)["handle"].(string)
	cl.Want(cl.Do("DELETE", "/oauth/identities/test/"+handle, nil), http.StatusNoContent, "")
	cl.Want(cl.Do("DELETE", "/oauth/identities/test/"+handle, nil), http.StatusNotFound, "")

	// An account made by the provider has no other way in.
	op.User = opUser{Sub: "only-sub", Username: "onlyone"}
	only := a.Client(t)
	wantRedirect(t, signInVia(t, only, "test", "/"), "/")
	h := only.Do("GET", "/oauth/identities", nil).JSON["identities"].([]any)[0].(map[string]any)["handle"].(string)
	only.Want(only.Do("DELETE", "/oauth/identities/test/"+h, nil), http.StatusConflict, "last_sign_in_method")
}

// TestProviderTwoInstances: a sign-in started on one instance finishes
// on the other (the state lives in the shared session store), once.
func TestProviderTwoInstances(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	op := newTestOP(t, clock.Now)
	store, db := apptest.Backends[0].Open(t, clock)
	cfg := func(c *apptest.Config) {
		c.Providers = &oauth.Config{Providers: []oauth.Provider{{Name: "test", Issuer: op.URL(), ClientID: op.clientID, ClientSecret: op.secret}}, SignUp: true,
			BaseURL: "http://localhost:1"}
	}
	one := apptest.NewApp(t, store, db, clock, cfg)
	two := apptest.NewApp(t, store, db, clock, cfg)
	cl := one.Client(t)
	cb := atProvider(t, cl, start(t, cl, "test/start"))
	onTwo := cl.On(two)
	wantRedirect(t, onTwo.Do("GET", cb, nil), "/")
	if me(onTwo) != "ada" {
		t.Fatal("not signed in on the other instance")
	}
	wantRedirect(t, cl.On(one).Do("GET", cb, nil), "/login?error=invalid_state")
}

func TestNewRefuses(t *testing.T) {
	a, op, _ := opApp(t)
	ok := oauth.Provider{Name: "test", Issuer: op.URL(), ClientID: "x"}
	for _, tc := range []struct {
		name string
		cfg  oauth.Config
	}{
		{"no store", oauth.Config{BaseURL: "https://app.example", Providers: []oauth.Provider{ok}}},
		{"plain http", oauth.Config{BaseURL: "http://app.example", Providers: []oauth.Provider{ok}, Store: a.Users}},
		{"no provider", oauth.Config{BaseURL: "https://app.example", Store: a.Users}},
		{"bad name", oauth.Config{BaseURL: "https://app.example", Store: a.Users, Providers: []oauth.Provider{{Name: "Bad Name", Issuer: op.URL(), ClientID: "x"}}}},
		{"two of a name", oauth.Config{BaseURL: "https://app.example", Store: a.Users, Providers: []oauth.Provider{ok, ok}}},
		{"no client", oauth.Config{BaseURL: "https://app.example", Store: a.Users, Providers: []oauth.Provider{{Name: "x", Issuer: op.URL()}}}},
		{"issuer over http", oauth.Config{BaseURL: "https://app.example", Store: a.Users, Providers: []oauth.Provider{{Name: "x", Issuer: "http://idp.example", ClientID: "x"}}}},
		{"neither kind", oauth.Config{BaseURL: "https://app.example", Store: a.Users, Providers: []oauth.Provider{{Name: "x", ClientID: "x"}}}},
	} {
		if _, err := oauth.New(a.Auth, tc.cfg); !errors.Is(err, auth.ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", tc.name, err)
		}
	}
	var _ models.IdentityStore = a.Users
}
