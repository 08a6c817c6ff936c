package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The pages of providers, without reaching one: the buttons of the login
// and register pages (plain links that come back to the page asked for),
// the codes of the provider routes' redirects in words, and nothing of
// them, routes included, when no provider is configured.
func TestProviderPages(t *testing.T) {
	corp := "name=corp,label=Corp SSO,issuer=https://login.corp.example,client_id=app,client_secret=secret"
	_, srv, _ := testApp(t, map[string]string{"OIDC_PROVIDERS": corp})
	b := newBrowser(t, srv)
	page, _ := b.get("/login?returnTo=" + url.QueryEscape("/account/sessions"))
	if !strings.Contains(page, `href="/oauth/corp/start?returnTo=%2Faccount%2Fsessions">Sign in with Corp SSO</a>`) {
		t.Errorf("the login page's button:\n%s", page)
	}
	if page, _ := b.get("/register"); !strings.Contains(page, `href="/oauth/corp/start">Sign in with Corp SSO</a>`) {
		t.Errorf("the register page's button:\n%s", page)
	}
	for code, want := range map[string]string{
		"invalid_state":        "not started in this browser",
		"provider_refused":     "The sign-in with Corp SSO did not go through",
		"provider_unavailable": "We cannot reach Corp SSO right now",
		"no_account":           "No account here is linked to that one at Corp SSO",
		"link_required":        "An account with that email exists: sign in with your password, then link Corp SSO from your account page.",
		"identity_taken":       "linked to another account here already",
		"not_found":            "There is no such way to sign in",
	} {
		if page, _ := b.get("/login?error=" + code); !strings.Contains(page, want) {
			t.Errorf("/login?error=%s does not say %q", code, want)
		}
	}
	b.post("/register", url.Values{"username": {"uma"}, "password": {"uma's password"}})
	page, _ = b.get("/account?linked=" + url.QueryEscape("call 555"))
	switch {
	case strings.Contains(page, "555"):
		t.Error("the account page repeats the address's provider name")
	case !strings.Contains(page, "Sign-in providers") || !strings.Contains(page, "None linked yet") ||
		!strings.Contains(page, `<form method="post" action="/oauth/corp/start" class="inline"><input type="hidden" name="link" value="1"><input type="hidden" name="returnTo" value="/account?linked=corp"><button type="submit" class="secondary">Link Corp SSO</button></form>`):
		t.Errorf("the account page's providers:\n%s", page)
	}
	if page, _ := b.get("/account?error=last_sign_in_method"); !strings.Contains(page, "it is the last way you have to sign in") {
		t.Error("last_sign_in_method is not said in words")
	}
	if _, at := b.post("/account/providers/corp/bm8/unlink", nil); at != "/account?error=not_found" {
		t.Errorf("unlinking an identity the user lacks: at %s", at)
	}

	// Sign-up off: the register page offers no provider.
	_, srv, _ = testApp(t, map[string]string{"OIDC_PROVIDERS": corp, "OAUTH_SIGNUP": "false"})
	if page, _ := newBrowser(t, srv).get("/register"); strings.Contains(page, "/oauth/corp/start") {
		t.Error("the register page offers a provider with OAUTH_SIGNUP=false")
	}

	// None configured: no button, no route.
	_, srv, _ = testApp(t, nil)
	b = newBrowser(t, srv)
	if page, _ := b.get("/login"); strings.Contains(page, "/oauth/") {
		t.Error("the login page offers a provider with none configured")
	}
	res, err := http.Get(srv.URL + "/oauth/corp/start")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /oauth/corp/start with no provider: %d", res.StatusCode)
	}
}
