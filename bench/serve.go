package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
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
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this `file`, from SIGUSR1 to SIGUSR2")
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
	if *cpuprofile != "" {
		stop := profileOnSignal(*cpuprofile)
		defer stop()
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

// profileOnSignal profiles the CPU into file from the first SIGUSR1 to the
// next SIGUSR2 (or the returned stop), so that a profile covers one
// measured phase and nothing of start-up, sign-in or warm-up.
func profileOnSignal(file string) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	done, finished := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var f *os.File
	end := func() {
		if f != nil {
			pprof.StopCPUProfile()
			_ = f.Close()
			f = nil
		}
	}
	go func() {
		for {
			select {
			case <-done:
				end()
				close(finished)
				return
			case sig := <-sigs:
				switch {
				case sig == syscall.SIGUSR1 && f == nil:
					var err error
					if f, err = os.Create(file); err == nil {
						if err = pprof.StartCPUProfile(f); err != nil {
							_ = f.Close()
							f = nil
						}
					}
					if err != nil {
						fmt.Fprintln(os.Stderr, "bench serve: profile:", err)
					}
				case sig == syscall.SIGUSR2:
					end()
				}
			}
		}
	}()
	return func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			<-finished
		})
	}
}
