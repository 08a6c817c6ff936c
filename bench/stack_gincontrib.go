package main

import (
	"crypto/rand"
	"net/http"
	"runtime"

	"github.com/gin-contrib/sessions"
	contribredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"
)

// gincontribHandler builds the gin-contrib stack: Gin with
// gin-contrib/sessions on its Redis store (redistore over redigo), written
// as its documentation shows. POST /login checks the password with bcrypt
// and saves the user's ID in the session; GET /me reads it back. Its pool
// keeps as many idle connections as go-redis's default pool size, so that
// it does not reconnect under load.
func gincontribHandler(env serveEnv) (http.Handler, error) {
	store, err := contribredis.NewStore(10*runtime.GOMAXPROCS(0), "tcp", env.redisAddr, "", "", []byte(rand.Text()+rand.Text()))
	if err != nil {
		return nil, err
	}
	store.Options(sessions.Options{Path: "/", MaxAge: 24 * 60 * 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})

	r := gin.New()
	r.Use(sessions.Sessions("sid", store))
	r.POST("/login", func(c *gin.Context) {
		var body loginBody
		if err := c.ShouldBindJSON(&body); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "bad request"})
			return
		}
		u, ok := env.users.lookupName(body.Username)
		if !ok || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(body.Password)) != nil {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid credentials"})
			return
		}
		s := sessions.Default(c)
		s.Set("uid", u.AuthID())
		if err := s.Save(); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "store unavailable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
	r.GET("/me", func(c *gin.Context) {
		id, _ := sessions.Default(c).Get("uid").(string)
		u, ok := env.users.lookupID(id)
		if !ok {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "unauthenticated"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
	return r, nil
}
