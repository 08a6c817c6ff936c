package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// The Redis budget of what the routes do, in commands and round trips:
// an authenticated read-only request inside the touch interval sends one
// command (the load) and writes nothing; a login is at most 2 round trips
// and 4 commands (the session's SET, and ZADD and two PEXPIREAT on its
// user's index), one more over an anonymous session; a logout-all of many sessions is 2 round trips (the
// index, then one pipeline of DELs naming up to 500 keys each).
func TestRedisCommandsPerRequest(t *testing.T) {
	c, prefix := testenv.RedisClient(t)
	counter := &testenv.CommandCounter{}
	c.AddHook(counter)
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	a := apptest.NewApp(t, store, apptest.SQLiteDB(t), clock)
	cl := a.Client(t)
	cl.Register("nina", "nina's password")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	// One touch and one value written, so that the server has the scripts
	// cached whatever ran before: what is counted below is the steady state.
	clock.Advance(2 * time.Minute)
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	cl.Want(cl.Do("POST", "/set?k=warm&v=up", nil), http.StatusNoContent, "")

	want := func(what string, wantCmds string, maxTrips int) {
		t.Helper()
		got, trips := counter.TakeTrips()
		// One login in 64 also prunes its user's index (the store picks it
		// by the session's random key): that one command is not counted.
		if i := slices.Index(got, "ZREMRANGEBYSCORE"); i >= 0 && strings.Contains(wantCmds, "ZADD") && !strings.Contains(wantCmds, "ZREMRANGEBYSCORE") {
			got = slices.Delete(slices.Clone(got), i, i+1)
		}
		if strings.Join(got, " ") != wantCmds || trips > maxTrips {
			t.Errorf("%s sent %v in %d round trips; want [%s] in at most %d", what, got, trips, wantCmds, maxTrips)
		}
	}
	counter.Take()
	clock.Advance(10 * time.Second)
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	want("a read-only request inside the touch interval", "GET", 1)
	clock.Advance(2 * time.Minute)
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	want("a read-only request after the touch interval", "GET EVALSHA", 2)

	// Login: a browser with no session, then one with an anonymous one.
	fresh := a.Client(t)
	fresh.Login("nina", "nina's password")
	want("a login without a session", "SET ZADD PEXPIREAT PEXPIREAT", 1)
	anon := a.Client(t)
	anon.Want(anon.Do("POST", "/set?k=theme&v=dark", nil), http.StatusNoContent, "")
	counter.Take()
	anon.Login("nina", "nina's password")
	// The old session is taken by a script after the new one is written,
	// so that a regeneration never outlives a revoke (see
	// redisstore.Store.Regenerate): one round trip more.
	want("a login over an anonymous session", "GET SET ZADD PEXPIREAT PEXPIREAT EVALSHA", 3)

	// Logout-all of many sessions: the index, then one DEL of them all.
	const n = 50
	for range n {
		a.Client(t).Login("nina", "nina's password")
	}
	counter.Take()
	r := cl.Do("POST", "/logout-all", nil)
	cl.Want(r, http.StatusOK, "")
	if got := r.JSON["revoked"]; got != float64(n+3) {
		t.Errorf("revoked %v sessions, want %d", got, n+3)
	}
	want("a logout-all of 53 sessions", "GET MULTI ZRANGE DEL EXEC DEL", 3)

	// With the throttle in Redis too: one more command to reserve the
	// attempt, one to release it, each a round trip.
	b := apptest.NewApp(t, store, apptest.SQLiteDB(t), clock, func(cfg *apptest.Config) {
		cfg.Auth.Throttle.Store = redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: prefix + "throttle:"})
	})
	b.Client(t).Register("otto", "otto's password")
	b.Client(t).Login("otto", "otto's password") // caches the scripts
	counter.Take()
	b.Client(t).Login("otto", "otto's password")
	want("a login with the Redis throttle", "EVALSHA EVALSHA SET ZADD PEXPIREAT PEXPIREAT", 3)
}
