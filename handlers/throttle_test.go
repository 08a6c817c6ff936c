package handlers_test

// Login and registration throttling, played by an attacker: bursts,
// spellings, proxies, outages.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

func TestLoginThrottling(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("pat", "pat's password")
	cl := a.client(t)
	try := func(user, pw string) *response { return cl.do("POST", "/login", creds(user, pw)) }

	// Known and unknown usernames answer alike, failure for failure.
	for _, user := range []string{"pat", "nobody-here"} {
		for i := 1; i <= 5; i++ {
			cl.want(try(user, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
		}
		r := try(user, "wrong password")
		cl.want(r, http.StatusTooManyRequests, "too_many_attempts")
		if r.header.Get("Retry-After") != "60" {
			t.Errorf("%s: Retry-After = %q, want 60", user, r.header.Get("Retry-After"))
		}
	}
	// During the lockout the right password gets the same answer: no oracle.
	r := try("pat", "pat's password")
	cl.want(r, http.StatusTooManyRequests, "too_many_attempts")
	if cl.sessionCookie() != nil {
		t.Error("a locked-out login got a session")
	}
	a.clock.Advance(30 * time.Second)
	if r := try("pat", "pat's password"); r.header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After half way = %q", r.header.Get("Retry-After"))
	}
	// After the lockout the next failure doubles it.
	a.clock.Advance(30 * time.Second)
	cl.want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	if r := try("pat", "wrong password"); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "120" {
		t.Errorf("second lockout: %d, Retry-After %q; want 429 and 120", r.status, r.header.Get("Retry-After"))
	}
	// A success resets the count.
	a.clock.Advance(2 * time.Minute)
	cl.login("pat", "pat's password")
	for range 4 {
		cl.want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	cl.want(try("pat", "pat's password"), http.StatusTooManyRequests, "too_many_attempts")
}

// One address spraying a password over many usernames is stopped by the
// per-IP rule, though no username reaches its own limit.
func TestLoginThrottlingPerIP(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("quentin", "quentin's password")
	cl := a.client(t)
	for i := range 30 {
		cl.want(cl.do("POST", "/login", creds(fmt.Sprintf("user%d", i), "Summer2026!")), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.want(cl.do("POST", "/login", creds("quentin", "quentin's password")), http.StatusTooManyRequests, "too_many_attempts")
	// Another address is not affected (a trusted proxy tells them apart).
	b := newEnv(t, backends[0], func(c *authConfig) { c.session.TrustedProxies = []string{"127.0.0.1"} })
	b.client(t).register("quentin", "quentin's password")
	bc := b.client(t)
	for i := range 30 {
		bc.do("POST", "/login", creds(fmt.Sprintf("user%d", i), "Summer2026!"), "X-Forwarded-For", "198.51.100.1")
	}
	bc.want(bc.do("POST", "/login", creds("quentin", "quentin's password"), "X-Forwarded-For", "198.51.100.1"), http.StatusTooManyRequests, "")
	bc.want(bc.do("POST", "/login", creds("quentin", "quentin's password"), "X-Forwarded-For", "198.51.100.2"), http.StatusOK, "")
}

func TestLoginThrottlingDisabled(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.auth.Throttle.Disabled = true })
	a.client(t).register("rita", "rita's password")
	cl := a.client(t)
	for range 12 {
		cl.want(cl.do("POST", "/login", creds("rita", "nope nope")), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.login("rita", "rita's password")
}

// Instances sharing a Redis throttle count failures together.
func TestLoginThrottlingShared(t *testing.T) {
	c, prefix := redisClient(t)
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	db := sqliteDB(t)
	shared := func(cfg *authConfig) {
		cfg.auth.Throttle.Store = redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: prefix + "throttle:"})
	}
	one, two := newApp(t, store, db, clock, shared), newApp(t, store, db, clock, shared)
	one.client(t).register("sam", "sam's password")
	c1, c2 := one.client(t), two.client(t)
	for i := range 5 {
		cl := c1
		if i%2 == 1 {
			cl = c2
		}
		cl.want(cl.do("POST", "/login", creds("sam", "bad password")), http.StatusUnauthorized, "invalid_credentials")
	}
	c1.want(c1.do("POST", "/login", creds("sam", "sam's password")), http.StatusTooManyRequests, "too_many_attempts")
	c2.want(c2.do("POST", "/login", creds("sam", "sam's password")), http.StatusTooManyRequests, "too_many_attempts")
	clock.Advance(time.Minute)
	c2.login("sam", "sam's password")
}

// A burst of parallel attempts cannot get more password comparisons than
// the rule allows, at one username or from one address, in memory or in
// Redis.
func TestThrottleBurst(t *testing.T) {
	throttles := map[string]func(t *testing.T) auth.ThrottleStore{
		"memory": func(t *testing.T) auth.ThrottleStore {
			return auth.NewMemoryThrottleStore(auth.MemoryThrottleStoreOptions{})
		},
		"redis": func(t *testing.T) auth.ThrottleStore {
			c, prefix := redisClient(t)
			return redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: prefix + "throttle:"})
		},
	}
	for name, newThrottle := range throttles {
		t.Run(name, func(t *testing.T) {
			burst := func(t *testing.T, n, limit int, username func(i int) string) {
				compared := atomic.Int64{}
				a := newEnv(t, backends[0], withBarrier(n), func(c *authConfig) {
					c.auth.Throttle.Store = newThrottle(t)
					c.auth.Passwords.MaxConcurrentHashes = 4
					c.auth.Passwords.HashQueueTimeout = time.Minute
					c.auth.OnEvent = func(e auth.Event) {
						if e.Type == auth.EventLoginFailure || e.Type == auth.EventLoginSuccess {
							compared.Add(1)
						}
					}
				})
				var wg sync.WaitGroup
				statuses := make([]int, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cl := a.client(t)
						statuses[i] = cl.do("POST", "/login", creds(username(i), "wrong password")).status
					}()
				}
				wg.Wait()
				counts := map[int]int{}
				for _, s := range statuses {
					counts[s]++
				}
				if counts[http.StatusUnauthorized] > limit || int(compared.Load()) > limit {
					t.Errorf("%d parallel attempts: %d judged (%d passwords compared), want at most %d; statuses %v",
						n, counts[http.StatusUnauthorized], compared.Load(), limit, counts)
				}
				if counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != n {
					t.Errorf("statuses %v, want only 401 and 429", counts)
				}
			}
			t.Run("one username", func(t *testing.T) {
				burst(t, 40, 5, func(int) string { return "victim" })
			})
			t.Run("one address", func(t *testing.T) {
				burst(t, 100, 30, func(i int) string { return fmt.Sprintf("user%d", i) })
			})
		})
	}
}

