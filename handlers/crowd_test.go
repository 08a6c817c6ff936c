package handlers_test

// The throttle under abuse, and under honest crowds: what one address, or
// many people behind one, can and cannot do to sign-in.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/problem"
)

// events collects account events from any goroutine.
type events struct {
	mu   sync.Mutex
	list []auth.Event
}

func (e *events) add(ev auth.Event) { e.mu.Lock(); e.list = append(e.list, ev); e.mu.Unlock() }

func (e *events) count(typ auth.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// patient sends a request again while it is answered 503 with Retry-After,
// as a client honouring it would (without the wait: the server's clock is
// not the test's), and returns the first other answer.
func (cl *client) patient(method, path string, body any, headers ...string) *response {
	cl.t.Helper()
	for range 200 {
		r := cl.do(method, path, body, headers...)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			return r
		}
	}
	cl.t.Fatalf("%s %s: still 503 after 200 tries", method, path)
	return nil
}

// Fifty people behind one address (an office, a classroom, a carrier's
// NAT) register and sign in at the same moment: none has failed anything,
// so none is refused or recorded as a lockout.
func TestHonestCrowdBehindOneAddress(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const n = 50
		var ev events
		a := newEnv(t, b, withBarrier(n), func(c *authConfig) { c.auth.OnEvent = ev.add })
		clients := make([]*client, n)
		for i := range clients {
			clients[i] = a.client(t)
		}
		crowd := func(path string, want int) {
			var wg sync.WaitGroup
			statuses := make([]*response, n)
			for i, cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = cl.patient("POST", path, creds(fmt.Sprintf("person%d", i), "a long enough password"))
				}()
			}
			wg.Wait()
			for i, r := range statuses {
				if r.status != want {
					t.Errorf("%s of person%d: %d %s, want %d", path, i, r.status, r.body, want)
				}
			}
		}
		crowd("/register", http.StatusCreated)
		crowd("/login", http.StatusOK)
		if n := ev.count(auth.EventLockout); n != 0 {
			t.Errorf("%d lockout events for a crowd that failed nothing", n)
		}
		if n := ev.count(auth.EventLoginFailure); n != 0 {
			t.Errorf("%d login failures for a crowd that failed nothing", n)
		}
	})
}

// Parallel sign-ins of one account with the right password (tabs restored
// at once, a script, a shared account) are not failures: they never lock
// the account.
func TestParallelCorrectSignInsOfOneAccount(t *testing.T) {
	const n = 12
	var ev events
	a := newEnv(t, backends[0], withBarrier(n), func(c *authConfig) { c.auth.OnEvent = ev.add })
	a.client(t).register("olga", "olga's password")
	var wg sync.WaitGroup
	rs := make([]*response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i] = a.client(t).patient("POST", "/login", creds("olga", "olga's password"))
		}()
	}
	wg.Wait()
	for i, r := range rs {
		if r.status != http.StatusOK {
			t.Errorf("sign-in %d: %d %s", i, r.status, r.body)
		}
	}
	if n := ev.count(auth.EventLockout); n != 0 {
		t.Errorf("%d lockout events for sign-ins that all had the right password", n)
	}
	// Nothing was counted: five wrong passwords still answer 401.
	cl := a.client(t)
	for range 5 {
		cl.want(cl.do("POST", "/login", creds("olga", "wrong password")), http.StatusUnauthorized, "invalid_credentials")
	}
}

