package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveWith serves the example app with cfg's HTTP timeouts on a listener
// of its own, and returns its address.
func serveWith(t *testing.T, cfg config) string {
	t.Helper()
	a, _, _ := testApp(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(cfg, ln.Addr().String(), a.handler, a.log)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// closedWithin reports whether the server ends the connection (an answer
// and then EOF, or a reset) before the client gives up waiting.
func closedWithin(t *testing.T, c net.Conn, wait time.Duration) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// A client that sends a body more slowly than the read timeout allows, or
// keeps an idle connection open past the idle timeout, is cut off: neither
// holds a connection (and a goroutine) of the server for long.
func TestServerTimeouts(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.readHeaderTimeout <= 0 || cfg.readTimeout <= 0 || cfg.writeTimeout <= 0 || cfg.idleTimeout <= 0 {
		t.Fatalf("a default HTTP timeout is unset: %+v", cfg)
	}
	env := map[string]string{"HTTP_WRITE_TIMEOUT": "45s"}
	if c, err := loadConfig(func(k string) string { return env[k] }); err != nil || c.writeTimeout != 45*time.Second {
		t.Errorf("HTTP_WRITE_TIMEOUT=45s: %v, %s", err, c.writeTimeout)
	}
	env["HTTP_WRITE_TIMEOUT"] = "0"
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
		t.Error("HTTP_WRITE_TIMEOUT=0 was accepted")
	}
	// Short timeouts, so that the test runs fast; the client waits far
	// longer than them before it calls the connection kept open.
	cfg.readHeaderTimeout, cfg.readTimeout, cfg.writeTimeout, cfg.idleTimeout = 200*time.Millisecond, 300*time.Millisecond, time.Second, 300*time.Millisecond
	addr := serveWith(t, cfg)
	const wait = 5 * time.Second

	t.Run("a slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
		if !closedWithin(t, c, wait) {
			t.Errorf("a body of 1 byte out of 60000 kept the connection open %s", wait)
		}
	})
	t.Run("an idle keep-alive connection", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Close {
			t.Fatalf("GET /healthz: %d, close %v", res.StatusCode, res.Close)
		}
		if !closedWithin(t, c, wait) {
			t.Errorf("an idle connection stayed open %s", wait)
		}
	})
}

// "serve" alone serves; with a flag (--help) or an argument it is a
// command line for admin, which prints the help or a usage error, and
// starts no server.
func TestServing(t *testing.T) {
	for _, args := range [][]string{nil, {"serve"}} {
		if !serving(args) {
			t.Errorf("%q does not serve", args)
		}
	}
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"serve", "now"}, {"users", "list"}} {
		if serving(args) {
			t.Errorf("%q serves", args)
		}
	}
	if r := runAdmin(t, nil, "", "serve", "--help"); r.code != exitOK || r.stdout != adminUsage {
		t.Errorf("serve --help: %+v", r)
	}
	if r := runAdmin(t, nil, "", "serve", "now"); r.code != exitUsage {
		t.Errorf("serve now: %+v", r)
	}
}

// A drain that runs out says so, rather than "context deadline exceeded".
func TestDrainRunsOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		if res, err := http.Get("http://" + ln.Addr().String()); err == nil {
			res.Body.Close()
		}
	}()
	<-started
	err = drain([]*http.Server{srv}, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "requests still running 50ms after the stop were cut off") {
		t.Errorf("drain: %v", err)
	}
}