// barrierUsers holds every username lookup until n of them have arrived,
// so that n logins are in flight at once, past any check made before the
// lookup.
type barrierUsers struct {
	models.UserStore[*Account]
	n       int
	mu      sync.Mutex
	arrived int
	open    chan struct{}
}

func withBarrier(n int) appOption {
	return func(c *authConfig) {
		c.auth.Users = &barrierUsers{UserStore: c.auth.Users, n: n, open: make(chan struct{})}
	}
}

func (b *barrierUsers) FindByUsername(ctx context.Context, name string) (*Account, error) {
	u, err := b.UserStore.FindByUsername(ctx, name)
	b.mu.Lock()
	if b.arrived++; b.arrived == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-ctx.Done():
	}
	return u, err
}

// A throttle store that cannot answer refuses logins with 503: taking the
// throttle's Redis down does not turn throttling off.
func TestThrottleFailsClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	down := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = down.Close() })
	var events []auth.Event
	var mu sync.Mutex
	a := newEnv(t, backends[0], func(c *authConfig) {
		c.auth.Throttle.Store = redisauth.NewThrottleStore(down, redisauth.ThrottleStoreOptions{})
		c.auth.OnEvent = func(e auth.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	hash, _ := bcrypt.GenerateFromPassword([]byte("ursula's password"), bcrypt.MinCost)
	if _, err := a.users.Create(context.Background(), "ursula", string(hash)); err != nil {
		t.Fatal(err)
	}
	cl := a.client(t)
	cl.want(cl.do("POST", "/register", creds("ulrich", "ulrich's password")), http.StatusServiceUnavailable, "store_unavailable")
	r := cl.do("POST", "/login", creds("ursula", "ursula's password"))
	cl.want(r, http.StatusServiceUnavailable, "store_unavailable")
	if r.cookie("sid") != nil {
		t.Error("a login was let through while the throttle was down")
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(events); n == 0 || events[n-1].Type != auth.EventLoginError || events[n-1].Code != "store_unavailable" {
		t.Errorf("events %+v; want a login_error, store_unavailable, last", events)
	}
}

// /register's "username taken" answer is an oracle: one address may ask it
// only so often.
func TestRegisterIsThrottled(t *testing.T) {
	a := newEnv(t, backends[0])
	for i := range 12 {
		a.client(t).register(fmt.Sprintf("member%d", i), "a long password")
	}
	cl := a.client(t)
	taken := 0
	for i := range 12 {
		r := cl.do("POST", "/register", creds(fmt.Sprintf("member%d", i), "a long password"))
		if r.status == http.StatusConflict {
			taken++
			continue
		}
		cl.want(r, http.StatusTooManyRequests, "too_many_attempts")
		if r.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if taken != 10 {
		t.Errorf("%d username_taken answers before the lockout, want 10", taken)
	}
	// Another address is not affected.
	b := newEnv(t, backends[0], func(c *authConfig) { c.session.TrustedProxies = []string{"127.0.0.1"} })
	bc := b.client(t)
	for i := range 12 {
		bc.do("POST", "/register", creds(fmt.Sprintf("m%d", i%2), "a long password"), "X-Forwarded-For", "203.0.113.5")
	}
	bc.want(bc.do("POST", "/register", creds("m0", "a long password"), "X-Forwarded-For", "203.0.113.5"), http.StatusTooManyRequests, "")
	bc.want(bc.do("POST", "/register", creds("fresh", "a long password"), "X-Forwarded-For", "198.51.100.5"), http.StatusCreated, "")
}

// Behind a proxy on a Unix socket the peer has no IP address. Unless the
// socket is trusted, no per-IP rule applies (rather than one bucket for
// everybody); trusted, X-Forwarded-For names the client.
func TestUnixSocketProxy(t *testing.T) {
	serveUnix := func(t *testing.T, a *app) *client {
		sock := filepath.Join(t.TempDir(), "app.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: a.srv.Config.Handler}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		cl := a.client(t)
		cl.base = "http://app.internal"
		cl.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		return cl
	}
	spray := func(cl *client, xff string) {
		for i := range 31 {
			cl.do("POST", "/login", creds(fmt.Sprintf("sprayed%d", i), "Winter2026!"), "X-Forwarded-For", xff)
		}
	}
	t.Run("untrusted", func(t *testing.T) {
		a := newEnv(t, backends[0])
		a.client(t).register("yuri", "yuri's password")
		cl := serveUnix(t, a)
		spray(cl, "203.0.113.9")
		cl.want(cl.do("POST", "/login", creds("yuri", "yuri's password"), "X-Forwarded-For", "198.51.100.7"), http.StatusOK, "")
	})
	t.Run("trusted", func(t *testing.T) {
		a := newEnv(t, backends[0], func(c *authConfig) { c.session.TrustedProxies = []string{"unix"} })
		a.client(t).register("yuri", "yuri's password")
		cl := serveUnix(t, a)
		spray(cl, "203.0.113.9")
		cl.want(cl.do("POST", "/login", creds("yuri", "yuri's password"), "X-Forwarded-For", "203.0.113.9"), http.StatusTooManyRequests, "too_many_attempts")
		r := cl.do("POST", "/login", creds("yuri", "yuri's password"), "X-Forwarded-For", "198.51.100.7")
		cl.want(r, http.StatusOK, "")
		info := cl.do("GET", "/session-info", nil, "X-Forwarded-For", "198.51.100.7")
		if info.json["ipAddress"] != "198.51.100.7" {
			t.Errorf("session IP = %v", info.json["ipAddress"])
		}
	})
}

// A locked account stays locked under every spelling of its name, on every
// SQL dialect with its default collation, and a spelling that is another
// name never signs in as this account.
func TestUsernameVariantsShareOneLockout(t *testing.T) {
	for _, udb := range userDBs {
		t.Run(udb.name, func(t *testing.T) {
			clock := fakeclock.New(time.Time{})
			store := memstore.New(memstore.Options{Now: clock.Now})
			t.Cleanup(func() { _ = store.Close() })
			a := newApp(t, store, udb.open(t), clock, func(c *authConfig) {
				c.auth.Throttle.PerIP.Failures = 1000 // only the account's rule is under test
			})
			a.client(t).register("alice", "alice's password")
			attacker := a.client(t)
			for range 5 {
				attacker.want(attacker.do("POST", "/login", creds("alice", "guess guess")), http.StatusUnauthorized, "invalid_credentials")
			}
			// Spellings that normalize to "alice" are the same account: locked.
			same := []string{"alice", "Alice", "ALICE", "ａｌｉｃｅ", " alice ", "ＡＬＩＣＥ"}
			// Spellings that are other names: no such user.
			other := []string{"alicé", "àlice", "ålice", "âlice", "ÀLICE", "alice\u0301", "alıce", "alicë", "ălice"}
			for _, v := range same {
				if r := attacker.do("POST", "/login", creds(v, "alice's password")); r.status != http.StatusTooManyRequests {
					t.Errorf("%q with the right password during the lockout: %d %s, want 429", v, r.status, r.body)
				}
			}
			for _, v := range other {
				if r := attacker.do("POST", "/login", creds(v, "alice's password")); r.status == http.StatusOK {
					t.Errorf("%q signed in as %s during alice's lockout", v, r.body)
				}
			}
			// After the lockout, too, another name is not alice.
			clock.Advance(time.Hour)
			for _, v := range other {
				if r := attacker.do("POST", "/login", creds(v, "alice's password")); r.status != http.StatusUnauthorized {
					t.Errorf("%q with alice's password: %d %s, want 401", v, r.status, r.body)
				}
			}
			// A look-alike is an account of its own, told apart from alice.
			owner := a.client(t)
			owner.register("alicé", "another password")
			r := owner.login("alicé", "another password")
			if got := r.json["user"].(map[string]any)["username"]; got != "alicé" {
				t.Errorf("signed in as %v, want alicé", got)
			}
			attacker.want(attacker.do("POST", "/login", creds("alice", "another password")), http.StatusUnauthorized, "invalid_credentials")
			attacker.login("alice", "alice's password")
		})
	}
}
