package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/ginauth/ginauth/internal/testenv"
)

// opUsers are the people of the test's OpenID Provider, found by the
// username its login page asks for.
type opUsers map[string]*storage.User

func (u opUsers) GetUserByID(id string) *storage.User {
	for _, user := range u {
		if user.ID == id {
			return user
		}
	}
	return nil
}

func (u opUsers) GetUserByUsername(name string) *storage.User { return u[name] }

// ExampleClientID names the OP's service client, which the test does not
// use.
func (u opUsers) ExampleClientID() string { return storage.ServiceUserID }

// listen takes a port on the loopback interface: an address known before
// its server is built.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveOn serves h on ln until the test ends.
func serveOn(t *testing.T, ln net.Listener, h http.Handler) {
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
}

// Sign-in with an OpenID Provider in a real browser, against a real one
// in the test's process (zitadel/oidc's example OP: discovery, a login
// page, the authorization code with PKCE, signed ID tokens): the login
// page's button goes to the provider's login page, and back in the app
// the person is signed in, on a new account, at the page they asked for;
// the account page lists the identity; signed out, the same button signs
// in to the same account. Unlinking the account's only way to sign in is
// refused, in words.
func TestBrowserOIDC(t *testing.T) {
	testenv.SkipIfShort(t, "starts Chromium")
	chromium(t)
	start := time.Now()
	defer func() { t.Logf("took %v", time.Since(start).Round(time.Millisecond)) }()

	opLn, appLn := listen(t), listen(t)
	issuer := "http://" + opLn.Addr().String()
	base := fmt.Sprintf("http://localhost:%d", appLn.Addr().(*net.TCPAddr).Port)
	const clientID, clientSecret = "ginauth-example", "example-client-secret"
	users := opUsers{"grace": {ID: "op-user-7", Username: "grace", Password: "op password", Email: "grace@op.example", EmailVerified: true}}
	clients := map[string]*storage.Client{clientID: storage.WebClient(clientID, clientSecret, base+"/oauth/corp/callback")}
	// A nil logger: another would become slog's default, the process's.
	serveOn(t, opLn, exampleop.SetupServer(issuer, storage.NewStorageWithClients(users, clients), nil, false))

	env := map[string]string{
		"DATABASE_URL":   filepath.Join(t.TempDir(), "example.db"),
		"SESSION_STORE":  "memory",
		"SESSION_SECRET": "example-test-secret-0123456789abcdef",
		"BASE_URL":       base,
		"PASSKEYS":       "false",
		"OIDC_PROVIDERS": "name=corp,label=Corp SSO,issuer=" + issuer + ",client_id=" + clientID + ",client_secret=" + clientSecret,
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// The real clock: the provider's ID tokens are checked against it.
	cfg.bcryptCost = testBcryptCost
	a, err := newApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	serveOn(t, appLn, a.handler)

	browser := startChromium(t)
	tab := newTab(t, browser, base, "browser", artifacts(t), false)
	var refused cspReports
	refused.watch(t, tab.ctx)
	defer func() {
		for _, r := range refused.all() {
			t.Errorf("the browser refused what a page asked for: %s", r)
		}
	}()
	signInAtOP := func() {
		t.Helper()
		tab.submit(`main a[href^="/oauth/corp/start"]`)
		ctx, cancel := tab.bounded()
		defer cancel()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := url.Parse(loc); u.Host != opLn.Addr().String() {
			t.Fatalf("the sign-in button led to %s, not to the provider's login page", loc)
		}
		tab.fill(map[string]string{"#username": "grace", "#password": "op password"})
		tab.submit(`button[type=submit]`)
	}

	// A page that needs an account, the login page, the provider's.
	tab.open("/account/sessions")
	tab.wantAt("/login?returnTo=%2Faccount%2Fsessions")
	tab.wantText("#with-provider + .actions", "Sign in with Corp SSO")
	tab.run(chromedp.EmulateViewport(390, 844))
	tab.shot("login-providers-phone")
	tab.run(chromedp.EmulateViewport(1100, 900))
	signInAtOP()
	tab.wantAt("/account/sessions")

	tab.open("/account")
	who := tab.text("#who")
	tab.wantText("#providers ~ .identity", "Corp SSO")
	tab.wantText("#providers ~ .identity", "not since it was linked")
	tab.wantText(`#providers ~ .actions form[action="/oauth/corp/start"] button`, "Link another Corp SSO account")
	tab.shot("account-providers")

	// Its only way to sign in cannot be unlinked.
	tab.submit(`.identity form[action^="/account/providers/corp/"] button`)
	tab.wantAt("/account?error=last_sign_in_method")
	tab.wantText(".notice", "it is the last way you have to sign in")

	// Signed out, the same provider signs in to the same account.
	tab.submit(`header form[action="/logout"] button`)
	tab.wantAt("/login?signedOut=1")
	signInAtOP()
	tab.wantAt("/")
	tab.open("/account")
	if again := tab.text("#who"); again != who {
		t.Errorf("signed in again as %q, first as %q", again, who)
	}
	if used := tab.text("#providers ~ .identity"); strings.Contains(used, "not since it was linked") {
		t.Errorf("the identity's last use is not recorded: %q", used)
	}
	if n := tab.eval(`String(document.querySelectorAll(".identity").length)`); n != "1" {
		t.Errorf("%s identities listed, want 1", n)
	}
	if !strings.Contains(who, "Signed in as") {
		t.Errorf("the account page says %q", who)
	}

	// The account has no password: the page says so, and confirming it is
	// you is a new sign-in with the provider, which comes back.
	tab.wantText("#pw ~ p.help", "Your account has no password")
	tab.open("/reauth?returnTo=%2Faccount%2Fsessions")
	if n := tab.eval(`String(document.querySelectorAll("#password").length)`); n != "0" {
		t.Errorf("the re-authentication page asks an account without a password for one (%s fields)", n)
	}
	tab.wantText("#with-provider ~ .actions", "Sign in again with Corp SSO")
	signInAtOP()
	tab.wantAt("/account/sessions")

	// Linking is a form post answered by a redirect to the provider, which
	// the page's form-action allows; the same identity again changes
	// nothing.
	tab.open("/account")
	tab.submit(`#providers ~ .actions form[action="/oauth/corp/start"] button`)
	tab.fill(map[string]string{"#username": "grace", "#password": "op password"})
	tab.submit(`button[type=submit]`)
	tab.wantAt("/account?linked=corp")
	if n := tab.eval(`String(document.querySelectorAll(".identity").length)`); n != "1" {
		t.Errorf("%s identities listed after linking the same one again, want 1", n)
	}
}
