package auth_test

// The throttle of second-factor codes: whom a lockout locks out, and what
// a code check waits for.

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
)

// sfAppWith is sfApp configured further.
func sfAppWith(t *testing.T, opts ...apptest.Option) *apptest.App {
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	return apptest.NewApp(t, store, db, clock, append([]apptest.Option{withSecondFactor}, opts...)...)
}

// from is the headers of a request from the client address ip (behind the
// trusted proxy at 127.0.0.1).
func from(ip string) []string { return []string{"X-Forwarded-For", ip} }

// Someone who has the password can reach the code step from a browser of
// their own and guess codes until it is locked. That locks every browser
// that never signed in to the account (the account's budget: a new
// browser per guess gets no more), but not the owner's browser that did:
// it holds a device cookie of the account, and its codes count on a
// budget of its own, which is bounded too.
func TestSecondFactorLockoutSparesTheOwnersDevice(t *testing.T) {
	var ev apptest.Events
	a := sfAppWith(t, func(c *apptest.Config) {
		c.Session.TrustedProxies = []string{"127.0.0.1"}
		c.Auth.OnEvent = ev.Add
	})
	const pw = "uma's good password"
	owner := a.Client(t)
	owner.Register("uma", pw)
	secret, _ := enrol(t, a, owner)
	// The owner's browser signs in with both factors once, and out.
	owner.Do("POST", "/logout", nil)
	a.Clock.Advance(30 * time.Second)
	owner.Want(owner.Do("POST", "/login", apptest.Creds("uma", pw), from("198.51.100.9")...), http.StatusOK, "")
	owner.Want(owner.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}, from("198.51.100.9")...), http.StatusOK, "")
	owner.Do("POST", "/logout", nil)

	// The password holder locks the code step. (No time passes from here
	// on: the lockout lasts a minute. A code refused by a lockout is not
	// used up.)
	a.Clock.Advance(30 * time.Second)
	attacker := a.Client(t)
	attacker.Want(attacker.Do("POST", "/login", apptest.Creds("uma", pw), from("203.0.113.66")...), http.StatusOK, "")
	for range 5 {
		attacker.Want(attacker.Do("POST", "/login/2fa", map[string]any{"code": "123456"}, from("203.0.113.66")...), http.StatusUnauthorized, "invalid_code")
	}
	attacker.Want(attacker.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}, from("203.0.113.66")...), http.StatusTooManyRequests, "too_many_attempts")
	if n := ev.Count(auth.EventLockout, "second_factor"); n != 1 {
		t.Errorf("%d second-factor lockout events, want 1", n)
	}

	// The owner's known browser signs in: password, then the right code.
	owner.Want(owner.Do("POST", "/login", apptest.Creds("uma", pw), from("198.51.100.9")...), http.StatusOK, "")
	owner.Want(owner.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}, from("198.51.100.9")...), http.StatusOK, "")
	owner.Want(owner.Do("GET", "/me", nil), http.StatusOK, "")

	// The owner's success leaves the attacker locked out. A browser that
	// never signed in, from an address that never failed, is locked out
	// too, with a right code not yet used (the next time step's): the
	// account's budget.
	next := codeAt(t, secret, a.Clock.Now().Add(30*time.Second))
	attacker.Want(attacker.Do("POST", "/login/2fa", map[string]any{"code": next}, from("203.0.113.66")...), http.StatusTooManyRequests, "too_many_attempts")
	stranger := a.Client(t)
	stranger.Want(stranger.Do("POST", "/login", apptest.Creds("uma", pw), from("198.51.100.7")...), http.StatusOK, "")
	stranger.Want(stranger.Do("POST", "/login/2fa", map[string]any{"code": next}, from("198.51.100.7")...), http.StatusTooManyRequests, "too_many_attempts")

	// The owner's browser has a budget of its own, as bounded: five wrong
	// codes lock it too.
	owner.Do("POST", "/logout", nil)
	owner.Want(owner.Do("POST", "/login", apptest.Creds("uma", pw), from("198.51.100.9")...), http.StatusOK, "")
	for range 5 {
		owner.Want(owner.Do("POST", "/login/2fa", map[string]any{"code": "654321"}, from("198.51.100.9")...), http.StatusUnauthorized, "invalid_code")
	}
	owner.Want(owner.Do("POST", "/login/2fa", map[string]any{"code": next}, from("198.51.100.9")...), http.StatusTooManyRequests, "too_many_attempts")
	if n := ev.Count(auth.EventLockout, "second_factor"); n != 4 {
		t.Errorf("%d second-factor lockout events, want 4", n)
	}
}

