package passkey_test

// Passkeys end to end, over HTTP, with an authenticator in software:
// registration, sign-in with a passkey alone, the second step, the
// re-authentication, removal, and the answers that must be refused.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/passkey"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

const (
	rpID   = "localhost"
	origin = "http://localhost:8080"
	pw     = "a long enough password"
)

// pkApp is an application with passkeys and second factors, on SQLite,
// and its events.
func pkApp(t *testing.T) (*apptest.App, *apptest.Events) {
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	return pkAppOn(t, store, db, clock)
}

func pkAppOn(t *testing.T, store sessionstore.IndexedStore, db *gorm.DB, clock *fakeclock.Clock) (*apptest.App, *apptest.Events) {
	t.Helper()
	ev := &apptest.Events{}
	a := apptest.NewApp(t, store, db, clock, func(c *apptest.Config) {
		c.Auth.SecondFactor = auth.SecondFactor{Keys: [][]byte{[]byte("second-factor-test-key-0123456789abcdef")}}
		c.Auth.OnEvent = ev.Add
		c.Passkeys = &passkey.Config{RPID: rpID, Origins: []string{origin}}
	})
	return a, ev
}

// finish posts a ceremony's answer, with extra fields.
func finish(cl *apptest.Client, path string, cred []byte, extra map[string]any) *apptest.Response {
	body := map[string]any{"credential": json.RawMessage(cred)}
	for k, v := range extra {
		body[k] = v
	}
	return cl.Do("POST", path, body)
}

// register adds a new passkey for the signed-in client and returns it.
func register(t *testing.T, cl *apptest.Client, name string) *softKey {
	t.Helper()
	k := newSoftKey(t, rpID, origin)
	r := cl.Do("POST", "/webauthn/register/begin", nil)
	cl.Want(r, http.StatusOK, "")
	opts := publicKeyOptions(t, r.JSON)
	if sel, _ := opts["authenticatorSelection"].(map[string]any); sel["residentKey"] != "required" || sel["userVerification"] != "required" {
		t.Fatalf("registration options ask for %v", sel)
	}
	r = finish(cl, "/webauthn/register/finish", k.create(t, opts), map[string]any{"name": name})
	cl.Want(r, http.StatusCreated, "")
	if got := r.JSON["passkey"].(map[string]any)["name"]; got != name {
		t.Fatalf("registered as %v, want %q", got, name)
	}
	return k
}

// signIn signs the client in with the passkey alone.
func signIn(t *testing.T, cl *apptest.Client, k *softKey) *apptest.Response {
	t.Helper()
	r := cl.Do("POST", "/webauthn/login/begin", nil)
	cl.Want(r, http.StatusOK, "")
	return finish(cl, "/webauthn/login/finish", k.get(t, publicKeyOptions(t, r.JSON)), nil)
}

// handleOf finds the handle of the signed-in client's passkey by name.
func handleOf(t *testing.T, cl *apptest.Client, name string) string {
	t.Helper()
	for _, k := range cl.Do("GET", "/webauthn/credentials", nil).JSON["passkeys"].([]any) {
		if k := k.(map[string]any); k["name"] == name {
			return k["handle"].(string)
		}
	}
	t.Fatalf("no passkey named %q", name)
	return ""
}

func factors(t *testing.T, a *apptest.App, cl *apptest.Client) []string {
	t.Helper()
	var out []string
	for _, s := range cl.Do("GET", "/sessions", nil).JSON["sessions"].([]any) {
		s := s.(map[string]any)
		if s["current"] == true {
			for _, f := range s["factors"].([]any) {
				out = append(out, f.(map[string]any)["factor"].(string))
			}
		}
	}
	return out
}

