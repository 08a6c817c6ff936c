package middleware

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/session"
)

// Debug logs one line per request at debug level: method, route, status,
// duration, whether the request was signed in, and its session by a short
// hash of the store key, never by ID, and never the session's values. It
// is the guide's "log session operations" middleware, without the leak.
// Install it before the session middleware, so that it logs the final
// status (after the session's commit); a nil logger means slog.Default().
func Debug(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		log := logger
		if log == nil {
			log = slog.Default()
		}
		s := session.From(c)
		_, signedIn := s.Bound()
		log.Debug("ginauth: request",
			"method", c.Request.Method,
			"route", c.FullPath(),
			"status", c.Writer.Status(),
			"duration", time.Since(start),
			"signedIn", signedIn,
			"session", s)
	}
}
