package auth_test

// Login and registration throttling, played by an attacker through the
// prebuilt routes: bursts, spellings, proxies, outages.

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
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

func TestLoginThrottling(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	a.Client(t).Register("pat", "pat's password")
	cl := a.Client(t)
	try := func(user, pw string) *apptest.Response { return cl.Do("POST", "/login", apptest.Creds(user, pw)) }

	// Known and unknown usernames answer alike, failure for failure.
	for _, user := range []string{"pat", "nobody-here"} {
		for i := 1; i <= 5; i++ {
			cl.Want(try(user, "wrong password"), http.StatusUnauthorized, "invalid_credentials")
		}
		r := try(user, "wrong password")
		cl.Want(r, http.StatusTooManyRequests, "too_many_attempts")
		if r.Header.Get("Retry-After") != "60" {
			t.Errorf("%s: Retry-After = %q, want 60", user, r.Header.Get("Retry-After"))
		}
	}
	// During the lockout the right password gets the same answer: no oracle.
	r := try("pat", "pat's password")
	cl.Want(r, http.StatusTooManyRequests, "too_many_attempts")
	if cl.SessionCookie() != nil {
		t.Error("a locked-out login got a session")
	}
	a.Clock.Advance(30 * time.Second)
	if r := try("pat", "pat's password"); r.Header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After half way = %q", r.Header.Get("Retry-After"))
	}
	// After the lockout the next failure doubles it.
	a.Clock.Advance(30 * time.Second)
	cl.Want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	if r := try("pat", "wrong password"); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "120" {
		t.Errorf("second lockout: %d, Retry-After %q; want 429 and 120", r.Status, r.Header.Get("Retry-After"))
	}
	// A success resets the count.
	a.Clock.Advance(2 * time.Minute)
	cl.Login("pat", "pat's password")
	for range 4 {
		cl.Want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.Want(try("pat", "wrong password"), http.StatusUnauthorized, "invalid_credentials")
	cl.Want(try("pat", "pat's password"), http.StatusTooManyRequests, "too_many_attempts")
}

// One address spraying a password over many usernames is stopped by the
// per-IP rule, though no username reaches its own limit.
func TestLoginThrottlingPerIP(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	a.Client(t).Register("quentin", "quentin's password")
	cl := a.Client(t)
	for i := range 30 {
		cl.Want(cl.Do("POST", "/login", apptest.Creds(fmt.Sprintf("user%d", i), "Summer2026!")), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.Want(cl.Do("POST", "/login", apptest.Creds("quentin", "quentin's password")), http.StatusTooManyRequests, "too_many_attempts")
	// Another address is not affected (a trusted proxy tells them apart).
	b := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.TrustedProxies = []string{"127.0.0.1"} })
	b.Client(t).Register("quentin", "quentin's password")
	bc := b.Client(t)
	for i := range 30 {
		bc.Do("POST", "/login", apptest.Creds(fmt.Sprintf("user%d", i), "Summer2026!"), "X-Forwarded-For", "198.51.100.1")
	}
	bc.Want(bc.Do("POST", "/login", apptest.Creds("quentin", "quentin's password"), "X-Forwarded-For", "198.51.100.1"), http.StatusTooManyRequests, "")
	bc.Want(bc.Do("POST", "/login", apptest.Creds("quentin", "quentin's password"), "X-Forwarded-For", "198.51.100.2"), http.StatusOK, "")
}

