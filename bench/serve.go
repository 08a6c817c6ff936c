package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

// serveEnv is what a Go stack's routes are built from.
type serveEnv struct {
	// redisAddr is the host:port of the shared redis-server.
	redisAddr string
	// users are the stack's users, in memory.
	users *userTable
}

// loginBody is the JSON body of POST /login that the Gin stacks other
// than ginauth parse.
type loginBody struct {
	Username string `json:"username" binding:"required"`
	Password string `json:"password" binding:"required"`
}

// serveMain runs the serve subcommand: one Go stack on one address until
// SIGTERM or SIGINT. The comparison starts it as a child process so that
// its CPU time and memory are the stack's alone.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	name := fs.String("stack", "", "the stack to serve")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "host:port of Redis")
	users := fs.Int("users", 1000, "number of users")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, ok := findStack(*name)
	if !ok || st.handler == nil {
		return fmt.Errorf("no Go stack called %q", *name)
	}
	gin.SetMode(gin.ReleaseMode)
	table, err := newUserTable(*users)
	if err != nil {
		return err
	}
	h, err := st.handler(serveEnv{redisAddr: *redisAddr, users: table})
	if err != nil {
		return fmt.Errorf("%s: %w", st.name, err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
