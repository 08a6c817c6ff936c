package ginsessions_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/ginsessions"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// A gin-contrib/sessions application keeps its code and gains server-side
// sessions: here in memory; redisstore, gormstore and mongostore drop in the
// same way.
func ExampleNewStore() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := session.New(session.Config{
		Store:   store,
		Secrets: [][]byte{[]byte("a-secret-of-at-least-32-bytes....")},
	})
	if err != nil {
		panic(err)
	}
	gs := ginsessions.NewStore(m)

	r := gin.New()
	r.Use(sessions.Sessions("sid", gs))
	r.GET("/", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("visits").(int) // ints stay ints
		s.Set("visits", n+1)
		if err := s.Save(); err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, "visits: %d", n+1)
	})

	var cookie *http.Cookie
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if cs := w.Result().Cookies(); len(cs) > 0 {
			cookie = cs[0] // as a browser keeps it
		}
		fmt.Println(w.Body.String())
	}
	// Output:
	// visits: 1
	// visits: 2
	// visits: 3
}

// Signing in the gin-contrib way: Regenerate before setting the user, so
// that a session ID planted in the browser before login is worthless after
// it (session fixation).
func ExampleRegenerate() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, _ := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte("a-secret-of-at-least-32-bytes....")}})
	gs := ginsessions.NewStore(m)

	r := gin.New()
	r.Use(sessions.Sessions("sid", gs))
	r.GET("/visit", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("theme", "dark")
		_ = s.Save()
	})
	r.POST("/login", func(c *gin.Context) {
		// ... check the username and password first ...
		s := sessions.Default(c)
		if err := ginsessions.Regenerate(s); err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		s.Set("user", "42")
		if err := s.Save(); err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/whoami", func(c *gin.Context) {
		s := sessions.Default(c)
		c.String(http.StatusOK, "user %v, theme %v", s.Get("user"), s.Get("theme"))
	})
	do := func(method, path string, cookie *http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	planted := do("GET", "/visit", nil).Result().Cookies()[0] // the attacker's session
	login := do("POST", "/login", planted)                    // the victim signs in with it
	mine := login.Result().Cookies()[0]
	fmt.Println("new ID:", mine.Value != planted.Value)
	fmt.Println("victim:", do("GET", "/whoami", mine).Body)
	fmt.Println("attacker:", do("GET", "/whoami", planted).Body)
	// Output:
	// new ID: true
	// victim: user 42, theme dark
	// attacker: user <nil>, theme <nil>
}
