package main

import (
	"crypto/rand"
	"net/http"
	"runtime"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// ginauthHandler returns the builder of the ginauth stacks: the library as
// an application uses it, on its Redis store, with every default but the
// bcrypt cost (10, as in every stack). allCores sets MaxConcurrentHashes to
// GOMAXPROCS, for the most logins per second, where the default keeps half
// the cores for signed-in requests.
func ginauthHandler(allCores bool) func(env serveEnv) (http.Handler, error) {
	return func(env serveEnv) (http.Handler, error) {
		client := redis.NewClient(&redis.Options{Addr: env.redisAddr})
		sessions, err := session.New(session.Config{
			Store:   redisstore.New(client, redisstore.Options{}),
			Secrets: [][]byte{[]byte(rand.Text() + rand.Text())},
		})
		if err != nil {
			return nil, err
		}
		cfg := auth.Config[*models.User]{
			Sessions:  sessions,
			Users:     env.users,
			Passwords: auth.Passwords{BcryptCost: bcryptCost},
		}
		if allCores {
			cfg.Passwords.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
		}
		a, err := auth.New(cfg)
		if err != nil {
			return nil, err
		}
		r := gin.New()
		r.Use(sessions.Middleware())
		handlers.Mount(r.Group("/"), a)
		return r, nil
	}
}
