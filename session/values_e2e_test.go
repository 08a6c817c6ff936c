package session_test

// Values in the session: typed, kept under concurrent changes, dropped by
// the login's regeneration.

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/ginauth/ginauth/internal/apptest"
)

func TestTypedValues(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		cl := a.Client(t)
		cl.Want(cl.Do("GET", "/cart", nil), http.StatusOK, "")
		if cl.SessionCookie() != nil {
			t.Error("an anonymous read-only visit got a cookie (saveUninitialized is off)")
		}
		cl.Do("POST", "/cart?item=book", nil)
		cl.Do("POST", "/cart?item=pen", nil)
		r := cl.Do("GET", "/cart", nil)
		cart := r.JSON["cart"].(map[string]any)
		if r.JSON["ok"] != true || cart["n"].(float64) != 2 || len(cart["items"].([]any)) != 2 || cart["at"] != "2026-11-27T12:00:00Z" {
			t.Errorf("cart = %s", r.Body)
		}
		// Values survive login when allow-listed only: the cart does not.
		a.Client(t).Register("frank", "frank's password")
		cl.Login("frank", "frank's password")
		if r := cl.Do("GET", "/cart", nil); r.JSON["ok"] != false {
			t.Errorf("cart survived login regeneration: %s", r.Body)
		}
	})
}

// Concurrent requests on one session that change different values all keep
// their change.
func TestConcurrentChangesKeepEveryValue(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		cl := a.Client(t)
		cl.Register("yann", "yann's password")
		const n = 10
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := cl.Do("POST", fmt.Sprintf("/set?k=k%d&v=v%d", i, i), nil)
				if r.Status != http.StatusNoContent {
					t.Errorf("set %d: %d %s", i, r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if r := cl.Do("GET", fmt.Sprintf("/get?k=k%d", i), nil); r.JSON["v"] != fmt.Sprintf("v%d", i) {
				t.Errorf("value k%d lost: %s", i, r.Body)
			}
		}
		cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	})
}
