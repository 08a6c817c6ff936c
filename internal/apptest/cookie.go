package apptest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// PlantedCookie is a correctly signed cookie for an ID the server never
// issued: what an attacker who knows the secret's output format, or a
// leaked cookie of a destroyed session, would present.
func PlantedCookie(t testing.TB) *http.Cookie {
	return &http.Cookie{Name: "sid", Value: ForgeCookie(t, testSecret)}
}

// ForgeCookie returns a session cookie value that secret signs, for a
// signed-in session that no store of the tests holds: it is made by a
// manager of its own, on a store of its own.
func ForgeCookie(t testing.TB, secret []byte) string {
	t.Helper()
	r := throwaway(t, secret)
	r.GET("/", func(c *gin.Context) {
		_ = session.From(c).Bind(session.Binding{UserID: "nobody"})
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			return c.Value
		}
	}
	t.Fatal("no cookie was set")
	return ""
}

// SignedBy reports whether secret signs the cookie value of a signed-in
// session: a manager with that secret alone reads it as a genuine cookie
// of a session that ended, not as garbage.
func SignedBy(t testing.TB, secret []byte, value string) bool {
	t.Helper()
	r := throwaway(t, secret)
	expired := false
	r.GET("/", func(c *gin.Context) { expired = session.From(c).Expired() })
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: value})
	r.ServeHTTP(httptest.NewRecorder(), req)
	return expired
}

// throwaway is a router under a session manager of its own, with secret, on
// a memory store of its own.
func throwaway(t testing.TB, secret []byte) *gin.Engine {
	t.Helper()
	sm, err := session.New(session.Config{Store: memstore.New(memstore.Options{}), Secrets: [][]byte{secret}})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(sm.Middleware())
	return r
}
