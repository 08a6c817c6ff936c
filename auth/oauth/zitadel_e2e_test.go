package oauth_test

// Sign-in end to end against a certified OpenID Provider implementation,
// zitadel/oidc's example OP, run in process: its authorization endpoint,
// its own login page (username and password, driven here as a browser
// would), its token endpoint (client secret, single-use codes, PKCE) and
// its signed ID tokens. testop_test.go plays hostile providers; this one
// checks that the package and a real implementation agree on the
// protocol.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zop "github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"

	"github.com/ginauth/ginauth/auth/oauth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/models"
)

// zitadelUsers are the users the OP knows, by ID (the ID token's subject).
type zitadelUsers map[string]*storage.User

func (u zitadelUsers) GetUserByID(id string) *storage.User { return u[id] }

func (u zitadelUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}

func (zitadelUsers) ExampleClientID() string { return "service" }

// claimsStorage is the example storage, except that the client
// claimsClient has the profile and email claims put in its ID tokens (the
// example's web client has them only at the user-info endpoint, as the
// specification says when an access token is issued too).
type claimsStorage struct{ *storage.Storage }

const claimsClient = "ginauth-claims"

func (s claimsStorage) GetClientByClientID(ctx context.Context, id string) (zop.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || id != claimsClient {
		return c, err
	}
	return assertClaims{c}, nil
}

type assertClaims struct{ zop.Client }

func (assertClaims) IDTokenUserinfoClaimsAssertion() bool { return true }

// zitadelOP is the example OP on its own server.
type zitadelOP struct {
	URL    string
	host   string
	secret string
}

// zitadelApp is an application with the OP as "zitadel" (its example web
// client) and "zitadel-claims" (claims in the ID token, trusted for
// email), sign-up on. The clock is the real time at the start: the OP
// stamps its tokens with the real time.
func zitadelApp(t *testing.T) (*apptest.App, *zitadelOP) {
	t.Helper()
	users := zitadelUsers{
		"zid-ada":   {ID: "zid-ada", Username: "ada", Password: "ada's password", Email: "ada@example.com", EmailVerified: true},
		"zid-grace": {ID: "zid-grace", Username: "grace", Password: "grace's password", Email: "grace@example.com", EmailVerified: true},
		"zid-linus": {ID: "zid-linus", Username: "Linus.T", Password: "linus's password", Email: "linus@example.com", EmailVerified: true},
	}
	clients := map[string]*storage.Client{}
	st := claimsStorage{storage.NewStorageWithClients(users, clients)}
	srv := httptest.NewUnstartedServer(nil)
	op := &zitadelOP{URL: "http://" + srv.Listener.Addr().String(), host: srv.Listener.Addr().String(), secret: "zitadel-client-secret-0123456789"}
	// No logger: SetupServer would make it the process's default.
	srv.Config.Handler = exampleop.SetupServer(op.URL, st, nil, false)
	srv.Start()
	t.Cleanup(srv.Close)

	clock := fakeclock.New(time.Now())
	store, db := apptest.Backends[0].Open(t, clock)
	a := apptest.NewApp(t, store, db, clock, func(c *apptest.Config) {
		c.Providers = &oauth.Config{
			Providers: []oauth.Provider{
				{Name: "zitadel", Issuer: op.URL, ClientID: "ginauth-web", ClientSecret: op.secret},
				{Name: "zitadel-claims", Issuer: op.URL, ClientID: claimsClient, ClientSecret: op.secret, TrustEmail: true},
			},
			SignUp: true,
		}
	})
	// The redirect URIs are the app's, known once it listens; the OP
	// reads its clients at the first request, after this.
	clients["ginauth-web"] = storage.WebClient("ginauth-web", op.secret, a.Server.URL+"/oauth/zitadel/callback")
	clients[claimsClient] = storage.WebClient(claimsClient, op.secret, a.Server.URL+"/oauth/zitadel-claims/callback")
	return a, op
}

// page is an answer of the OP to the browser.
type page struct {
	status int
	url    *url.URL
	body   string
}

// visit sends the browser to target at the OP (a form when form is not
// nil) and follows the OP's redirects; it returns the page the OP shows,
// or, when the OP sends the browser elsewhere, that address as page.url
// with status 0.
func (op *zitadelOP) visit(t *testing.T, cl *apptest.Client, target string, form url.Values) page {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if u.Host != op.host {
			return page{url: u}
		}
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		if form != nil {
			req, _ = http.NewRequest(http.MethodPost, u.String(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			form = nil
		}
		res, err := cl.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode < 300 || res.StatusCode >= 400 {
			return page{status: res.StatusCode, url: u, body: string(body)}
		}
		if u, err = u.Parse(res.Header.Get("Location")); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("the OP redirects without end, last to %s", u)
	return page{}
}

var (
	formAction = regexp.MustCompile(`<form method="POST" action="([^"]+)"`)
	formID     = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]*)">`)
)

