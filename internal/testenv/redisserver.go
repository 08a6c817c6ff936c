package testenv

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
)

// RedisServer is a redis-server process of a test's own, so that the test
// can stop and start it. Its data survives a restart (append-only file,
// fsync on every write).
type RedisServer struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartRedisServer starts redis-server on a free loopback port, or skips
// (fails with REQUIRE_SERVICES=1) when the binary is missing.
func StartRedisServer(t testing.TB) *RedisServer {
	if _, err := exec.LookPath("redis-server"); err != nil {
		Missing(t, "redis-server", "the binary is not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &RedisServer{t: t, port: port, dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's address.
func (s *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Start starts the server (again) and waits until it answers.
func (s *RedisServer) Start() {
	s.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	Eventually(s.t, "redis-server answers", func() bool { return redisCLI(s.Addr(), "PING") == "PONG" })
}

// Stop kills the server and waits for it to exit.
func (s *RedisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