func TestPasskeySignIn(t *testing.T) {
	a, ev := pkApp(t)
	owner := a.Client(t)
	owner.Register("pia", pw)
	other := a.Client(t)
	other.Login("pia", pw)

	before := owner.SessionCookie().Value
	k := register(t, owner, "laptop")
	if owner.SessionCookie().Value == before {
		t.Error("adding a passkey kept the session ID")
	}
	other.Want(other.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	if ev.Count(auth.EventFactorChange, "passkey_added") != 1 {
		t.Error("no factor_change event for the new passkey")
	}

	list := owner.Do("GET", "/webauthn/credentials", nil)
	owner.Want(list, http.StatusOK, "")
	keys := list.JSON["passkeys"].([]any)
	if len(keys) != 1 || strings.Contains(string(list.Body), "publicKey") {
		t.Fatalf("GET /webauthn/credentials = %s", list.Body)
	}

	// A passkey alone signs in, as two factors.
	fresh := a.Client(t)
	r := signIn(t, fresh, k)
	fresh.Want(r, http.StatusOK, "")
	if r.JSON["user"].(map[string]any)["username"] != "pia" {
		t.Fatalf("signed in as %s", r.Body)
	}
	fresh.Want(fresh.Do("GET", "/me", nil), http.StatusOK, "")
	if f := factors(t, a, fresh); !slices.Equal(f, []string{session.FactorPasskey}) {
		t.Errorf("factors of a passkey sign-in = %v", f)
	}
	if ev.Count(auth.EventLoginSuccess, session.FactorPasskey) != 1 {
		t.Error("no login_success event with Action passkey")
	}

	// The same answer again: the challenge is spent.
	replayed := a.Client(t)
	b := replayed.Do("POST", "/webauthn/login/begin", nil)
	cred := k.get(t, publicKeyOptions(t, b.JSON))
	replayed.Want(finish(replayed, "/webauthn/login/finish", cred, nil), http.StatusOK, "")
	replayed.Want(finish(replayed, "/webauthn/login/finish", cred, nil), http.StatusBadRequest, "passkey_rejected")
}

// TestPasskeyRefusals: answers an attacker could send, each refused with
// 400 passkey_rejected and nothing signed in.
func TestPasskeyRefusals(t *testing.T) {
	a, ev := pkApp(t)
	owner := a.Client(t)
	owner.Register("quinn", pw)
	k := register(t, owner, "key")

	cases := []struct {
		name string
		lie  func(k *softKey, opts map[string]any)
	}{
		{"another origin", func(k *softKey, _ map[string]any) { k.origin = "https://evil.example" }},
		{"another RP ID", func(k *softKey, _ map[string]any) { k.rpID = "evil.example" }},
		{"another challenge", func(_ *softKey, opts map[string]any) {
			opts["challenge"] = b64.EncodeToString([]byte("a challenge never issued, 32b!!"))
		}},
		{"a create for a get", func(k *softKey, _ map[string]any) { k.typ = "webauthn.create" }},
		{"no user verification", func(k *softKey, _ map[string]any) { k.noUV = true }},
		{"another key with the same ID", func(k *softKey, _ map[string]any) {
			k.priv = newSoftKey(t, rpID, origin).priv
		}},
		{"an unknown passkey", func(k *softKey, _ map[string]any) { k.id = []byte("no such credential id, 32 bytes") }},
		{"an ID longer than WebAuthn allows", func(k *softKey, _ map[string]any) { k.id = make([]byte, 1024) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			liar := *k
			cl := a.Client(t)
			r := cl.Do("POST", "/webauthn/login/begin", nil)
			cl.Want(r, http.StatusOK, "")
			opts := publicKeyOptions(t, r.JSON)
			tc.lie(&liar, opts)
			cl.Want(finish(cl, "/webauthn/login/finish", liar.get(t, opts), nil), http.StatusBadRequest, "passkey_rejected")
			cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "")
			k.counter = liar.counter
		})
	}
	if n := ev.Count(auth.EventLoginFailure, session.FactorPasskey); n != len(cases) {
		t.Errorf("%d login_failure events for %d refused answers", n, len(cases))
	}

	// Malformed bodies: 400, never 500.
	cl := a.Client(t)
	cl.Do("POST", "/webauthn/login/begin", nil)
	for _, body := range []string{`{}`, `{"credential":"x"}`, `{"credential":{}}`, `{"credential":{"id":"AA","type":"public-key","response":{}}}`, `{"credential":{},"extra":1}`, `[]`, `{"credential":{}} {}`} {
		r := cl.Do("POST", "/webauthn/login/finish", body, "Content-Type", "application/json")
		if r.Status != http.StatusBadRequest {
			t.Errorf("finish with %s = %d %s, want 400", body, r.Status, r.Body)
		}
	}
	// Without a ceremony begun.
	cl.Want(finish(a.Client(t), "/webauthn/login/finish", k.get(t, map[string]any{"challenge": "AAAA"}), nil), http.StatusBadRequest, "passkey_rejected")
	// An oversized answer.
	huge := `{"credential":{"id":"` + strings.Repeat("A", 70<<10) + `"}}`
	cl.Want(cl.Do("POST", "/webauthn/login/finish", huge, "Content-Type", "application/json"), http.StatusRequestEntityTooLarge, "")
}

