package middleware

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
)

// Debug logs one line per request at debug level: method, route, status,
// duration, whether the request was signed in, and its session by a short
// hash of the store key (auth.SessionName), never by ID, and never the
// session's values. It is the guide's "log session operations" middleware,
// without the leak. Install it before Session, so that it logs the final
// status (after the session's commit); a nil logger means the Auth's
// (Config.Logger).
func Debug(a Authenticator, logger *slog.Logger) gin.HandlerFunc {
	if logger == nil {
		logger = a.Logger()
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		logger.Debug("ginauth: request",
			"method", c.Request.Method,
			"route", c.FullPath(),
			"status", c.Writer.Status(),
			"duration", time.Since(start),
			"signedIn", a.IsAuthenticated(c),
			"session", auth.SessionName(c))
	}
}
