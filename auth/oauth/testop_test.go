package oauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// opUser is who the test provider signs in next.
type opUser struct {
	Sub, Email, Username string
	Verified             bool
}

// testOP is an OpenID Provider (and, at /userinfo, a plain OAuth 2.0
// service) that speaks the protocol for real: discovery, the
// authorization endpoint (which signs in User at once), the token
// endpoint (client secret, single-use codes, PKCE S256), keys, user info.
// A test changes the next ID token's claims (Tamper) or its signing key
// (SignWith) to play a hostile or broken provider.
type testOP struct {
	t        testing.TB
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	secret   string
	now      func() time.Time

	mu       sync.Mutex
	User     opUser
	Tamper   func(claims map[string]any)
	SignWith *rsa.PrivateKey
	codes    map[string]grant
	tokens   map[string]opUser
}

type grant struct {
	user               opUser
	nonce, challenge   string
	redirect, clientID string
}

func newTestOP(t testing.TB, now func() time.Time) *testOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &testOP{t: t, key: key, clientID: "ginauth-test", secret: "client-secret-0123456789", now: now,
		codes: map[string]grant{}, tokens: map[string]opUser{},
		User: opUser{Sub: "sub-1", Email: "ada@example.com", Username: "ada", Verified: true}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /authorize", op.authorize)
	mux.HandleFunc("POST /token", op.token)
	mux.HandleFunc("GET /keys", op.keys)
	mux.HandleFunc("GET /userinfo", op.userinfo)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *testOP) URL() string { return op.srv.URL }

// oauthEndpoint is the provider as a plain OAuth 2.0 service.
func oauthEndpoint(op *testOP) oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: op.URL() + "/authorize", TokenURL: op.URL() + "/token"}
}

func (op *testOP) discovery(w http.ResponseWriter, r *http.Request) {
	u := op.srv.URL
	writeJSON(w, map[string]any{
		"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"jwks_uri": u + "/keys", "userinfo_endpoint": u + "/userinfo",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (op *testOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != op.clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := random(16)
	op.mu.Lock()
	op.codes[code] = grant{user: op.User, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), clientID: q.Get("client_id")}
	op.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

func (op *testOP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != op.clientID || secret != op.secret {
		tokenError(w, "invalid_client")
		return
	}
	op.mu.Lock()
	g, found := op.codes[r.PostForm.Get("code")]
	delete(op.codes, r.PostForm.Get("code")) // a code is good once
	op.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !found, g.redirect != r.PostForm.Get("redirect_uri"):
		tokenError(w, "invalid_grant")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		tokenError(w, "invalid_grant") // PKCE
		return
	}
	now := op.now()
	claims := map[string]any{
		"iss": op.srv.URL, "sub": g.user.Sub, "aud": op.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": g.nonce, "email": g.user.Email, "email_verified": g.user.Verified, "preferred_username": g.user.Username,
	}
	op.mu.Lock()
	tamper, key := op.Tamper, op.SignWith
	op.mu.Unlock()
	if tamper != nil {
		tamper(claims)
	}
	if key == nil {
		key = op.key
	}
	access := random(16)
	op.mu.Lock()
	op.tokens[access] = g.user
	op.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": op.sign(key, claims)})
}

func (op *testOP) sign(key *rsa.PrivateKey, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		op.t.Error(err)
		return ""
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		op.t.Error(err)
		return ""
	}
	s, _ := obj.CompactSerialize()
	return s
}

func (op *testOP) keys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

// userinfo answers as a GitHub-like service: {"id","login","email"}.
func (op *testOP) userinfo(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	u, ok := op.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	op.mu.Unlock()
	if !ok {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	writeJSON(w, map[string]any{"id": u.Sub, "login": u.Username, "email": u.Email, "verified": u.Verified})
}

func tokenError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
