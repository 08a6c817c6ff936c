package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// A login flood cannot queue bcrypt work without bound: past the slots, a
// login waits HashQueueTimeout, then answers 503 busy with Retry-After.
func TestBusyHashing(t *testing.T) {
	a := newBusyAuth(t, func(c *Config[*models.User]) {
		c.Passwords.MaxConcurrentHashes, c.Passwords.HashQueueTimeout = 2, 10*time.Millisecond
	})
	if a.gate.free != 2 {
		t.Fatalf("gate has %d slots", a.gate.free)
	}
	// Every slot is taken by logins in progress.
	for range 2 {
		release, err := a.gate.enter(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("POST", "/login", nil)
	_, err := a.Authenticate(c, "someone", "a password")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Authenticate with no free slot = %v, want ErrBusy", err)
	}
	var re *RetryError
	if !errors.As(err, &re) || re.After != time.Second {
		t.Errorf("busy answer: %v, want a retry after a second", err)
	}
	// A busy answer is not a failed attempt: nothing was remembered.
	if n := a.throttle.Store.(*MemoryThrottleStore).Len(); n != 0 {
		t.Errorf("a busy login left %d throttle keys", n)
	}
}

// A flood of sign-ins with fresh usernames that hang up while they wait for
// a bcrypt slot makes no key of theirs, counts against their address (which
// is soon refused at once), and leaves a victim's lockout as it was.
func TestHungUpFloodCostsItsAddress(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	throttle := NewMemoryThrottleStore(MemoryThrottleStoreOptions{Size: 64})
	a := newBusyAuth(t, func(c *Config[*models.User]) {
		c.Passwords.MaxConcurrentHashes, c.Passwords.HashQueueTimeout = 1, time.Minute
		c.Throttle.Store = throttle
		c.Now = func() time.Time { return now }
	})
	login := func(ctx context.Context, addr, name string) error {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/login", nil).WithContext(ctx)
		c.Request.RemoteAddr = addr + ":1234"
		_, err := a.Authenticate(c, name, "a password")
		return err
	}
	// The victim's account is locked, then locked again (2 minutes).
	for range 5 {
		if err := login(context.Background(), "198.51.100.1", "victim"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	_ = login(context.Background(), "198.51.100.2", "victim")
	if err := login(context.Background(), "198.51.100.3", "victim"); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("victim: %v, want locked", err)
	}
	// The flood: the only slot is taken, every attempt hangs up waiting.
	hold, err := a.gate.enter(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- login(ctx, "203.0.113.9", fmt.Sprint("fresh", i)) }()
		// Hang up once it waits (or at once, if refused before waiting).
		for {
			a.gate.mu.Lock()
			waiting := len(a.gate.turns) > 0
			a.gate.mu.Unlock()
			if waiting {
				break
			}
			select {
			case err := <-done:
				cancel()
				if !errors.Is(err, ErrTooManyAttempts) {
					t.Fatalf("flood attempt %d: %v", i, err)
				}
				refused++
				goto next
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, ErrBusy) {
			t.Fatalf("a hung-up attempt: %v, want busy", err)
		}
	next:
	}
	hold()
	if want := 1000 - 30; refused != want {
		t.Errorf("%d flood attempts refused at once, want %d (the address locked after 30)", refused, want)
	}
	if n := throttle.Len(); n != 4 {
		t.Errorf("%d throttle keys after the flood, want 4 (the victim's, its two failing addresses', the flooding address's)", n)
	}
	// The victim's lockout runs on, and escalates as before.
	if err := login(context.Background(), "198.51.100.4", "victim"); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("victim after the flood: %v, want still locked", err)
	}
	now = now.Add(2 * time.Minute)
	_ = login(context.Background(), "198.51.100.5", "victim")
	err = login(context.Background(), "198.51.100.6", "victim")
	var re *RetryError
	if !errors.As(err, &re) || re.After != 4*time.Minute {
		t.Errorf("victim's next lockout: %v, want 4m", err)
	}
}

// newBusyAuth returns an Auth on a memory store and a SQLite user table, at
// bcrypt cost 4, configured further by tune.
func newBusyAuth(t *testing.T, tune func(*Config[*models.User])) *Auth[*models.User] {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "u.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	sm, err := session.New(session.Config{
		Store:   memstore.New(memstore.Options{SweepInterval: -1}),
		Secrets: [][]byte{[]byte("busy-test-secret-0123456789abcdef!!")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config[*models.User]{Sessions: sm, Users: users, Passwords: Passwords{BcryptCost: 4, AllowLowCost: true}}
	tune(&cfg)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// A throttle full of live keys refuses attempts on new keys with 503 busy,
// and says so in the log once a minute, not once per refused attempt (whoever
// fills the table also sends them).
func TestThrottleFullWarnsOnceAMinute(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	throttle := NewMemoryThrottleStore(MemoryThrottleStoreOptions{Size: 4})
	var logs bytes.Buffer
	a := newBusyAuth(t, func(c *Config[*models.User]) {
		c.Throttle.Store = throttle
		c.Now = func() time.Time { return now }
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	rule := a.throttle.PerAccount
	for i := range 4 {
		k := ThrottleKey{Key: fmt.Sprint("live:", i), Rule: rule}
		if _, err := throttle.Settle(context.Background(), now, []Settlement{{ThrottleKey: k, Verdict: Failed}}); err != nil {
			t.Fatal(err)
		}
	}
	try := func() {
		t.Helper()
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("POST", "/login", nil)
		if _, err := a.Authenticate(c, "newcomer", "a password"); !errors.Is(err, ErrBusy) {
			t.Fatalf("an attempt on a new key with the throttle full = %v, want ErrBusy", err)
		}
	}
	for range 10 {
		try()
	}
	if n := strings.Count(logs.String(), "throttle is full"); n != 1 {
		t.Errorf("%d warnings for 10 refused attempts, want 1:\n%s", n, logs.String())
	}
	now = now.Add(time.Minute)
	try()
	if n := strings.Count(logs.String(), "throttle is full"); n != 2 {
		t.Errorf("%d warnings a minute later, want 2", n)
	}
}
