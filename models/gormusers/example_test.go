package gormusers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// Customer is an application's user: the base model plus its own fields.
type Customer struct {
	models.User
	Email string `json:"email"`
	Plan  string `json:"plan"`
}

// Extending the user model: embed models.User, and the store (and the auth
// package, given *Customer as its type) works with your type.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "models-example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})

	users := gormusers.New[Customer](db)
	if err := users.Migrate(); err != nil {
		panic(err)
	}
	ctx := context.Background()
	c, _ := users.Create(ctx, "grace", "$2a$12$…a bcrypt hash…")
	db.Model(c).Updates(Customer{Email: "grace@example.org", Plan: "pro"})

	found, _ := users.FindByUsername(ctx, "grace")
	out, _ := json.Marshal(map[string]any{"username": found.Username, "email": found.Email, "plan": found.Plan})
	fmt.Println(string(out))
	whole, _ := json.Marshal(found)
	fmt.Println("hash in JSON:", strings.Contains(string(whole), "$2a$"))
	// Output:
	// {"email":"grace@example.org","plan":"pro","username":"grace"}
	// hash in JSON: false
}

// Reader is an application's user with an email address: embedding
// models.Email gives the store its address methods (models.EmailStore),
// which the auth package finds by a type assertion.
type Reader struct {
	models.User
	models.Email
}

// Email addresses: stored as given (the auth package normalizes them),
// unverified until the link sent to the address comes back.
func ExampleStore_CreateWithEmail() {
	dir, _ := os.MkdirTemp("", "models-example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})

	users := gormusers.New[Reader](db)
	if err := users.Migrate(); err != nil {
		panic(err)
	}
	var _ models.EmailStore[*Reader] = users
	var _ models.TokenStore = users

	ctx := context.Background()
	r, _ := users.CreateWithEmail(ctx, "ada", "$2a$12$…a bcrypt hash…", "ada@example.org")
	fmt.Println(r.AuthEmail(), r.AuthEmailVerified())

	_, err := users.CreateWithEmail(ctx, "ada2", "$2a$12$…", "ada@example.org")
	fmt.Println(errors.Is(err, models.ErrEmailTaken))

	_ = users.MarkEmailVerified(ctx, r.AuthID(), "ada@example.org")
	found, _ := users.FindByEmail(ctx, "ada@example.org")
	out, _ := json.Marshal(found.Email)
	fmt.Println(string(out))
	// Output:
	// ada@example.org false
	// true
	// {"email":"ada@example.org","emailVerified":true}
}
