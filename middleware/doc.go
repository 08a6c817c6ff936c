// Package middleware holds the Gin middleware of ginauth: the session
// middleware that loads a request's session and commits it before the
// response goes out, RequireAuth, request body limits, Cache-Control, and
// debug logging.
//
// Every function takes an Authenticator, which any *auth.Auth[U] is, so the
// call sites need no type parameters:
//
//	r.Use(middleware.Session(a))
//	r.GET("/account", middleware.RequireAuth(a), account)
package middleware

import (
	"log/slog"

	"github.com/gin-gonic/gin"
)

// Authenticator is what the middleware needs from an *auth.Auth[U],
// whatever the user type U.
type Authenticator interface {
	Begun(c *gin.Context) bool
	Begin(c *gin.Context) error
	Finish(c *gin.Context)
	IsAuthenticated(c *gin.Context) bool
	SessionExpired(c *gin.Context) bool
	LoginPath() string
	Logger() *slog.Logger
}
