package auth_test

// Usernames and passwords as attackers and honest people type them: the
// account service's rules, seen through the prebuilt routes.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/apptest"
)

func TestHostileCredentials(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Auth.Throttle.Disabled = true })
	a.Client(t).Register("paypal", "the real password")
	tests := []struct {
		name     string
		register bool
		body     any
		status   int
		code     string
	}{
		{"fullwidth look-alike signs in as the same user", false, apptest.Creds("ｐａｙｐａｌ", "the real password"), 200, ""},
		{"upper case too", false, apptest.Creds("PayPal", "the real password"), 200, ""},
		{"Cyrillic look-alike cannot register", true, apptest.Creds("pаypal", "another password"), 400, "bad_request"},
		{"fullwidth look-alike cannot register a second account", true, apptest.Creds("ｐａｙｐａｌ", "another password"), 409, "username_taken"},
		{"empty username", false, apptest.Creds("", "x"), 400, "bad_request"},
		{"empty password", false, apptest.Creds("paypal", ""), 400, "bad_request"},
		{"NUL in password", false, apptest.Creds("paypal", "the real\x00password"), 401, "invalid_credentials"},
		{"invalid UTF-8 by form", false, url.Values{"username": {"pay\xffpal"}, "password": {"x"}}, 303, ""},
		{"register invalid UTF-8 password", true, url.Values{"username": {"newname"}, "password": {"bad\xff password"}}, 303, ""},
		{"very long username at register", true, apptest.Creds(strings.Repeat("a", 100), "a password!"), 400, "bad_request"},
		{"73-byte password at register", true, apptest.Creds("longpw", strings.Repeat("p", 73)), 400, "password_too_long"},
		{"7-character password at register", true, apptest.Creds("shortpw", "1234567"), 400, "weak_password"},
		{"emoji username", true, apptest.Creds("😀", "a password!"), 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/login"
			if tt.register {
				path = "/register"
			}
			cl := a.Client(t)
			r := cl.Do("POST", path, tt.body)
			if r.Status != tt.status || (tt.code != "" && r.Code() != tt.code) {
				t.Errorf("%d %s; want %d %s", r.Status, r.Body, tt.status, tt.code)
			}
		})
	}
}

// The shortest password is counted as typed: one character that NFKC
// expands into eighteen is one character.
func TestPasswordLengthAsTyped(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	cl := a.Client(t)
	cl.Want(cl.Do("POST", "/register", apptest.Creds("zack", "ﷺ")), http.StatusBadRequest, "weak_password")
	cl.Want(cl.Do("POST", "/register", apptest.Creds("zack", "ﷺﷺﷺ")), http.StatusBadRequest, "weak_password")
	cl.Register("zack", "ｆｕｌｌｗｉｄｔｈ") // 9 characters as typed
	cl.Login("zack", "fullwidth")    // the same password once normalized
}