// login fills the OP's login page with a username and password, and
// returns what the OP does next.
func (op *zitadelOP) login(t *testing.T, cl *apptest.Client, p page, username, password string) page {
	t.Helper()
	action, id := formAction.FindStringSubmatch(p.body), formID.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || action == nil || id == nil || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("no login form at %s (%d): %.300s", p.url, p.status, p.body)
	}
	to, err := p.url.Parse(html.UnescapeString(action[1]))
	if err != nil {
		t.Fatal(err)
	}
	return op.visit(t, cl, to.String(), url.Values{"id": {html.UnescapeString(id[1])}, "username": {username}, "password": {password}})
}

// toCallback checks that the OP sent the browser to the app's callback
// of the provider, and returns its path and query.
func toCallback(t *testing.T, a *apptest.App, p page, name string) string {
	t.Helper()
	if p.status != 0 || p.url.Scheme+"://"+p.url.Host != a.Server.URL || p.url.Path != "/oauth/"+name+"/callback" {
		t.Fatalf("the OP did not send the browser to the callback: %d at %s: %.300s", p.status, p.url, p.body)
	}
	return p.url.RequestURI()
}

// signIn runs a whole sign-in at the OP as username (tamper, when not
// nil, changes the authorization request on its way); it returns
// the callback's path and query, not yet visited.
func (op *zitadelOP) signIn(t *testing.T, a *apptest.App, cl *apptest.Client, name, username, password string, tamper func(url.Values)) string {
	t.Helper()
	auth, err := url.Parse(start(t, cl, name+"/start?returnTo=%2Fprivate"))
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		q := auth.Query()
		tamper(q)
		auth.RawQuery = q.Encode()
	}
	return toCallback(t, a, op.login(t, cl, op.visit(t, cl, auth.String(), nil), username, password), name)
}