// TestPasskeyChallengeOnce: a challenge serves one answer, whatever comes
// of it: a refused answer spends it too, and so does a finish that comes
// too late.
func TestPasskeyChallengeOnce(t *testing.T) {
	a, _ := pkApp(t)
	owner := a.Client(t)
	owner.Register("otto", pw)
	k := register(t, owner, "key")

	cl := a.Client(t)
	r := cl.Do("POST", "/webauthn/login/begin", nil)
	opts := publicKeyOptions(t, r.JSON)
	liar := *k
	liar.origin = "https://evil.example"
	cl.Want(finish(cl, "/webauthn/login/finish", liar.get(t, opts), nil), http.StatusBadRequest, "passkey_rejected")
	k.counter = liar.counter
	cl.Want(finish(cl, "/webauthn/login/finish", k.get(t, opts), nil), http.StatusBadRequest, "passkey_rejected")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "")
}

// TestPasskeyExpiry: a ceremony finished after ChallengeTTL is refused,
// by the injected clock.
func TestPasskeyExpiry(t *testing.T) {
	a, _ := pkApp(t)
	owner := a.Client(t)
	owner.Register("pat", pw)
	k := register(t, owner, "key")

	cl := a.Client(t)
	r := cl.Do("POST", "/webauthn/login/begin", nil)
	opts := publicKeyOptions(t, r.JSON)
	a.Clock.Advance(5*time.Minute + time.Second)
	cl.Want(finish(cl, "/webauthn/login/finish", k.get(t, opts), nil), http.StatusBadRequest, "passkey_rejected")

	r = cl.Do("POST", "/webauthn/login/begin", nil)
	a.Clock.Advance(5 * time.Minute)
	cl.Want(finish(cl, "/webauthn/login/finish", k.get(t, publicKeyOptions(t, r.JSON)), nil), http.StatusOK, "")
}

// TestPasskeyCounter: an authenticator whose counter goes back is a clone:
// refused, and reported.
func TestPasskeyCounter(t *testing.T) {
	a, ev := pkApp(t)
	owner := a.Client(t)
	owner.Register("ravi", pw)
	k := register(t, owner, "key")
	k.counter = 10
	a.Client(t).Want(signIn(t, a.Client(t), k), http.StatusOK, "")

	clone := *k
	clone.counter = 3 // its next answer says 4, after 11
	cl := a.Client(t)
	cl.Want(signIn(t, cl, &clone), http.StatusBadRequest, "passkey_rejected")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	if ev.Count(auth.EventPasskeyClone, "") != 1 {
		t.Error("no passkey_clone event")
	}
	// The original goes on.
	a.Client(t).Want(signIn(t, a.Client(t), k), http.StatusOK, "")
}

// TestPasskeyParallelFinish: one ceremony, finished by many requests at
// once with the same session: one signs in.
func TestPasskeyParallelFinish(t *testing.T) {
	a, _ := pkApp(t)
	owner := a.Client(t)
	owner.Register("sol", pw)
	k := register(t, owner, "key")

	cl := a.Client(t)
	r := cl.Do("POST", "/webauthn/login/begin", nil)
	cred := k.get(t, publicKeyOptions(t, r.JSON))
	cookie := cl.SessionCookie()
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a.WithCookie(t, cookie)
			if r := finish(c, "/webauthn/login/finish", cred, nil); r.Status == http.StatusOK {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d of %d parallel finishes of one ceremony signed in, want 1", ok, n)
	}
}

