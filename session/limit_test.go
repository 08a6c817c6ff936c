package session_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// limited is a manager on a memory store that keeps each user to two
// sessions, over, and a router whose /in signs "ana" in and /who says
// whether the request is signed in.
func limited(t *testing.T, over session.OverLimit) (*session.Manager, *gin.Engine, *fakeclock.Clock) {
	t.Helper()
	clock := fakeclock.New(time.Time{})
	store := memstore.New(memstore.Options{Now: clock.Now, SweepInterval: -1})
	t.Cleanup(func() { _ = store.Close() })
	m, err := session.New(session.Config{
		Store: store, Secrets: [][]byte{[]byte("session-test-secret-0123456789abcd")}, Now: clock.Now,
		MaxSessionsPerUser: 2, OverLimit: over,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(m.Middleware())
	r.POST("/in", func(c *gin.Context) {
		s := session.From(c)
		if err := s.Bind(session.Binding{UserID: "ana"}); err != nil {
			t.Error(err)
		}
		if err := s.Save(c.Writer); err != nil {
			status := http.StatusServiceUnavailable
			if errors.Is(err, sessionstore.ErrTooManySessions) {
				status = http.StatusConflict
			}
			c.String(status, err.Error())
		}
	})
	r.GET("/who", func(c *gin.Context) {
		if _, ok := session.From(c).Bound(); !ok {
			c.Status(http.StatusUnauthorized)
		}
	})
	return m, r, clock
}

// The limit ends the oldest sessions to make room (the default), or
// refuses the new sign-in; either way the user never has more than the
// limit, and a refused sign-in stores nothing and sends no cookie.
func TestMaxSessionsPerUser(t *testing.T) {
	t.Run("EndOldest", func(t *testing.T) {
		m, r, clock := limited(t, session.EndOldest)
		var cookies []*http.Cookie
		for range 3 {
			cookies = append(cookies, setCookie(serve(r, "POST", "/in", nil)))
			clock.Advance(time.Second)
		}
		if got := serve(r, "GET", "/who", cookies[0]).Code; got != http.StatusUnauthorized {
			t.Errorf("the oldest session after a third sign-in: %d", got)
		}
		for _, c := range cookies[1:] {
			if got := serve(r, "GET", "/who", c).Code; got != http.StatusOK {
				t.Errorf("a newer session: %d", got)
			}
		}
		if list, _ := m.List(t.Context(), "ana"); len(list) != 2 {
			t.Errorf("ana has %d sessions", len(list))
		}
	})
	t.Run("Refuse", func(t *testing.T) {
		m, r, _ := limited(t, session.Refuse)
		a, b := setCookie(serve(r, "POST", "/in", nil)), setCookie(serve(r, "POST", "/in", nil))
		w := serve(r, "POST", "/in", nil)
		if w.Code != http.StatusConflict || setCookie(w) != nil {
			t.Fatalf("a third sign-in: %d, cookie %v", w.Code, setCookie(w))
		}
		for _, c := range []*http.Cookie{a, b} {
			if got := serve(r, "GET", "/who", c).Code; got != http.StatusOK {
				t.Errorf("an earlier session after the refusal: %d", got)
			}
		}
		if list, _ := m.List(t.Context(), "ana"); len(list) != 2 {
			t.Errorf("ana has %d sessions", len(list))
		}
	})
}

// Parallel sign-ins of one user never leave more than the limit alive, and
// with Refuse exactly the limit succeed.
func TestMaxSessionsPerUserUnderParallelSignIns(t *testing.T) {
	for _, over := range []session.OverLimit{session.EndOldest, session.Refuse} {
		m, r, _ := limited(t, over)
		const n = 16
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { codes <- serve(r, "POST", "/in", nil).Code })
		}
		wg.Wait()
		close(codes)
		ok := 0
		for c := range codes {
			if c == http.StatusOK {
				ok++
			}
		}
		list, err := m.List(t.Context(), "ana")
		if err != nil || len(list) > 2 {
			t.Fatalf("over %d: %d sessions alive after %d parallel sign-ins (%v)", over, len(list), n, err)
		}
		if over == session.Refuse && ok != 2 {
			t.Errorf("Refuse: %d of %d parallel sign-ins succeeded, want 2", ok, n)
		}
	}
}