// Anyone can lock an account from outside; its owner's browser, which
// signed in before, still gets in with its own small budget, while unknown
// clients stay locked out. A signed-in owner's password change is not
// refused by the login's lockout.
func TestLockoutSparesTheOwnersDevice(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.session.TrustedProxies = []string{"127.0.0.1"} })
	owner := a.client(t)
	owner.register("vera", "vera's password")
	owner.login("vera", "vera's password")
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	attacker := a.client(t)
	for range 5 {
		attacker.want(attacker.do("POST", "/login", creds("vera", "guess guess"), from("203.0.113.66")...), http.StatusUnauthorized, "invalid_credentials")
	}
	attacker.want(attacker.do("POST", "/login", creds("vera", "vera's password"), from("203.0.113.66")...), http.StatusTooManyRequests, "too_many_attempts")
	stranger := a.client(t)
	stranger.want(stranger.do("POST", "/login", creds("vera", "vera's password"), from("198.51.100.7")...), http.StatusTooManyRequests, "too_many_attempts")

	// The signed-in owner changes the password: not refused by the lockout.
	r := owner.do("POST", "/password", map[string]any{"currentPassword": "vera's password", "newPassword": "vera's new password"}, from("198.51.100.9")...)
	owner.want(r, http.StatusOK, "")
	// Signed out (or on another tab), the owner's browser still signs in.
	owner.do("POST", "/logout", nil)
	owner.want(owner.do("POST", "/login", creds("vera", "vera's new password"), from("198.51.100.9")...), http.StatusOK, "")
	// The attacker, re-locking, still cannot get in, even with the password.
	attacker.want(attacker.do("POST", "/login", creds("vera", "vera's new password"), from("203.0.113.66")...), http.StatusTooManyRequests, "too_many_attempts")

	// The owner's device has a budget of its own: five wrong passwords lock
	// that device, not the account's other devices.
	owner.do("POST", "/logout", nil)
	for range 5 {
		owner.want(owner.do("POST", "/login", creds("vera", "a typo typo"), from("198.51.100.9")...), http.StatusUnauthorized, "invalid_credentials")
	}
	owner.want(owner.do("POST", "/login", creds("vera", "vera's new password"), from("198.51.100.9")...), http.StatusTooManyRequests, "too_many_attempts")
}

// A device cookie gives a fresh budget only when this server signed it for
// the account: once the account is locked, neither a made-up device cookie
// nor the one the attacker's own account got lets the attacker sign in, or
// every new cookie would be a new budget of guesses.
func TestForeignDeviceCookiesGetNoBudget(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.session.TrustedProxies = []string{"127.0.0.1"} })
	a.client(t).register("vera", "vera's password")
	attacker := a.client(t)
	attacker.register("mallory", "mallory's password")
	attacker.do("POST", "/logout", nil)
	attacker.login("mallory", "mallory's password") // a device cookie signed for mallory
	attacker.do("POST", "/logout", nil)
	var own *http.Cookie
	u, _ := url.Parse(a.srv.URL)
	for _, c := range attacker.jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "-device") {
			own = c
		}
	}
	if own == nil {
		t.Fatal("no device cookie after signing in")
	}
	from := []string{"X-Forwarded-For", "203.0.113.66"}
	for range 5 {
		attacker.want(attacker.do("POST", "/login", creds("vera", "guess guess"), from...), http.StatusUnauthorized, "invalid_credentials")
	}
	madeUp := base64.RawURLEncoding.EncodeToString(make([]byte, 32)) // a nonce and a MAC of zeros
	for _, value := range []string{own.Value, madeUp} {
		cl := a.client(t)
		r := cl.do("POST", "/login", creds("vera", "vera's password"), append(from, "Cookie", own.Name+"="+value)...)
		cl.want(r, http.StatusTooManyRequests, "too_many_attempts")
	}
}

// A signed-in client guessing the current password at POST /password is
// throttled like a login: five wrong answers, then the sixth, even right,
// is 429 with a lockout event.
func TestPasswordChangeIsThrottled(t *testing.T) {
	var ev events
	a := newEnv(t, backends[0], func(c *authConfig) { c.auth.OnEvent = ev.add })
	cl := a.client(t)
	cl.register("walt", "walt's password")
	cl.login("walt", "walt's password")
	change := func(current string) *response {
		return cl.do("POST", "/password", map[string]any{"currentPassword": current, "newPassword": "walt's new password"})
	}
	for range 5 {
		cl.want(change("not the password"), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.want(change("walt's password"), http.StatusTooManyRequests, "too_many_attempts")
	if ev.count(auth.EventLockout) != 1 {
		t.Errorf("%d lockout events, want 1", ev.count(auth.EventLockout))
	}
	a.clock.Advance(time.Minute)
	cl.want(change("walt's password"), http.StatusOK, "")
}

// One address cannot create accounts without limit; another address is
// not affected.
func TestRegistrationsPerAddressAreLimited(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.session.TrustedProxies = []string{"127.0.0.1"} })
	cl := a.client(t)
	created := 0
	var last *response
	for i := range 400 {
		last = cl.patient("POST", "/register", creds(fmt.Sprintf("bulk%d", i), "a long enough password"), "X-Forwarded-For", "203.0.113.9")
		if last.status != http.StatusCreated {
			break
		}
		created++
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("%d accounts created from one address, then %d %s; want a 429 after a limit", created, last.status, last.body)
	}
	if created < 50 {
		t.Errorf("only %d registrations from one address before the limit: a classroom needs 50", created)
	}
	if msg, _ := last.json["error"].(string); msg == problem.TooManyAttempts.Message {
		t.Errorf("a registration refusal speaks of sign-ins: %q", msg)
	}
	cl.want(cl.patient("POST", "/register", creds("elsewhere", "a long enough password"), "X-Forwarded-For", "198.51.100.20"), http.StatusCreated, "")
}

