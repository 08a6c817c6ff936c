package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// A login flood cannot queue bcrypt work without bound: past the slots, a
// login waits HashQueueTimeout, then answers 503 busy with Retry-After.
func TestBusyHashing(t *testing.T) {
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "u.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{SweepInterval: -1})
	a, err := New(Config[*models.User]{
		Store: store, Users: users, Secrets: [][]byte{[]byte("busy-test-secret-0123456789abcdef!!")},
		BcryptCost: 4, AllowLowBcryptCost: true, MaxConcurrentHashes: 2, HashQueueTimeout: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cap(a.hasher.gate.slots) != 2 {
		t.Fatalf("gate has %d slots", cap(a.hasher.gate.slots))
	}
	// Every slot is taken by logins in progress.
	for range 2 {
		release, err := a.hasher.gate.enter(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("POST", "/login", nil)
	_, err = a.Authenticate(c, "someone", "a password")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Authenticate with no free slot = %v, want ErrBusy", err)
	}
	WriteProblem(c, err)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("busy answer: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	// A busy answer is not a failed attempt: its reservation was given back.
	m := a.throttle.Store.(*MemoryThrottle)
	for _, k := range m.cache.Keys() {
		if s, _ := m.cache.Peek(k); s.count != 0 {
			t.Errorf("a busy login counted against the throttle key %s: %d", k, s.count)
		}
	}
}
