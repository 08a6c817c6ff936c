package handlers_test

import (
	"fmt"
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

// A whole application: users in SQLite, sessions in memory, the prebuilt
// routes under /auth, and a page of its own behind RequireAuth.
func ExampleMount() {
	dir, _ := os.MkdirTemp("", "ginauth-example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	users := gormusers.New[models.User](db)
	_ = users.Migrate()
	store := memstore.New(memstore.Options{})
	defer store.Close()

	sessions, err := session.New(session.Config{
		Store:   store,
		Secrets: [][]byte{[]byte("use-32-or-more-random-bytes-here!!")},
	})
	if err != nil {
		panic(err)
	}
	a, err := auth.New(auth.Config[*models.User]{Sessions: sessions, Users: users})
	if err != nil {
		panic(err)
	}
	r := gin.New()
	r.Use(sessions.Middleware())
	handlers.Mount(r.Group("/auth"), a, handlers.WithRegister())
	r.GET("/account", middleware.RequireAuth(a), func(c *gin.Context) {
		u, _ := a.User(c) // *models.User
		c.String(http.StatusOK, "hello %s", u.Username)
	})

	srv := httptest.NewServer(r)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path, body string) int {
		res, err := client.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	get := func(path string) string {
		res, err := client.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := res.Body.Read(buf)
		b.Write(buf[:n])
		return fmt.Sprint(res.StatusCode, " ", b.String())
	}

	fmt.Println(get("/account"))
	fmt.Println(post("/auth/register", `{"username":"Ada","password":"correct horse battery"}`))
	fmt.Println(get("/account"))
	fmt.Println(post("/auth/logout", ``))
	fmt.Println(get("/account"))
	// Output:
	// 401 {"code":"unauthenticated","error":"Sign in to continue."}
	// 201
	// 200 hello ada
	// 204
	// 401 {"code":"unauthenticated","error":"Sign in to continue."}
}