func TestLoginThrottlingDisabled(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Auth.Throttle.Disabled = true })
	a.Client(t).Register("rita", "rita's password")
	cl := a.Client(t)
	for range 12 {
		cl.Want(cl.Do("POST", "/login", apptest.Creds("rita", "nope nope")), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.Login("rita", "rita's password")
}

// Instances sharing a Redis throttle count failures together.
func TestLoginThrottlingShared(t *testing.T) {
	c, prefix := testenv.RedisClient(t)
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	db := apptest.SQLiteDB(t)
	shared := func(cfg *apptest.Config) {
		cfg.Auth.Throttle.Store = redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: prefix + "throttle:"})
	}
	one, two := apptest.NewApp(t, store, db, clock, shared), apptest.NewApp(t, store, db, clock, shared)
	one.Client(t).Register("sam", "sam's password")
	c1, c2 := one.Client(t), two.Client(t)
	for i := range 5 {
		cl := c1
		if i%2 == 1 {
			cl = c2
		}
		cl.Want(cl.Do("POST", "/login", apptest.Creds("sam", "bad password")), http.StatusUnauthorized, "invalid_credentials")
	}
	c1.Want(c1.Do("POST", "/login", apptest.Creds("sam", "sam's password")), http.StatusTooManyRequests, "too_many_attempts")
	c2.Want(c2.Do("POST", "/login", apptest.Creds("sam", "sam's password")), http.StatusTooManyRequests, "too_many_attempts")
	clock.Advance(time.Minute)
	c2.Login("sam", "sam's password")
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
			c, prefix := testenv.RedisClient(t)
			return redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: prefix + "throttle:"})
		},
	}
	for name, newThrottle := range throttles {
		t.Run(name, func(t *testing.T) {
			burst := func(t *testing.T, n, limit int, username func(i int) string) {
				compared := atomic.Int64{}
				a := apptest.NewEnv(t, apptest.Backends[0], withBarrier(n), func(c *apptest.Config) {
					c.Auth.Throttle.Store = newThrottle(t)
					c.Auth.Passwords.MaxConcurrentHashes = 4
					c.Auth.Passwords.HashQueueTimeout = time.Minute
					c.Auth.OnEvent = func(e auth.Event) {
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
						cl := a.Client(t)
						statuses[i] = cl.Do("POST", "/login", apptest.Creds(username(i), "wrong password")).Status
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
	models.UserStore[*apptest.Account]
	n       int
	mu      sync.Mutex
	arrived int
	open    chan struct{}
}

func withBarrier(n int) apptest.Option {
	return func(c *apptest.Config) {
		c.Auth.Users = &barrierUsers{UserStore: c.Auth.Users, n: n, open: make(chan struct{})}
	}
}

func (b *barrierUsers) FindByUsername(ctx context.Context, name string) (*apptest.Account, error) {
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
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) {
		c.Auth.Throttle.Store = redisauth.NewThrottleStore(down, redisauth.ThrottleStoreOptions{})
		c.Auth.OnEvent = func(e auth.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	hash, _ := bcrypt.GenerateFromPassword([]byte("ursula's password"), bcrypt.MinCost)
	if _, err := a.Users.Create(context.Background(), "ursula", string(hash)); err != nil {
		t.Fatal(err)
	}
	cl := a.Client(t)
	cl.Want(cl.Do("POST", "/register", apptest.Creds("ulrich", "ulrich's password")), http.StatusServiceUnavailable, "store_unavailable")
	r := cl.Do("POST", "/login", apptest.Creds("ursula", "ursula's password"))
	cl.Want(r, http.StatusServiceUnavailable, "store_unavailable")
	if r.Cookie("sid") != nil {
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
	a := apptest.NewEnv(t, apptest.Backends[0])
	for i := range 12 {
		a.Client(t).Register(fmt.Sprintf("member%d", i), "a long password")
	}
	cl := a.Client(t)
	taken := 0
	for i := range 12 {
		r := cl.Do("POST", "/register", apptest.Creds(fmt.Sprintf("member%d", i), "a long password"))
		if r.Status == http.StatusConflict {
			taken++
			continue
		}
		cl.Want(r, http.StatusTooManyRequests, "too_many_attempts")
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if taken != 10 {
		t.Errorf("%d username_taken answers before the lockout, want 10", taken)
	}
	// Another address is not affected.
	b := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.TrustedProxies = []string{"127.0.0.1"} })
	bc := b.Client(t)
	for i := range 12 {
		bc.Do("POST", "/register", apptest.Creds(fmt.Sprintf("m%d", i%2), "a long password"), "X-Forwarded-For", "203.0.113.5")
	}
	bc.Want(bc.Do("POST", "/register", apptest.Creds("m0", "a long password"), "X-Forwarded-For", "203.0.113.5"), http.StatusTooManyRequests, "")
	bc.Want(bc.Do("POST", "/register", apptest.Creds("fresh", "a long password"), "X-Forwarded-For", "198.51.100.5"), http.StatusCreated, "")
}

// Behind a proxy on a Unix socket the peer has no IP address. Unless the
// socket is trusted, no per-IP rule applies (rather than one bucket for
// everybody); trusted, X-Forwarded-For names the client.
func TestUnixSocketProxy(t *testing.T) {
	serveUnix := func(t *testing.T, a *apptest.App) *apptest.Client {
		sock := filepath.Join(t.TempDir(), "app.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: a.Server.Config.Handler}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		cl := a.Client(t)
		cl.Base = "http://app.internal"
		cl.HTTP.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
		return cl
	}
	spray := func(cl *apptest.Client, xff string) {
		for i := range 31 {
			cl.Do("POST", "/login", apptest.Creds(fmt.Sprintf("sprayed%d", i), "Winter2026!"), "X-Forwarded-For", xff)
		}
	}
	t.Run("untrusted", func(t *testing.T) {
		a := apptest.NewEnv(t, apptest.Backends[0])
		a.Client(t).Register("yuri", "yuri's password")
		cl := serveUnix(t, a)
		spray(cl, "203.0.113.9")
		cl.Want(cl.Do("POST", "/login", apptest.Creds("yuri", "yuri's password"), "X-Forwarded-For", "198.51.100.7"), http.StatusOK, "")
	})
	t.Run("trusted", func(t *testing.T) {
		a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.TrustedProxies = []string{"unix"} })
		a.Client(t).Register("yuri", "yuri's password")
		cl := serveUnix(t, a)
		spray(cl, "203.0.113.9")
		cl.Want(cl.Do("POST", "/login", apptest.Creds("yuri", "yuri's password"), "X-Forwarded-For", "203.0.113.9"), http.StatusTooManyRequests, "too_many_attempts")
		r := cl.Do("POST", "/login", apptest.Creds("yuri", "yuri's password"), "X-Forwarded-For", "198.51.100.7")
		cl.Want(r, http.StatusOK, "")
		info := cl.Do("GET", "/session-info", nil, "X-Forwarded-For", "198.51.100.7")
		if info.JSON["ipAddress"] != "198.51.100.7" {
			t.Errorf("session IP = %v", info.JSON["ipAddress"])
		}
	})
}

// A locked account stays locked under every spelling of its name, on every
// SQL dialect with its default collation, and a spelling that is another
// name never signs in as this account.
func TestUsernameVariantsShareOneLockout(t *testing.T) {
	for _, udb := range apptest.UserDBs {
		t.Run(udb.Name, func(t *testing.T) {
			clock := fakeclock.New(time.Time{})
			store := memstore.New(memstore.Options{Now: clock.Now})
			t.Cleanup(func() { _ = store.Close() })
			a := apptest.NewApp(t, store, udb.Open(t), clock, func(c *apptest.Config) {
				c.Auth.Throttle.PerIP.Failures = 1000 // only the account's rule is under test
			})
			a.Client(t).Register("alice", "alice's password")
			attacker := a.Client(t)
			for range 5 {
				attacker.Want(attacker.Do("POST", "/login", apptest.Creds("alice", "guess guess")), http.StatusUnauthorized, "invalid_credentials")
			}
			// Spellings that normalize to "alice" are the same account: locked.
			same := []string{"alice", "Alice", "ALICE", "ａｌｉｃｅ", " alice ", "ＡＬＩＣＥ"}
			// Spellings that are other names: no such user.
			other := []string{"alicé", "àlice", "ålice", "âlice", "ÀLICE", "alice\u0301", "alıce", "alicë", "ălice"}
			for _, v := range same {
				if r := attacker.Do("POST", "/login", apptest.Creds(v, "alice's password")); r.Status != http.StatusTooManyRequests {
					t.Errorf("%q with the right password during the lockout: %d %s, want 429", v, r.Status, r.Body)
				}
			}
			for _, v := range other {
				if r := attacker.Do("POST", "/login", apptest.Creds(v, "alice's password")); r.Status == http.StatusOK {
					t.Errorf("%q signed in as %s during alice's lockout", v, r.Body)
				}
			}
			// After the lockout, too, another name is not alice.
			clock.Advance(time.Hour)
			for _, v := range other {
				if r := attacker.Do("POST", "/login", apptest.Creds(v, "alice's password")); r.Status != http.StatusUnauthorized {
					t.Errorf("%q with alice's password: %d %s, want 401", v, r.Status, r.Body)
				}
			}
			// A look-alike is an account of its own, told apart from alice.
			owner := a.Client(t)
			owner.Register("alicé", "another password")
			r := owner.Login("alicé", "another password")
			if got := r.JSON["user"].(map[string]any)["username"]; got != "alicé" {
				t.Errorf("signed in as %v, want alicé", got)
			}
			attacker.Want(attacker.Do("POST", "/login", apptest.Creds("alice", "another password")), http.StatusUnauthorized, "invalid_credentials")
			attacker.Login("alice", "alice's password")
		})
	}
}
