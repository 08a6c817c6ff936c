package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// floorKeyPrefix prefixes the floor stack's keys: each holds the ID of the
// user named after the prefix.
const floorKeyPrefix = "floor:uid:"

// floorHandler builds the floor stack: bare Gin and one go-redis GET per
// request, with no cookie and no session. GET /me reads the ID of user
// "bench" from Redis and answers that user; POST /login reads the ID of the
// named user and checks the password with bcrypt. It is what any stack on
// Redis costs at least.
func floorHandler(env serveEnv) (http.Handler, error) {
	rdb := redis.NewClient(&redis.Options{Addr: env.redisAddr})
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for name, u := range env.users.byName {
		pipe.Set(ctx, floorKeyPrefix+name, u.AuthID(), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}

	r := gin.New()
	r.GET("/me", func(c *gin.Context) {
		id, err := rdb.Get(c, floorKeyPrefix+username(0)).Result()
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "store unavailable"})
			return
		}
		u, ok := env.users.lookupID(id)
		if !ok {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "unauthenticated"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
	r.POST("/login", func(c *gin.Context) {
		var body loginBody
		if err := c.ShouldBindJSON(&body); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "bad request"})
			return
		}
		id, err := rdb.Get(c, floorKeyPrefix+body.Username).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "store unavailable"})
			return
		}
		u, ok := env.users.lookupID(id)
		if !ok || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(body.Password)) != nil {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid credentials"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
	return r, nil
}
