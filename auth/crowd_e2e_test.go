package auth_test

// The throttle under abuse, and under honest crowds: what one address, or
// many people behind one, can and cannot do to sign-in.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/problem"
)

// patient sends a request again while it is answered 503 with Retry-After,
// as a client honouring it would (without the wait: the server's clock is
// not the test's), and returns the first other answer.
func patient(t testing.TB, cl *apptest.Client, method, path string, body any, headers ...string) *apptest.Response {
	t.Helper()
	for range 200 {
		r := cl.Do(method, path, body, headers...)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			return r
		}
	}
	t.Fatalf("%s %s: still 503 after 200 tries", method, path)
	return nil
}

// Fifty people behind one address (an office, a classroom, a carrier's
// NAT) register and sign in at the same moment: none has failed anything,
// so none is refused or recorded as a lockout.
func TestHonestCrowdBehindOneAddress(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		const n = 50
		var ev apptest.Events
		a := apptest.NewEnv(t, b, withBarrier(n), func(c *apptest.Config) { c.Auth.OnEvent = ev.Add })
		clients := make([]*apptest.Client, n)
		for i := range clients {
			clients[i] = a.Client(t)
		}
		crowd := func(path string, want int) {
			var wg sync.WaitGroup
			statuses := make([]*apptest.Response, n)
			for i, cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = patient(t, cl, "POST", path, apptest.Creds(fmt.Sprintf("person%d", i), "a long enough password"))
				}()
			}
			wg.Wait()
			for i, r := range statuses {
				if r.Status != want {
					t.Errorf("%s of person%d: %d %s, want %d", path, i, r.Status, r.Body, want)
				}
			}
		}
		crowd("/register", http.StatusCreated)
		crowd("/login", http.StatusOK)
		if n := ev.Count(auth.EventLockout, ""); n != 0 {
			t.Errorf("%d lockout events for a crowd that failed nothing", n)
		}
		if n := ev.Count(auth.EventLoginFailure, ""); n != 0 {
			t.Errorf("%d login failures for a crowd that failed nothing", n)
		}
	})
}

// Parallel sign-ins of one account with the right password (tabs restored
// at once, a script, a shared account) are not failures: they never lock
// the account.
func TestParallelCorrectSignInsOfOneAccount(t *testing.T) {
	const n = 12
	var ev apptest.Events
	a := apptest.NewEnv(t, apptest.Backends[0], withBarrier(n), func(c *apptest.Config) { c.Auth.OnEvent = ev.Add })
	a.Client(t).Register("olga", "olga's password")
	var wg sync.WaitGroup
	rs := make([]*apptest.Response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i] = patient(t, a.Client(t), "POST", "/login", apptest.Creds("olga", "olga's password"))
		}()
	}
	wg.Wait()
	for i, r := range rs {
		if r.Status != http.StatusOK {
			t.Errorf("sign-in %d: %d %s", i, r.Status, r.Body)
		}
	}
	if n := ev.Count(auth.EventLockout, ""); n != 0 {
		t.Errorf("%d lockout events for sign-ins that all had the right password", n)
	}
	// Nothing was counted: five wrong passwords still answer 401.
	cl := a.Client(t)
	for range 5 {
		cl.Want(cl.Do("POST", "/login", apptest.Creds("olga", "wrong password")), http.StatusUnauthorized, "invalid_credentials")
	}
}

// Anyone can lock an account from outside; its owner's browser, which
// signed in before, still gets in with its own small budget, while unknown
// clients stay locked out. A signed-in owner's password change is not
// refused by the login's lockout.
func TestLockoutSparesTheOwnersDevice(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.TrustedProxies = []string{"127.0.0.1"} })
	owner := a.Client(t)
	owner.Register("vera", "vera's password")
	owner.Login("vera", "vera's password")
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	attacker := a.Client(t)
	for range 5 {
		attacker.Want(attacker.Do("POST", "/login", apptest.Creds("vera", "guess guess"), from("203.0.113.66")...), http.StatusUnauthorized, "invalid_credentials")
	}
	attacker.Want(attacker.Do("POST", "/login", apptest.Creds("vera", "vera's password"), from("203.0.113.66")...), http.StatusTooManyRequests, "too_many_attempts")
	stranger := a.Client(t)
	stranger.Want(stranger.Do("POST", "/login", apptest.Creds("vera", "vera's password"), from("198.51.100.7")...), http.StatusTooManyRequests, "too_many_attempts")

	// The signed-in owner changes the password: not refused by the lockout.
	r := owner.Do("POST", "/password", map[string]any{"currentPassword": "vera's password", "newPassword": "vera's new password"}, from("198.51.100.9")...)
	owner.Want(r, http.StatusOK, "")
	// Signed out (or on another tab), the owner's browser still signs in.
	owner.Do("POST", "/logout", nil)
	owner.Want(owner.Do("POST", "/login", apptest.Creds("vera", "vera's new password"), from("198.51.100.9")...), http.StatusOK, "")
	// The attacker, re-locking, still cannot get in, even with the password.
	attacker.Want(attacker.Do("POST", "/login", apptest.Creds("vera", "vera's new password"), from("203.0.113.66")...), http.StatusTooManyRequests, "too_many_attempts")

	// The owner's device has a budget of its own: five wrong passwords lock
	// that device, not the account's other devices.
	owner.Do("POST", "/logout", nil)
	for range 5 {
		owner.Want(owner.Do("POST", "/login", apptest.Creds("vera", "a typo typo"), from("198.51.100.9")...), http.StatusUnauthorized, "invalid_credentials")
	}
	owner.Want(owner.Do("POST", "/login", apptest.Creds("vera", "vera's new password"), from("198.51.100.9")...), http.StatusTooManyRequests, "too_many_attempts")
}

