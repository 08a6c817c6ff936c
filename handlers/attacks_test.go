package handlers_test

// Regression tests for the holes found by attacking the example app from
// outside: each test plays the attacker.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

// A locked account stays locked under every spelling of its name, on every
// SQL dialect with its default collation, and a spelling that is another
// name never signs in as this account.
func TestUsernameVariantsShareOneLockout(t *testing.T) {
	for _, udb := range userDBs {
		t.Run(udb.name, func(t *testing.T) {
			clock := fakeclock.New(time.Time{})
			store := sessionstore.NewMemoryStore(sessionstore.MemoryOptions{Now: clock.Now})
			t.Cleanup(func() { _ = store.Close() })
			a := newApp(t, store, udb.open(t), clock, func(c *authConfig) {
				c.Throttle.PerIP.Failures = 1000 // only the account's rule is under test
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
		c.Users = &barrierUsers{UserStore: c.Users, n: n, open: make(chan struct{})}
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

// A burst of parallel attempts cannot get more password comparisons than
// the rule allows, at one username or from one address, in memory or in
// Redis.
func TestThrottleBurst(t *testing.T) {
	throttles := map[string]func(t *testing.T) auth.ThrottleStore{
		"memory": func(t *testing.T) auth.ThrottleStore { return auth.NewMemoryThrottle(auth.MemoryThrottleOptions{}) },
		"redis": func(t *testing.T) auth.ThrottleStore {
			c, prefix := redisClient(t)
			return auth.NewRedisThrottle(c, prefix+"throttle:")
		},
	}
	for name, newThrottle := range throttles {
		t.Run(name, func(t *testing.T) {
			burst := func(t *testing.T, n, limit int, username func(i int) string) {
				compared := atomic.Int64{}
				a := newEnv(t, backends[0], withBarrier(n), func(c *authConfig) {
					c.Throttle.Store = newThrottle(t)
					c.MaxConcurrentHashes = 4
					c.HashQueueTimeout = time.Minute
					c.OnEvent = func(e auth.Event) {
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

// holdUsers holds the next username lookup, after it read the user, until
// released: a login that loaded the old password hash and is waiting for a
// bcrypt slot.
type holdUsers struct {
	models.UserStore[*Account]
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdUsers) FindByUsername(ctx context.Context, name string) (*Account, error) {
	u, err := h.UserStore.FindByUsername(ctx, name)
	if h.armed.CompareAndSwap(true, false) {
		close(h.held)
		<-h.release
	}
	return u, err
}

// A login that loaded the old password hash before a password change, and
// finishes after it, gets no session that outlives the change.
func TestPasswordChangeEndsLoginsInFlight(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		hold := &holdUsers{held: make(chan struct{}), release: make(chan struct{})}
		a := newEnv(t, b, func(c *authConfig) {
			hold.UserStore = c.Users
			c.Users = hold
		})
		owner := a.client(t)
		owner.register("victor", "victor's old password")
		attacker := a.client(t)
		hold.armed.Store(true)
		done := make(chan *response)
		go func() { done <- attacker.do("POST", "/login", creds("victor", "victor's old password")) }()
		<-hold.held
		owner.want(owner.do("POST", "/password", map[string]any{
			"currentPassword": "victor's old password", "newPassword": "victor's new password",
		}), http.StatusOK, "")
		close(hold.release)
		if r := <-done; r.status != http.StatusOK {
			t.Fatalf("the login in flight: %d %s", r.status, r.body)
		}
		// The session it got was made with superseded credentials.
		attacker.want(attacker.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		owner.want(owner.do("GET", "/me", nil), http.StatusOK, "")
		attacker.want(attacker.do("POST", "/login", creds("victor", "victor's old password")), http.StatusUnauthorized, "invalid_credentials")
	})
}

// Anonymous requests to a protected page create no server state: 100,000
// of them, each without a cookie, store nothing, and the signed-in victim
// stays signed in.
func TestAnonymousRequestsStoreNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		n := 2000
		if b.name == "memory" {
			n = 100_000 // the memory store holds 100,000 sessions at most
		}
		a := newEnv(t, b)
		victim := a.client(t)
		victim.register("wendy", "wendy's password")
		h := a.srv.Config.Handler
		for i := range n {
			req, _ := http.NewRequest("GET", "/private?page="+fmt.Sprint(i), nil)
			req.Header.Set("Accept", "text/html")
			w := &headerRecorder{header: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status != http.StatusSeeOther || len(w.header.Values("Set-Cookie")) != 0 {
				t.Fatalf("anonymous GET %d: %d, Set-Cookie %q", i, w.status, w.header.Values("Set-Cookie"))
			}
		}
		if m, ok := a.store.(*sessionstore.MemoryStore); ok && m.Len() != 1 {
			t.Errorf("%d sessions stored after %d anonymous requests, want the victim's alone", m.Len(), n)
		}
		victim.want(victim.do("GET", "/me", nil), http.StatusOK, "")
	})
}

// headerRecorder is the least of a ResponseWriter, for floods that need
// neither the body nor httptest's bookkeeping.
type headerRecorder struct {
	header http.Header
	status int
}

func (w *headerRecorder) Header() http.Header { return w.header }
func (w *headerRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *headerRecorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

// The page a browser asked for rides on the login redirect, not in a
// session, and brings the browser back after signing in; a foreign
// address is ignored.
func TestReturnToWithoutSession(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("xena", "xena's password")
	cl := a.client(t)
	r := cl.do("GET", "/private?tab=2", nil, "Accept", "text/html")
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || loc.Path != "/login" || loc.Query().Get("returnTo") != "/private?tab=2" {
		t.Fatalf("redirect to %q", r.header.Get("Location"))
	}
	if cl.sessionCookie() != nil {
		t.Fatal("the redirect set a session cookie")
	}
	// A failed attempt keeps the return address for the next one.
	r = cl.do("POST", "/login", url.Values{"username": {"xena"}, "password": {"nope"}, "returnTo": {"/private?tab=2"}})
	if got := r.header.Get("Location"); got != "/login?error=1&returnTo=%2Fprivate%3Ftab%3D2" {
		t.Errorf("failed login redirects to %q", got)
	}
	r = cl.do("POST", "/login", url.Values{"username": {"xena"}, "password": {"xena's password"}, "returnTo": {"/private?tab=2"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/private?tab=2" {
		t.Errorf("login redirects to %q", r.header.Get("Location"))
	}
	for _, bad := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"} {
		cl := a.client(t)
		r := cl.do("POST", "/login", url.Values{"username": {"xena"}, "password": {"xena's password"}, "returnTo": {bad}})
		if r.header.Get("Location") != "/" {
			t.Errorf("returnTo %q: redirect to %q", bad, r.header.Get("Location"))
		}
	}
	// Expired sessions say so on the same redirect.
	cl.login("xena", "xena's password")
	a.clock.Advance(31 * time.Minute)
	r = cl.do("GET", "/private", nil, "Accept", "text/html")
	loc, _ = url.Parse(r.header.Get("Location"))
	if loc.Query().Get("expired") != "true" || loc.Query().Get("returnTo") != "/private" {
		t.Errorf("expired redirect to %q", r.header.Get("Location"))
	}
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
		a := newEnv(t, backends[0], func(c *authConfig) { c.TrustedProxies = []string{"unix"} })
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

// The shortest password is counted as typed: one character that NFKC
// expands into eighteen is one character.
func TestPasswordLengthAsTyped(t *testing.T) {
	a := newEnv(t, backends[0])
	cl := a.client(t)
	cl.want(cl.do("POST", "/register", creds("zack", "ﷺ")), http.StatusBadRequest, "weak_password")
	cl.want(cl.do("POST", "/register", creds("zack", "ﷺﷺﷺ")), http.StatusBadRequest, "weak_password")
	cl.register("zack", "ｆｕｌｌｗｉｄｔｈ") // 9 characters as typed
	cl.login("zack", "fullwidth")    // the same password once normalized
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
	b := newEnv(t, backends[0], func(c *authConfig) { c.TrustedProxies = []string{"127.0.0.1"} })
	bc := b.client(t)
	for i := range 12 {
		bc.do("POST", "/register", creds(fmt.Sprintf("m%d", i%2), "a long password"), "X-Forwarded-For", "203.0.113.5")
	}
	bc.want(bc.do("POST", "/register", creds("m0", "a long password"), "X-Forwarded-For", "203.0.113.5"), http.StatusTooManyRequests, "")
	bc.want(bc.do("POST", "/register", creds("fresh", "a long password"), "X-Forwarded-For", "198.51.100.5"), http.StatusCreated, "")
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
	a := newEnv(t, backends[0], func(c *authConfig) { c.Throttle.Store = auth.NewRedisThrottle(down, "") })
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
}

// Sessions the application starts for anonymous visitors live at most
// AnonymousTimeout, however active; signed-in ones the absolute timeout.
// A value listed in KeepOnRegenerate survives the login.
func TestAnonymousSessionsAreShortLived(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b, func(c *authConfig) { c.KeepOnRegenerate = []string{"theme"} })
		a.client(t).register("abby", "abby's password")
		anon, member := a.client(t), a.client(t)
		anon.want(anon.do("POST", "/set?k=theme&v=dark", nil), http.StatusNoContent, "")
		member.want(member.do("POST", "/set?k=theme&v=light", nil), http.StatusNoContent, "")
		member.login("abby", "abby's password")
		if r := member.do("GET", "/get?k=theme", nil); r.json["v"] != "light" {
			t.Errorf("a KeepOnRegenerate value after login: %s", r.body)
		}
		elapsed := time.Duration(0)
		for _, d := range []time.Duration{20 * time.Minute, 20 * time.Minute, 19 * time.Minute} { // never idle
			a.clock.Advance(d)
			elapsed += d
			if r := anon.do("GET", "/get?k=theme", nil); r.json["v"] != "dark" {
				t.Fatalf("anonymous session ended after %v: %s", elapsed, r.body)
			}
			member.want(member.do("GET", "/me", nil), http.StatusOK, "")
		}
		a.clock.Advance(time.Minute) // an hour since it began
		if r := anon.do("GET", "/get?k=theme", nil); r.json["ok"] != false {
			t.Errorf("anonymous session outlived AnonymousTimeout: %s", r.body)
		}
		member.want(member.do("GET", "/me", nil), http.StatusOK, "")
	})
}
