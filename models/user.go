package models

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// User is the base user model: an ID, a unique username, a bcrypt password
// hash and timestamps. Use it as is, or embed it in your own struct.
type User struct {
	ID           uint      `gorm:"primaryKey" json:"id"`
	Username     string    `gorm:"size:191;uniqueIndex;not null" json:"username"`
	PasswordHash string    `gorm:"size:100;not null" json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Authenticatable is what ginauth needs from a user type. *User implements
// it, and so does a pointer to any struct that embeds User.
type Authenticatable interface {
	// AuthID returns the ID that the session stores (Passport's
	// serializeUser). It must be stable and unique.
	AuthID() string
	// AuthUsername returns the normalized username.
	AuthUsername() string
	// AuthPasswordHash returns the bcrypt hash of the password.
	AuthPasswordHash() string
	// SetCredentials sets the username and password hash of a new user.
	SetCredentials(username, passwordHash string)
}

// AuthID implements Authenticatable.
func (u *User) AuthID() string { return strconv.FormatUint(uint64(u.ID), 10) }

// AuthUsername implements Authenticatable.
func (u *User) AuthUsername() string { return u.Username }

// AuthPasswordHash implements Authenticatable.
func (u *User) AuthPasswordHash() string { return u.PasswordHash }

// SetCredentials implements Authenticatable.
func (u *User) SetCredentials(username, passwordHash string) {
	u.Username, u.PasswordHash = username, passwordHash
}

// Errors a UserStore returns. Any other error means the store could not
// answer, and the auth layer reports it as unavailable (503).
var (
	ErrUserNotFound  = errors.New("models: user not found")
	ErrUsernameTaken = errors.New("models: username taken")
)

// UserStore finds and saves users of type U (a pointer type such as
// *models.User or *Account).
type UserStore[U Authenticatable] interface {
	// FindByID returns the user whose AuthID is id, or ErrUserNotFound.
	FindByID(ctx context.Context, id string) (U, error)
	// FindByUsername returns the user with the (normalized) username, or
	// ErrUserNotFound.
	FindByUsername(ctx context.Context, username string) (U, error)
	// Create stores a new user, or answers ErrUsernameTaken.
	Create(ctx context.Context, username, passwordHash string) (U, error)
	// SetPasswordHash replaces the user's password hash.
	SetPasswordHash(ctx context.Context, id, passwordHash string) error
}
