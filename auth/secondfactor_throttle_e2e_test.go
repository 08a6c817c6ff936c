package auth_test

// The throttle of second-factor codes: whom a lockout locks out, and what
// a code check waits for.

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
)

// sfAppWith is sfApp configured further.
func sfAppWith(t *testing.T, opts ...apptest.Option) *apptest.App {
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	return apptest.NewApp(t, store, db, clock, append([]apptest.Option{withSecondFactor}, opts...)...)
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