// One address looping sign-ins on many of its accounts cannot deny sign-in
// to another address: each address gets its share of the bcrypt slots, so
// a sign-in from elsewhere waits for one or two of the loop's bcrypt runs,
// not for the whole queue the loop keeps full. Counted in bcrypt runs, not
// timed: with one slot, a first-come queue would put all sixteen of the
// loop's attempts ahead of it.
func TestOneAddressCannotStarveSignIn(t *testing.T) {
	var hashes hashCounter
	var bots atomic.Int64
	busy := make(chan struct{})
	var arrived atomic.Int64 // hashes started when the honest sign-in looked its user up
	a := newEnv(t, backends[0], func(c *authConfig) {
		c.auth.Metrics = &hashes
		c.auth.OnEvent = func(e auth.Event) {
			if e.Type == auth.EventLoginSuccess && strings.HasPrefix(e.Username, "bot") && bots.Add(1) == 8 {
				close(busy) // the loop has been at it for a while
			}
		}
		c.auth.Users = lookupHook{UserStore: c.auth.Users, fn: func(name string) {
			if name == "honest" {
				arrived.Store(hashes.n.Load())
			}
		}}
		c.session.TrustedProxies = []string{"127.0.0.1"}
		c.auth.Passwords.BcryptCost = 8 // bcrypt dominates a sign-in's work
		c.auth.Passwords.MaxConcurrentHashes = 1
		c.auth.Passwords.HashQueueTimeout = time.Minute // never busy: what is measured is the order
	})
	const accounts = 16
	// One password for all, hashed once: the accounts are the setting, not
	// what is measured.
	hash, err := bcrypt.GenerateFromPassword([]byte("the same password"), 8)
	if err != nil {
		t.Fatal(err)
	}
	for i := range accounts {
		if _, err := a.users.Create(context.Background(), fmt.Sprintf("bot%d", i), string(hash)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.users.Create(context.Background(), "honest", string(hash)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"username":"bot%d","password":"the same password"}`, i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", a.srv.URL+"/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", "203.0.113.50")
				if res, err := http.DefaultClient.Do(req); err == nil {
					_ = res.Body.Close()
				}
			}
		}()
	}
	<-busy
	honest := a.client(t)
	worst := int64(0)
	for range 5 {
		honest.want(honest.do("POST", "/login", creds("honest", "the same password"), "X-Forwarded-For", "198.51.100.1"), http.StatusOK, "")
		worst = max(worst, hashes.n.Load()-arrived.Load())
	}
	close(stop)
	wg.Wait()
	// Its own, the loop's that got the first turn, and the loop's next,
	// started before the answer was sent.
	if worst > 4 {
		t.Errorf("a sign-in from another address saw %d bcrypt runs start from its arrival to its answer, want at most 4", worst)
	}
}

// hashCounter counts the bcrypt runs started.
type hashCounter struct{ n atomic.Int64 }

func (h *hashCounter) HashStarted(time.Duration) { h.n.Add(1) }
func (*hashCounter) HashDone()                   {}
func (*hashCounter) HashBusy()                   {}
func (*hashCounter) UserCacheLookup(bool)        {}

// lookupHook calls fn with every username looked up.
type lookupHook struct {
	models.UserStore[*Account]
	fn func(name string)
}

func (l lookupHook) FindByUsername(ctx context.Context, name string) (*Account, error) {
	l.fn(name)
	return l.UserStore.FindByUsername(ctx, name)
}
