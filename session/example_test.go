package session_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// Cart is an application's session value.
type Cart struct {
	Items []string `json:"items"`
}

// A shop with anonymous carts and no accounts at all: a manager, a store,
// and typed values. What goes in as a Cart comes out as a Cart, in every
// store.
func ExampleSet() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	sessions, err := session.New(session.Config{
		Store:   store,
		Secrets: [][]byte{[]byte("a-secret-of-32-bytes-or-more-....")},
	})
	if err != nil {
		panic(err)
	}

	r := gin.New()
	r.Use(sessions.Middleware())
	r.POST("/cart/:item", func(c *gin.Context) {
		cart, _ := session.Get[Cart](c, "cart")
		cart.Items = append(cart.Items, c.Param("item"))
		if err := session.Set(c, "cart", cart); err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.JSON(http.StatusOK, cart) // the session is saved before this goes out
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for _, item := range []string{"apple", "pear"} {
		res, err := client.Post(srv.URL+"/cart/"+item, "", nil)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, strings.TrimSpace(string(body)))
	}
	// Output:
	// 200 {"items":["apple"]}
	// 200 {"items":["apple","pear"]}
}

// New refuses a configuration that cannot be safe, with an error that
// says why; the zero values of everything else are OWASP's advice.
func ExampleNew() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	_, err := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte("hunter2")}})
	fmt.Println(err)
	m, err := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte("a-secret-of-32-bytes-or-more-....")}})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.CookieName(), m.Lifetime().Idle, m.Lifetime().Absolute)
	// Output:
	// session: unsafe configuration: a cookie secret must be at least 32 bytes (secret 1 has 7)
	// sid 30m0s 24h0m0s
}
