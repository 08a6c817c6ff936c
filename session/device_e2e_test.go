package session_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/apptest"
)

// A device cookie gives a fresh budget only when this server signed it for
// the account: once the account is locked, neither a made-up device cookie
// nor the one the attacker's own account got lets the attacker sign in, or
// every new cookie would be a new budget of guesses.
func TestForeignDeviceCookiesGetNoBudget(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.TrustedProxies = []string{"127.0.0.1"} })
	a.Client(t).Register("vera", "vera's password")
	attacker := a.Client(t)
	attacker.Register("mallory", "mallory's password")
	attacker.Do("POST", "/logout", nil)
	attacker.Login("mallory", "mallory's password") // a device cookie signed for mallory
	attacker.Do("POST", "/logout", nil)
	var own *http.Cookie
	u, _ := url.Parse(a.Server.URL)
	for _, c := range attacker.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "-device") {
			own = c
		}
	}
	if own == nil {
		t.Fatal("no device cookie after signing in")
	}
	from := []string{"X-Forwarded-For", "203.0.113.66"}
	for range 5 {
		attacker.Want(attacker.Do("POST", "/login", apptest.Creds("vera", "guess guess"), from...), http.StatusUnauthorized, "invalid_credentials")
	}
	madeUp := base64.RawURLEncoding.EncodeToString(make([]byte, 32)) // a nonce and a MAC of zeros
	for _, value := range []string{own.Value, madeUp} {
		cl := a.Client(t)
		r := cl.Do("POST", "/login", apptest.Creds("vera", "vera's password"), append(from, "Cookie", own.Name+"="+value)...)
		cl.Want(r, http.StatusTooManyRequests, "too_many_attempts")
	}
}