// codeAt is the authenticator app's code for secret at a time.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Wrong codes from a browser without a device cookie count on its client
// address too, across accounts: one address holding the passwords of many
// accounts gets the address's budget of code guesses in all, not each
// account's.
func TestSecondFactorGuessesCountPerAddress(t *testing.T) {
	a := sfAppWith(t, func(c *apptest.Config) {
		c.Session.TrustedProxies = []string{"127.0.0.1"}
		c.Auth.Throttle.PerIP = auth.ThrottleRule{Failures: 3, Window: 15 * time.Minute, BaseDelay: time.Minute}
	})
	secrets := map[string]string{}
	for _, name := range []string{"vic", "wes"} {
		cl := a.Client(t)
		cl.Register(name, name+"'s good password")
		secrets[name], _ = enrol(t, a, cl)
	}
	a.Clock.Advance(30 * time.Second)
	onVic, onWes := a.Client(t), a.Client(t)
	onVic.Want(onVic.Do("POST", "/login", apptest.Creds("vic", "vic's good password"), from("203.0.113.66")...), http.StatusOK, "")
	onWes.Want(onWes.Do("POST", "/login", apptest.Creds("wes", "wes's good password"), from("203.0.113.66")...), http.StatusOK, "")
	// Three wrong codes on vic's account (under its own limit of five)
	// lock the address.
	for range 3 {
		onVic.Want(onVic.Do("POST", "/login/2fa", map[string]any{"code": "123456"}, from("203.0.113.66")...), http.StatusUnauthorized, "invalid_code")
	}
	onWes.Want(onWes.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secrets["wes"])}, from("203.0.113.66")...), http.StatusTooManyRequests, "too_many_attempts")
	// wes's account is not locked: from elsewhere, the code goes through.
	elsewhere := a.Client(t)
	elsewhere.Want(elsewhere.Do("POST", "/login", apptest.Creds("wes", "wes's good password"), from("198.51.100.7")...), http.StatusOK, "")
	elsewhere.Want(elsewhere.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secrets["wes"])}, from("198.51.100.7")...), http.StatusOK, "")
}

// A code check (an HMAC and a store query) takes no bcrypt slot: with
// every slot held by a password check, the second step of a sign-in, a
// re-authentication with a code and an enrolment's confirmation all go
// through, and none of them counts as a hash started.
func TestSecondFactorTakesNoHashSlot(t *testing.T) {
	var slots slotHolder
	a := sfAppWith(t, func(c *apptest.Config) {
		c.Auth.Metrics = &slots
		c.Auth.Passwords.MaxConcurrentHashes = 1
		c.Auth.Passwords.HashQueueTimeout = 100 * time.Millisecond // busy soon, if it waited
	})
	owner := a.Client(t)
	owner.Register("xia", "xia's good password")
	before := slots.started.Load()
	secret, _ := enrol(t, a, owner)
	if n := slots.started.Load() - before; n != 0 {
		t.Errorf("an enrolment's confirmation started %d hashes", n)
	}
	a.Clock.Advance(30 * time.Second)
	cl := a.Client(t)
	pending(t, cl, "xia", "xia's good password")

	// A password check holds the only slot.
	release := slots.hold()
	defer release() // also when the test fails first
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Client(t).Do("POST", "/login", apptest.Creds("xia", "a wrong password"))
	}()
	slots.waitHeld()
	before = slots.started.Load()
	cl.Want(cl.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusOK, "")
	a.Clock.Advance(30 * time.Second)
	owner.Want(owner.Do("POST", "/reauth", map[string]any{"code": code(t, a, secret)}), http.StatusOK, "")
	if n := slots.started.Load() - before; n != 0 {
		t.Errorf("code checks started %d hashes", n)
	}
	release()
	<-done
}

// slotHolder is a Metrics that counts the hashes started and can keep the
// slot of the next one: hold makes the next HashStarted (called holding
// its slot) wait until the release hold returned is called.
type slotHolder struct {
	started atomic.Int64

	mu      sync.Mutex
	release chan struct{} // the next HashStarted waits for it, when set
	held    chan struct{} // closed once it waits
}

func (h *slotHolder) hold() (release func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.release, h.held = make(chan struct{}), make(chan struct{})
	ch := h.release
	return sync.OnceFunc(func() { close(ch) })
}

func (h *slotHolder) waitHeld() {
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	<-held
}

func (h *slotHolder) HashStarted(time.Duration) {
	h.started.Add(1)
	h.mu.Lock()
	release, held := h.release, h.held
	h.release = nil
	h.mu.Unlock()
	if release != nil {
		close(held)
		<-release
	}
}
func (*slotHolder) HashDone()            {}
func (*slotHolder) HashBusy()            {}
func (*slotHolder) UserCacheLookup(bool) {}
