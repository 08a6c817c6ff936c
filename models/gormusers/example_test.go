package gormusers_test

import (
	"context"
	"encoding/json"
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
