package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm/logger"
)

// parseLogFormat reads LOG_FORMAT: text (the default: key=value) or json
// (one JSON object a line, with time, level and msg).
func parseLogFormat(v string) (string, error) {
	switch strings.ToLower(v) {
	case "", "text":
		return "text", nil
	case "json":
		return "json", nil
	}
	return "", fmt.Errorf("LOG_FORMAT: want text or json, got %q", v)
}

// parseLogLevel reads LOG_LEVEL: debug, info (the default), warn or error.
func parseLogLevel(v string) (slog.Level, error) {
	switch strings.ToLower(v) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL: want debug, info, warn or error, got %q", v)
}

// newLogger is the app's logger on w, in cfg's format, from cfg's level up.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	return slog.New(newLogHandler(cfg.logFormat, cfg.logLevel, w))
}

func newLogHandler(format string, level slog.Leveler, w io.Writer) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// auditLogger is the audit trail's logger: on w, in cfg's format, at
// every LOG_LEVEL (its records are at Info: a level chosen to quiet the
// log must not drop the audit trail).
func auditLogger(cfg config, w io.Writer) *slog.Logger {
	return slog.New(newLogHandler(cfg.logFormat, slog.LevelInfo, w))
}

// routeProcessLogs sends what the process's libraries log on their own
// (the standard log package, hence net/http's server errors; go-redis;
// Gin's warnings) through log, so that one stream has one format. These
// loggers are the process's globals: main sets them once, before serving
// or running a command.
func routeProcessLogs(log *slog.Logger) {
	slog.SetDefault(log) // the log package's default logger too, at Info
	redis.SetLogger(redisLogger{log})
	gin.DefaultWriter = slog.NewLogLogger(log.Handler(), slog.LevelInfo).Writer()
	gin.DefaultErrorWriter = slog.NewLogLogger(log.Handler(), slog.LevelError).Writer()
}

// redisLogger is go-redis's logger on slog. What go-redis logs by itself
// is about trouble (a connection pool, a Sentinel failover, a Cluster
// reload): a warning.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "from", "go-redis")
}

// gormLogger is GORM's logger on slog: SQL errors and statements slower
// than 200 ms, and every statement at LOG_LEVEL=debug; statements with
// placeholders, never their values (a failed INSERT of a user would
// otherwise print the password hash). A lookup that finds nothing is not
// an error.
func gormLogger(log *slog.Logger) logger.Interface {
	level := logger.Warn
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = logger.Info
	}
	return logger.NewSlogLogger(log.With("from", "gorm"), logger.Config{
		SlowThreshold: 200 * time.Millisecond, LogLevel: level,
		ParameterizedQueries: true, IgnoreRecordNotFoundError: true,
	})
}

// requestLog logs each request once it is answered: "request" with its
// method, path (without the query), status, milliseconds taken, size and the
// client's address (c.ClientIP(), which believes X-Forwarded-For from the
// trusted proxies only). At Info; answers of 500 and up at Warn.
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		log.LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("size", max(c.Writer.Size(), 0)),
			slog.String("ip", c.ClientIP()))
	}
}

// recoverPanics answers 500 to a request whose handler panicked, and logs
// the panic with its stack at Error, as one record.
func recoverPanics(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		log.Error("panic while serving a request", "method", c.Request.Method, "path", c.Request.URL.Path,
			"err", fmt.Sprint(err), "stack", string(debug.Stack()))
		c.AbortWithStatus(http.StatusInternalServerError)
	})
}
