package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// RequireAuth lets signed-in requests through; an API client gets 401 JSON,
// a browser a redirect to the login page that carries the page it asked for.
func ExampleRequireAuth() {
	dir, _ := os.MkdirTemp("", "middleware-example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	users := gormusers.New[models.User](db)
	_ = users.Migrate()
	store := memstore.New(memstore.Options{})
	defer store.Close()
	sessions, err := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte("a-secret-of-32-bytes-or-more-....")}})
	if err != nil {
		panic(err)
	}
	a, err := auth.New(auth.Config[*models.User]{Sessions: sessions, Users: users})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	_, _ = a.Register(context.Background(), auth.NewUser{Username: "lin", Password: "correct horse battery"})

	r := gin.New()
	r.Use(sessions.Middleware())
	r.POST("/login", func(c *gin.Context) {
		u, err := a.Authenticate(c, "lin", "correct horse battery")
		if err == nil {
			err = a.Login(c, u, auth.LoginOptions{})
		}
		if err != nil {
			middleware.WriteError(c, err)
		}
	})
	r.GET("/account", middleware.RequireAuth(a), func(c *gin.Context) {
		u, _ := a.User(c)
		c.String(http.StatusOK, "hello %s", u.Username)
	})

	show := func(req *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if loc := w.Header().Get("Location"); loc != "" {
			fmt.Println(w.Code, loc)
		} else {
			fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
		}
		return w
	}
	show(httptest.NewRequest("GET", "/account", nil)) // an API client
	browser := httptest.NewRequest("GET", "/account?tab=keys", nil)
	browser.Header.Set("Accept", "text/html")
	show(browser)
	login := show(httptest.NewRequest("POST", "/login", nil))
	signedIn := httptest.NewRequest("GET", "/account", nil)
	signedIn.AddCookie(login.Result().Cookies()[0])
	show(signedIn)
	// Output:
	// 401 {"code":"unauthenticated","error":"Sign in to continue."}
	// 303 /login?returnTo=%2Faccount%3Ftab%3Dkeys
	// 200
	// 200 hello lin
}
