package sessionstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/sessionstore"
)

// A gin-contrib/sessions application keeps its code and gains server-side
// sessions: here in memory; NewRedisStore or NewGORMStore drop in the same
// way.
func ExampleNewGinStore() {
	codec, err := sessionstore.NewCodec([][]byte{[]byte("a-secret-of-at-least-32-bytes....")}, sessionstore.CodecOptions{})
	if err != nil {
		panic(err)
	}
	store := sessionstore.NewMemoryStore(sessionstore.MemoryOptions{})
	defer store.Close()
	gs, err := sessionstore.NewGinStore(store, codec, sessionstore.GinOptions{})
	if err != nil {
		panic(err)
	}

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
		cookie = w.Result().Cookies()[0]
		fmt.Println(w.Body.String())
	}
	// Output:
	// visits: 1
	// visits: 2
	// visits: 3
}

// Revoking every session of a user (logout everywhere) is one call, and one
// batch on every store.
func ExampleUserIndex() {
	store := sessionstore.NewMemoryStore(sessionstore.MemoryOptions{})
	defer store.Close()
	ctx := context.Background()
	for range 3 { // three devices log in
		s := sessionstore.NewSession(time.Now())
		_ = s.SetUser("42", "", false)
		if _, err := s.Commit(ctx, store, time.Now(), sessionstore.DefaultPolicy); err != nil {
			panic(err)
		}
	}
	list, _ := store.List(ctx, "42")
	fmt.Println("sessions:", len(list))
	n, _ := store.DestroyUser(ctx, "42")
	fmt.Println("revoked:", n)
	// Output:
	// sessions: 3
	// revoked: 3
}