func TestZitadel(t *testing.T) {
	a, op := zitadelApp(t)
	signIn := func(t *testing.T, cl *apptest.Client, username, password string) *apptest.Response {
		t.Helper()
		return cl.Do("GET", op.signIn(t, a, cl, "zitadel", username, password, nil), nil)
	}

	t.Run("authorization request", func(t *testing.T) {
		cl := a.Client(t)
		auth, err := url.Parse(start(t, cl, "zitadel/start"))
		if err != nil {
			t.Fatal(err)
		}
		q := auth.Query()
		if auth.Scheme+"://"+auth.Host != op.URL || auth.Path != "/auth" {
			t.Errorf("sent to %s, not the authorization endpoint of the OP's discovery (%s/auth)", auth, op.URL)
		}
		for k, want := range map[string]string{
			"response_type": "code", "client_id": "ginauth-web", "code_challenge_method": "S256",
			"redirect_uri": a.Server.URL + "/oauth/zitadel/callback", "scope": "openid email profile",
		} {
			if q.Get(k) != want {
				t.Errorf("%s = %q, want %q", k, q.Get(k), want)
			}
		}
		// 256 bits each, base64url: a SHA-256 challenge, a state, a nonce.
		for _, k := range []string{"code_challenge", "state", "nonce"} {
			if b, err := base64.RawURLEncoding.DecodeString(q.Get(k)); err != nil || len(b) != 32 {
				t.Errorf("%s = %q, want 32 bytes in base64url", k, q.Get(k))
			}
		}
		if q.Get("state") == q.Get("nonce") {
			t.Error("the state is the nonce")
		}
	})

	var adaID string
	t.Run("sign-up then sign-in by subject", func(t *testing.T) {
		cl := a.Client(t)
		wantRedirect(t, signIn(t, cl, "ada", "ada's password"), "/private")
		// The example's web client gets no profile or email claims in its
		// ID token: they come from the user-info endpoint.
		if me(cl) != "ada" {
			t.Fatalf("signed up as %q, want ada", me(cl))
		}
		adaID = a.UserID(t, "ada")
		ids := cl.Do("GET", "/oauth/identities", nil)
		cl.Want(ids, http.StatusOK, "")
		if list := ids.JSON["identities"].([]any); len(list) != 1 || list[0].(map[string]any)["provider"] != "zitadel" {
			t.Fatalf("identities = %s", ids.Body)
		}

		again := a.Client(t)
		wantRedirect(t, signIn(t, again, "ada", "ada's password"), "/private")
		if me(again) != "ada" || a.UserID(t, "ada") != adaID {
			t.Fatalf("the second sign-in is %q, not the account made at the first", me(again))
		}
		// Another subject at the same OP is another account.
		grace := a.Client(t)
		wantRedirect(t, signIn(t, grace, "grace", "grace's password"), "/private")
		if me(grace) != "grace" {
			t.Fatalf("grace signed in as %q, want a new account grace", me(grace))
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		cl := a.Client(t)
		auth := start(t, cl, "zitadel/start?returnTo=%2Fprivate")
		login := op.visit(t, cl, auth, nil)
		p := op.login(t, cl, login, "ada", "not ada's password")
		if p.status != http.StatusOK || p.url.Host != op.host || !strings.Contains(p.body, "username or password wrong") {
			t.Fatalf("a wrong password: %d at %s: %.300s", p.status, p.url, p.body)
		}
		if me(cl) != "" {
			t.Fatal("signed in with a wrong password")
		}
		// The same sign-in goes on with the right one.
		wantRedirect(t, cl.Do("GET", toCallback(t, a, op.login(t, cl, p, "ada", "ada's password"), "zitadel"), nil), "/private")
		if me(cl) != "ada" {
			t.Fatalf("signed in as %q after the right password", me(cl))
		}
	})

	t.Run("callback replay", func(t *testing.T) {
		cl := a.Client(t)
		cb := op.signIn(t, a, cl, "zitadel", "ada", "ada's password", nil)
		wantRedirect(t, cl.Do("GET", cb, nil), "/private")
		wantRedirect(t, cl.Do("GET", cb, nil), "/login?error=invalid_state")
		other := a.Client(t)
		wantRedirect(t, other.Do("GET", cb, nil), "/login?error=invalid_state")
		if me(other) != "" {
			t.Fatal("a replayed callback signed another browser in")
		}

		// The code, under a state of the thief's own: the OP refuses it
		// (a code is good once).
		thief := a.Client(t)
		fresh, _ := url.Parse(op.signIn(t, a, thief, "zitadel", "grace", "grace's password", nil))
		used, _ := url.Parse(cb)
		q := fresh.Query()
		q.Set("code", used.Query().Get("code"))
		wantRedirect(t, thief.Do("GET", fresh.Path+"?"+q.Encode(), nil), "/login?error=provider_refused")
		if me(thief) != "" {
			t.Fatal("a used code signed in")
		}
	})

	// The OP checks the app's code verifier against the challenge it was
	// given: a challenge of another verifier, or none, fails the exchange.
	t.Run("PKCE", func(t *testing.T) {
		other := sha256.Sum256([]byte(oauth2.GenerateVerifier()))
		tamper := []func(url.Values){
			func(q url.Values) { q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(other[:])) },
			func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
		}
		for i, name := range []string{"another challenge", "no challenge"} {
			cl := a.Client(t)
			r := cl.Do("GET", op.signIn(t, a, cl, "zitadel", "ada", "ada's password", tamper[i]), nil)
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?error=provider_refused") || me(cl) != "" {
				t.Errorf("%s: got %d to %q, want the code refused", name, r.Status, r.Header.Get("Location"))
			}
		}
	})

	// The OP puts the authorization request's nonce in the ID token; the
	// app refuses a token without this sign-in's.
	t.Run("nonce", func(t *testing.T) {
		tamper := []func(url.Values){
			func(q url.Values) { q.Set("nonce", "not-this-sign-in") },
			func(q url.Values) { q.Del("nonce") },
		}
		for i, name := range []string{"another nonce", "no nonce"} {
			cl := a.Client(t)
			r := cl.Do("GET", op.signIn(t, a, cl, "zitadel", "ada", "ada's password", tamper[i]), nil)
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?error=provider_refused") || me(cl) != "" {
				t.Errorf("%s: got %d to %q, want the ID token refused", name, r.Status, r.Header.Get("Location"))
			}
		}
	})

	// With the claims in the ID token: the username suggested, the email
	// the OP says is verified kept verified (the provider is trusted).
	t.Run("claims", func(t *testing.T) {
		cl := a.Client(t)
		wantRedirect(t, cl.Do("GET", op.signIn(t, a, cl, "zitadel-claims", "Linus.T", "linus's password", nil), nil), "/private")
		if me(cl) != "linus.t" {
			t.Fatalf("signed up as %q, want linus.t", me(cl))
		}
		u, err := a.Users.FindByUsername(t.Context(), "linus.t")
		if err != nil {
			t.Fatal(err)
		}
		if eo := models.EmailOwner(u); eo.AuthEmail() != "linus@example.com" || !eo.AuthEmailVerified() {
			t.Fatalf("email %q verified %v", eo.AuthEmail(), eo.AuthEmailVerified())
		}
	})
}
