package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// The budget of an authenticated read-only request inside the touch
// interval on Redis: exactly one command (the load), no write.
func TestRedisCommandsPerRequest(t *testing.T) {
	c, prefix := redisClient(t)
	counter := &testenv.CommandCounter{}
	c.AddHook(counter)
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	a := newApp(t, store, sqliteDB(t), clock)
	cl := a.client(t)
	cl.register("nina", "nina's password")
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	// One touch, so that the server has the touch script cached whatever ran
	// before: what is counted below is the steady state.
	clock.Advance(2 * time.Minute)
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")

	counter.Take()
	clock.Advance(10 * time.Second)
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	if got := counter.Take(); strings.Join(got, " ") != "HGETALL" {
		t.Errorf("a read-only request inside the touch interval sent %v; want [HGETALL]", got)
	}
	clock.Advance(2 * time.Minute)
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	if got := counter.Take(); strings.Join(got, " ") != "HGETALL EVALSHA" {
		t.Errorf("a read-only request after the touch interval sent %v; want [HGETALL EVALSHA]", got)
	}
}