// A signed-in client guessing the current password at POST /password is
// throttled like a login: five wrong answers, then the sixth, even right,
// is 429 with a lockout event.
func TestPasswordChangeIsThrottled(t *testing.T) {
	var ev apptest.Events
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Auth.OnEvent = ev.Add })
	cl := a.Client(t)
	cl.Register("walt", "walt's password")
	cl.Login("walt", "walt's password")
	change := func(current string) *apptest.Response {
		return cl.Do("POST", "/password", map[string]any{"currentPassword": current, "newPassword": "walt's new password"})
	}
	for range 5 {
		cl.Want(change("not the password"), http.StatusUnauthorized, "invalid_credentials")
	}
	cl.Want(change("walt's password"), http.StatusTooManyRequests, "too_many_attempts")
	if ev.Count(auth.EventLockout, "") != 1 {
		t.Errorf("%d lockout events, want 1", ev.Count(auth.EventLockout, ""))
	}
	a.Clock.Advance(time.Minute)
	cl.Want(change("walt's password"), http.StatusOK, "")
}

// One address cannot create accounts without limit; another address is
// not affected.
func TestRegistrationsPerAddressAreLimited(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Session.TrustedProxies = []string{"127.0.0.1"} })
	cl := a.Client(t)
	created := 0
	var last *apptest.Response
	for i := range 400 {
		last = patient(t, cl, "POST", "/register", apptest.Creds(fmt.Sprintf("bulk%d", i), "a long enough password"), "X-Forwarded-For", "203.0.113.9")
		if last.Status != http.StatusCreated {
			break
		}
		created++
	}
	if last.Status != http.StatusTooManyRequests {
		t.Fatalf("%d accounts created from one address, then %d %s; want a 429 after a limit", created, last.Status, last.Body)
	}
	if created < 50 {
		t.Errorf("only %d registrations from one address before the limit: a classroom needs 50", created)
	}
	if msg, _ := last.JSON["error"].(string); msg == problem.TooManyAttempts.Message {
		t.Errorf("a registration refusal speaks of sign-ins: %q", msg)
	}
	cl.Want(patient(t, cl, "POST", "/register", apptest.Creds("elsewhere", "a long enough password"), "X-Forwarded-For", "198.51.100.20"), http.StatusCreated, "")
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
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) {
		c.Auth.Metrics = &hashes
		c.Auth.OnEvent = func(e auth.Event) {
			if e.Type == auth.EventLoginSuccess && strings.HasPrefix(e.Username, "bot") && bots.Add(1) == 8 {
				close(busy) // the loop has been at it for a while
			}
		}
		c.Auth.Users = lookupHook{UserStore: c.Auth.Users, fn: func(name string) {
			if name == "honest" {
				arrived.Store(hashes.n.Load())
			}
		}}
		c.Session.TrustedProxies = []string{"127.0.0.1"}
		c.Auth.Passwords.BcryptCost = 8 // bcrypt dominates a sign-in's work
		c.Auth.Passwords.MaxConcurrentHashes = 1
		c.Auth.Passwords.HashQueueTimeout = time.Minute // never busy: what is measured is the order
	})
	const accounts = 16
	// One password for all, hashed once: the accounts are the setting, not
	// what is measured.
	hash, err := bcrypt.GenerateFromPassword([]byte("the same password"), 8)
	if err != nil {
		t.Fatal(err)
	}
	for i := range accounts {
		if _, err := a.Users.Create(context.Background(), fmt.Sprintf("bot%d", i), string(hash)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Users.Create(context.Background(), "honest", string(hash)); err != nil {
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
				req, _ := http.NewRequest("POST", a.Server.URL+"/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", "203.0.113.50")
				if res, err := http.DefaultClient.Do(req); err == nil {
					_ = res.Body.Close()
				}
			}
		}()
	}
	<-busy
	honest := a.Client(t)
	worst := int64(0)
	for range 5 {
		honest.Want(honest.Do("POST", "/login", apptest.Creds("honest", "the same password"), "X-Forwarded-For", "198.51.100.1"), http.StatusOK, "")
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
	models.UserStore[*apptest.Account]
	fn func(name string)
}

func (l lookupHook) FindByUsername(ctx context.Context, name string) (*apptest.Account, error) {
	l.fn(name)
	return l.UserStore.FindByUsername(ctx, name)
}
