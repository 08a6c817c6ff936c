package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// signIn signs a new browser in as user on e's manager, with a value
// "theme" set before the sign-in, and returns its cookie.
func signIn(t *testing.T, e *env, user string) *http.Cookie {
	t.Helper()
	r := gin.New()
	r.Use(e.m.Middleware())
	r.POST("/in", func(c *gin.Context) {
		if err := session.From(c).Bind(session.Binding{UserID: user, Credential: "fp-" + user}); err != nil {
			t.Error(err)
		}
	})
	c := setCookie(serve(r, "POST", "/in", nil))
	if c == nil {
		t.Fatal("no cookie at sign-in")
	}
	return c
}

// Bind gives a fresh start: a new ID, only the values the configuration
// keeps, the user and credential bound; the ID from before is dead.
func TestBindRegenerates(t *testing.T) {
	e := newEnv(t, 0)
	r := gin.New()
	r.Use(e.m.Middleware())
	r.POST("/anon", func(c *gin.Context) { _ = session.Set(c, "cart", []string{"apple"}) })
	r.POST("/in", func(c *gin.Context) {
		if err := session.From(c).Bind(session.Binding{UserID: "u1", Credential: "fp", Remember: true}); err != nil {
			t.Error(err)
		}
	})
	r.GET("/who", func(c *gin.Context) {
		b, ok := session.From(c).Bound()
		cart, _ := session.Get[[]string](c, "cart")
		c.JSON(http.StatusOK, gin.H{"ok": ok, "user": b.UserID, "cred": b.Credential, "remember": b.Remember, "cart": cart})
	})
	before := setCookie(serve(r, "POST", "/anon", nil))
	w := serve(r, "POST", "/in", before)
	after := setCookie(w)
	if after == nil || after.Value == before.Value || after.MaxAge <= 0 {
		t.Fatalf("sign-in cookie %v (before %v)", after, before)
	}
	if got := serve(r, "GET", "/who", after).Body.String(); got != `{"cart":null,"cred":"fp","ok":true,"remember":true,"user":"u1"}` {
		t.Errorf("after Bind: %s", got)
	}
	if got := serve(r, "GET", "/who", before).Body.String(); !strings.Contains(got, `"ok":false`) || strings.Contains(got, "apple") {
		t.Errorf("the ID from before the sign-in: %s", got)
	}
}

// List marks the request's own session when given the request; Revoke and
// RevokeAll end sessions on the next request, sign the request out when
// they end its own, and answer ErrNotFound for another user's session.
func TestPerUserOperations(t *testing.T) {
	e := newEnv(t, 0)
	first, second := signIn(t, e, "ana"), signIn(t, e, "ana")
	other := signIn(t, e, "ben")
	ctx := context.Background()
	if list, err := e.m.List(ctx, "ana"); err != nil || len(list) != 2 {
		t.Fatalf("List(ana) = %v, %v", list, err)
	}
	r := gin.New()
	r.Use(e.m.Middleware())
	r.GET("/mine", func(c *gin.Context) {
		b, _ := session.From(c).Bound()
		infos, err := e.m.List(c, b.UserID)
		if err != nil {
			t.Error(err)
		}
		n := 0
		for _, in := range infos {
			if in.Current {
				n++
				if in.ID != session.From(c).ID() {
					t.Errorf("the current session's ID %s is not the request's", in.ID)
				}
			}
		}
		c.String(http.StatusOK, "%d of %d current", n, len(infos))
	})
	r.GET("/id", func(c *gin.Context) { c.String(http.StatusOK, session.From(c).ID()) })
	r.DELETE("/:id", func(c *gin.Context) {
		b, _ := session.From(c).Bound()
		if err := e.m.Revoke(c, b.UserID, c.Param("id")); err != nil {
			c.String(http.StatusNotFound, err.Error())
		}
	})
	r.POST("/all", func(c *gin.Context) {
		b, _ := session.From(c).Bound()
		n, err := e.m.RevokeAll(c, b.UserID)
		if err != nil {
			t.Error(err)
		}
		c.String(http.StatusOK, "%d", n)
	})
	if got := serve(r, "GET", "/mine", first).Body.String(); got != "1 of 2 current" {
		t.Errorf("List from a request: %s", got)
	}
	// Another user's session is not found, and lives on.
	bens, _ := e.m.List(ctx, "ben")
	if w := serve(r, "DELETE", "/"+bens[0].ID, first); w.Code != http.StatusNotFound {
		t.Errorf("revoking another user's session: %d", w.Code)
	}
	if err := e.m.Revoke(ctx, "ana", bens[0].ID); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Revoke of another user's session = %v", err)
	}
	if err := e.m.Revoke(ctx, "ana", "not an id"); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Revoke of garbage = %v", err)
	}
	// Revoking one's own current session signs the request out.
	secondID := serve(r, "GET", "/id", second).Body.String()
	w := serve(r, "DELETE", "/"+secondID, second)
	if c := setCookie(w); w.Code != http.StatusOK || c == nil || c.MaxAge >= 0 {
		t.Fatalf("revoking one's own session: %d %s, cookie %v", w.Code, w.Body, c)
	}
	if serve(signedIn(e), "GET", "/", second).Code != http.StatusUnauthorized || serve(signedIn(e), "GET", "/", first).Code != http.StatusOK {
		t.Error("Revoke ended the wrong session")
	}
	// RevokeAll from a request: every one of the user's, this one too;
	// ben's stays.
	if w := serve(r, "POST", "/all", first); w.Body.String() != "1" || setCookie(w) == nil || setCookie(w).MaxAge >= 0 {
		t.Errorf("RevokeAll from the request: %s, cookie %v", w.Body, setCookie(w))
	}
	if serve(signedIn(e), "GET", "/", first).Code != http.StatusUnauthorized || serve(signedIn(e), "GET", "/", other).Code != http.StatusOK {
		t.Error("RevokeAll ended the wrong sessions")
	}
}

// Load and Save serve a handler outside Gin: the same cookie, the same
// session.
func TestLoadAndSaveOutsideGin(t *testing.T) {
	e := newEnv(t, 0)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := e.m.Load(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		var n int
		if _, err := s.Get("n", &n); err != nil {
			t.Error(err)
		}
		if err := s.Set("n", n+1); err != nil {
			t.Error(err)
		}
		b, _ := s.Bound()
		if err := s.Save(w); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(b.UserID))
	})
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(e.cookie)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Body.String() != "mia" {
		t.Fatalf("outside Gin: %d %s", w.Code, w.Body)
	}
	r := gin.New()
	r.Use(e.m.Middleware())
	r.GET("/", func(c *gin.Context) {
		n, _ := session.Get[int](c, "n")
		c.String(http.StatusOK, "%d", n)
	})
	if got := serve(r, "GET", "/", e.cookie).Body.String(); got != "1" {
		t.Errorf("the value Save wrote, read under Middleware: %s", got)
	}
}
