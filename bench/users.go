package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/models"
)

// Every stack hashes with the same bcrypt cost, and every user has the same
// password, which the load driver sends.
const (
	bcryptCost    = 10
	benchPassword = "bench-password-42"
)

// username is the name of the i-th user (counting from 0): "bench" for the
// first, "bench-1", "bench-2" and so on after it. Its ID is i+1.
func username(i int) string {
	if i == 0 {
		return "bench"
	}
	return "bench-" + strconv.Itoa(i)
}

// userTable holds a stack's users in memory, by ID and by username. All of
// them share one bcrypt hash of benchPassword, made at start-up, so that a
// stack with many users starts as fast as one with a single user. It is
// also the models.UserStore that ginauth is given.
type userTable struct {
	mu     sync.RWMutex
	byID   map[string]*models.User
	byName map[string]*models.User
}

var _ models.UserStore[*models.User] = (*userTable)(nil)

// newUserTable makes n users with a fresh hash of benchPassword.
func newUserTable(n int) (*userTable, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), bcryptCost)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	t := &userTable{byID: make(map[string]*models.User, n), byName: make(map[string]*models.User, n)}
	for i := range n {
		u := &models.User{ID: uint(i + 1), Username: username(i), PasswordHash: string(hash), CreatedAt: now, UpdatedAt: now}
		t.byID[u.AuthID()] = u
		t.byName[u.Username] = u
	}
	return t, nil
}

// lookupID returns the user with the ID, shared: callers only read it.
func (t *userTable) lookupID(id string) (*models.User, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	u, ok := t.byID[id]
	return u, ok
}

// lookupName returns the user with the username, shared: callers only read
// it.
func (t *userTable) lookupName(name string) (*models.User, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	u, ok := t.byName[name]
	return u, ok
}

// FindByID implements models.UserStore: a copy of the user with the ID.
func (t *userTable) FindByID(_ context.Context, id string) (*models.User, error) {
	u, ok := t.lookupID(id)
	if !ok {
		return nil, models.ErrUserNotFound
	}
	c := *u
	return &c, nil
}

// FindByUsername implements models.UserStore: a copy of the user with the
// username.
func (t *userTable) FindByUsername(_ context.Context, name string) (*models.User, error) {
	u, ok := t.lookupName(name)
	if !ok {
		return nil, models.ErrUserNotFound
	}
	c := *u
	return &c, nil
}

// Create implements models.UserStore. The comparison registers nobody, but
// the store works as any other would.
func (t *userTable) Create(_ context.Context, name, passwordHash string) (*models.User, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, taken := t.byName[name]; taken {
		return nil, models.ErrUsernameTaken
	}
	now := time.Now().UTC()
	u := &models.User{ID: uint(len(t.byID) + 1), Username: name, PasswordHash: passwordHash, CreatedAt: now, UpdatedAt: now}
	t.byID[u.AuthID()] = u
	t.byName[name] = u
	c := *u
	return &c, nil
}

// SetPasswordHash implements models.UserStore. It replaces the stored user
// rather than changing it, since other requests may be reading it.
func (t *userTable) SetPasswordHash(_ context.Context, id, passwordHash string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.byID[id]
	if !ok {
		return fmt.Errorf("%w: %s", models.ErrUserNotFound, id)
	}
	c := *u
	c.PasswordHash, c.UpdatedAt = passwordHash, time.Now().UTC()
	t.byID[id], t.byName[c.Username] = &c, &c
	return nil
}
