// Command quickstart is the README's quick start, whole: a Gin application
// with ginauth's login flow, users and sessions in SQLite.
package main

import (
	"html/template"
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite" // pure Go: no cgo, nothing to install
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
)

// Account is your user: the base model and your own fields.
type Account struct {
	models.User
	DisplayName string `json:"displayName"`
}

// loginPage is your sign-in page. RequireAuth sends browsers to it with
// ?returnTo= the page they asked for; the form posts that back to /login.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<form method="post" action="/login">
  <input type="hidden" name="returnTo" value="{{.}}">
  <label>Username <input name="username" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button>Sign in</button>
</form>`))

func main() {
	db, err := gorm.Open(sqlite.Open("app.db"), &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	users := gormusers.New[Account](db)
	if err := users.Migrate(); err != nil {
		log.Fatal(err)
	}
	store, err := gormstore.New(db, gormstore.Options{AutoMigrate: true})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := session.New(session.Config{
		Store:   store,
		Secrets: [][]byte{[]byte(os.Getenv("SESSION_SECRET"))}, // 32 bytes or more
	})
	if err != nil {
		log.Fatal(err) // an unsafe configuration is refused here
	}
	a, err := auth.New(auth.Config[*Account]{Sessions: sessions, Users: users})
	if err != nil {
		log.Fatal(err)
	}

	r := gin.Default()
	r.Use(sessions.Middleware())
	handlers.Mount(r.Group("/"), a, handlers.WithRegister()) // POST /login, /register, /logout, GET /me, ...
	// Your sign-in page, where RequireAuth and the form posts send browsers
	// (middleware.DefaultLoginPath; handlers.WithLoginPath to change it).
	r.GET("/login", func(c *gin.Context) {
		c.Header("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(c.Writer, middleware.ReturnTo(c.Query(middleware.ReturnToParam)))
	})
	r.GET("/account", middleware.RequireAuth(a), func(c *gin.Context) {
		acct, _ := a.User(c) // *Account, no type assertion
		c.JSON(http.StatusOK, gin.H{"hello": acct.Username})
	})
	log.Fatal(r.Run("127.0.0.1:8080"))
}
