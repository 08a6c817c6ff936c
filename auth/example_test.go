package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// exampleDB opens a SQLite database of its own; close removes it.
func exampleDB() (db *gorm.DB, close func()) {
	dir, _ := os.MkdirTemp("", "auth-example")
	db, _ = gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
		_ = os.RemoveAll(dir)
	}
}

// browser is an HTTP client with a cookie jar, against srv.
type browser struct {
	srv    *httptest.Server
	client *http.Client
}

func newBrowser(srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{srv: srv, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(method, path, body string) string {
	req, _ := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(fmt.Sprint(res.StatusCode, " ", string(out)))
}

// New refuses a configuration that cannot be safe, with an error that says
// why; the zero values of everything else are the OWASP defaults.
func ExampleNew() {
	db, done := exampleDB()
	defer done()
	users := gormusers.New[models.User](db)
	store := memstore.New(memstore.Options{})
	defer store.Close()

	sessions, err := session.New(session.Config{
		Store:   store,
		Secrets: [][]byte{[]byte("a-secret-of-32-bytes-or-more-....")}, // newest first
	})
	if err != nil {
		panic(err)
	}
	_, err = auth.New(auth.Config[*models.User]{Sessions: sessions, Users: users, Passwords: auth.Passwords{BcryptCost: 8}})
	fmt.Println(err)
	fmt.Println(errors.Is(err, auth.ErrConfig))

	a, err := auth.New(auth.Config[*models.User]{Sessions: sessions, Users: users})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	fmt.Println(a.Sessions() == sessions)
	// Output:
	// auth: unsafe configuration: BcryptCost 8 is below 10; set AllowLowCost for tests
	// true
	// true
}

// Account extends the base user with a field of the application's own.
type Account struct {
	models.User
	DisplayName string `json:"displayName"`
}

// An extended user type: the Auth hands handlers an *Account. To change a
// field, write a copy read from the store and drop the cached user: the
// next request sees the change. (The user a.User returns is shared through
// the cache: read it, never write through it.)
func ExampleAuth_User() {
	db, done := exampleDB()
	defer done()
	users := gormusers.New[Account](db)
	_ = users.Migrate()
	store := memstore.New(memstore.Options{})
	defer store.Close()
	sessions, err := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte("a-secret-of-32-bytes-or-more-....")}})
	if err != nil {
		panic(err)
	}
	a, err := auth.New(auth.Config[*Account]{Sessions: sessions, Users: users})
	if err != nil {
		panic(err)
	}
	defer a.Close()

	r := gin.New()
	r.Use(sessions.Middleware())
	handlers.Mount(r.Group("/"), a)
	r.GET("/hello", middleware.RequireAuth(a), func(c *gin.Context) {
		acct, _ := a.User(c) // *Account
		c.String(http.StatusOK, "hello %s", acct.DisplayName)
	})
	r.POST("/profile", middleware.RequireAuth(a), func(c *gin.Context) {
		me, _ := a.User(c)
		acct, err := users.FindByID(c, me.AuthID()) // a copy of our own
		if err != nil {
			middleware.WriteError(c, err)
			return
		}
		acct.DisplayName = c.Query("name")
		if err := users.Update(c, acct, "DisplayName"); err != nil {
			middleware.WriteError(c, err)
			return
		}
		a.InvalidateUser(acct.AuthID())
		c.Status(http.StatusNoContent)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	// An account made outside any request, as a seeding script would.
	if _, err := a.Register(context.Background(), auth.NewUser{Username: "Grace", Password: "correct horse battery"}); err != nil {
		panic(err)
	}
	b := newBrowser(srv)
	fmt.Println(b.do("POST", "/login", `{"username":"grace","password":"correct horse battery"}`)[:3])
	fmt.Println(b.do("POST", "/profile?name=Grace%20Hopper", ""))
	fmt.Println(b.do("GET", "/hello", ""))
	// Output:
	// 200
	// 204
	// 200 hello Grace Hopper
}