func totpCode(t *testing.T, a *apptest.App, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, a.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPasskeySecondStep: a user with an authenticator app and a passkey
// completes a password sign-in with the passkey; another user's passkey
// does not.
func TestPasskeySecondStep(t *testing.T) {
	a, _ := pkApp(t)
	owner := a.Client(t)
	owner.Register("tara", pw)
	r := owner.Do("POST", "/2fa/totp", nil)
	owner.Want(r, http.StatusOK, "")
	owner.Want(owner.Do("POST", "/2fa/totp/confirm", map[string]any{"code": totpCode(t, a, r.JSON["secret"].(string))}), http.StatusOK, "")
	k := register(t, owner, "key")

	stranger := a.Client(t)
	stranger.Register("uma", pw)
	theirs := register(t, stranger, "theirs")

	cl := a.Client(t)
	r = cl.Do("POST", "/login", apptest.Creds("tara", pw))
	cl.Want(r, http.StatusOK, "")
	if r.JSON["mfaRequired"] != true || !slices.Contains(r.JSON["methods"].([]any), any("passkey")) {
		t.Fatalf("POST /login = %s, want passkey among the methods", r.Body)
	}
	// Another user's passkey does not complete it.
	b := cl.Do("POST", "/webauthn/login/begin", nil)
	cl.Want(b, http.StatusOK, "")
	opts := publicKeyOptions(t, b.JSON)
	if allow, _ := opts["allowCredentials"].([]any); len(allow) != 1 {
		t.Fatalf("second step allows %v, want tara's one passkey", opts["allowCredentials"])
	}
	cl.Want(finish(cl, "/webauthn/login/finish", theirs.get(t, opts), nil), http.StatusBadRequest, "passkey_rejected")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	// Hers does.
	b = cl.Do("POST", "/webauthn/login/begin", nil)
	r = finish(cl, "/webauthn/login/finish", k.get(t, publicKeyOptions(t, b.JSON)), nil)
	cl.Want(r, http.StatusOK, "")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	if f := factors(t, a, cl); !slices.Equal(f, []string{session.FactorPassword, session.FactorPasskey}) {
		t.Errorf("factors = %v, want password and passkey", f)
	}
}

// TestPasskeyReauth: a passkey renews a signed-in session's
// authentication, under a new ID; removing one asks for it, and ends the
// other sessions.
func TestPasskeyReauth(t *testing.T) {
	a, _ := pkApp(t)
	owner := a.Client(t)
	owner.Register("vic", pw)
	k := register(t, owner, "key")
	spare := register(t, owner, "spare")
	other := a.Client(t)
	other.Want(signIn(t, other, spare), http.StatusOK, "")

	a.Clock.Advance(auth.DefaultReauthWindow + time.Minute)
	owner.Want(owner.Do("POST", "/sudo", nil), http.StatusForbidden, "reauth_required")
	handle := handleOf(t, owner, "spare")
	owner.Want(owner.Do("DELETE", "/webauthn/credentials/"+handle, nil), http.StatusForbidden, "reauth_required")
	owner.Want(owner.Do("POST", "/webauthn/register/begin", nil), http.StatusForbidden, "reauth_required")

	before := owner.SessionCookie().Value
	b := owner.Do("POST", "/webauthn/login/begin", nil)
	owner.Want(b, http.StatusOK, "")
	owner.Want(finish(owner, "/webauthn/login/finish", k.get(t, publicKeyOptions(t, b.JSON)), nil), http.StatusOK, "")
	if owner.SessionCookie().Value == before {
		t.Error("a re-authentication kept the session ID")
	}
	owner.Want(owner.Do("POST", "/sudo", nil), http.StatusNoContent, "")

	// Names, and removal.
	owner.Want(owner.Do("PATCH", "/webauthn/credentials/"+handle, map[string]any{"name": "old phone"}), http.StatusNoContent, "")
	if handleOf(t, owner, "old phone") != handle {
		t.Error("the rename did not take")
	}
	owner.Want(owner.Do("PATCH", "/webauthn/credentials/"+handle, map[string]any{"name": strings.Repeat("x", 65)}), http.StatusBadRequest, "")
	// 64 characters of two bytes each: a name the routes accept, which the
	// store keeps.
	owner.Want(owner.Do("PATCH", "/webauthn/credentials/"+handle, map[string]any{"name": strings.Repeat("é", 64)}), http.StatusNoContent, "")
	owner.Want(owner.Do("PATCH", "/webauthn/credentials/"+handle, map[string]any{"name": "old phone"}), http.StatusNoContent, "")
	owner.Want(owner.Do("DELETE", "/webauthn/credentials/AAAA", nil), http.StatusNotFound, "not_found")
	owner.Want(owner.Do("DELETE", "/webauthn/credentials/"+strings.Repeat("A", 1400), nil), http.StatusNotFound, "not_found")
	owner.Want(owner.Do("PATCH", "/webauthn/credentials/"+strings.Repeat("A", 1400), map[string]any{"name": "x"}), http.StatusNotFound, "not_found")
	owner.Want(owner.Do("DELETE", "/webauthn/credentials/"+handle, nil), http.StatusNoContent, "")
	other.Want(other.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	if n := len(owner.Do("GET", "/webauthn/credentials", nil).JSON["passkeys"].([]any)); n != 1 {
		t.Errorf("%d passkeys after removing one of 2", n)
	}
	cl := a.Client(t)
	cl.Want(signIn(t, cl, spare), http.StatusBadRequest, "passkey_rejected")

	// Another user cannot remove or rename it.
	mallory := a.Client(t)
	mallory.Register("mallory", pw)
	kh := handleOf(t, owner, "key")
	mallory.Want(mallory.Do("DELETE", "/webauthn/credentials/"+kh, nil), http.StatusNotFound, "not_found")
	mallory.Want(mallory.Do("PATCH", "/webauthn/credentials/"+kh, map[string]any{"name": "mine"}), http.StatusNotFound, "not_found")
	a.Client(t).Want(signIn(t, a.Client(t), k), http.StatusOK, "")
}

// TestPasskeyTwoInstances: a passkey registered on one instance signs in
// on the other, and a spent counter is spent on both.
func TestPasskeyTwoInstances(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	one, _ := pkAppOn(t, store, db, clock)
	two, _ := pkAppOn(t, store, db, clock)
	owner := one.Client(t)
	owner.Register("wes", pw)
	k := register(t, owner, "key")

	cl := two.Client(t)
	cl.Want(signIn(t, cl, k), http.StatusOK, "")
	clone := *k
	clone.counter = 0
	c1 := one.Client(t)
	c1.Want(signIn(t, c1, &clone), http.StatusBadRequest, "passkey_rejected")
}

func TestNewRefuses(t *testing.T) {
	a, _ := pkApp(t)
	for _, tc := range []struct {
		rpID    string
		origins []string
	}{
		{"", []string{"https://example.com"}},
		{"127.0.0.1", []string{"http://127.0.0.1:8080"}},
		{"example.com", nil},
		{"example.com", []string{"https://example.org"}},
		{"app.example.com", []string{"https://example.com"}},
		{"example.com", []string{"http://example.com"}},
		{"example.com", []string{"https://example.com/path"}},
		{"Example.com", []string{"https://example.com"}},
		{"example.com:443", []string{"https://example.com"}},
	} {
		_, err := passkey.New(a.Auth, passkey.Config{RPID: tc.rpID, Origins: tc.origins, Store: a.Users})
		if err == nil {
			t.Errorf("New accepted RPID %q with origins %v", tc.rpID, tc.origins)
		}
	}
	for _, tc := range []struct {
		rpID    string
		origins []string
	}{
		{"example.com", []string{"https://example.com", "https://app.example.com:8443"}},
		{"localhost", []string{"http://localhost:8080"}},
	} {
		if _, err := passkey.New(a.Auth, passkey.Config{RPID: tc.rpID, Origins: tc.origins, Store: a.Users}); err != nil {
			t.Errorf("New refused RPID %q with origins %v: %v", tc.rpID, tc.origins, err)
		}
	}
}
