package testenv

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartRedisCluster starts a Redis Cluster of three masters on free loopback
// ports (redis-server processes of the test's own, joined with
// redis-cli --cluster create) and returns their addresses once the cluster
// is up. It skips (fails with REQUIRE_SERVICES=1) without the binaries.
func StartRedisCluster(t testing.TB) []string {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			Missing(t, "Redis Cluster", bin+" is not on PATH")
		}
	}
	var addrs []string
	for range 3 {
		port := freePort(t)
		dir := t.TempDir()
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf", "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		addr := "127.0.0.1:" + strconv.Itoa(port)
		Eventually(t, addr+" answers", func() bool { return redisCLI(addr, "PING") == "PONG" })
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		Eventually(t, "the cluster is up", func() bool { return strings.Contains(redisCLI(a, "CLUSTER", "INFO"), "cluster_state:ok") })
	}
	return addrs
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func redisCLI(addr string, args ...string) string {
	host, port, _ := net.SplitHostPort(addr)
	out, _ := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
	return strings.TrimSpace(string(out))
}

// Eventually polls cond until it holds, failing the test after twenty
// seconds. It waits for something outside the test's control (a process
// coming up, a client reconnecting, a message arriving); it never times
// the code under test.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("%s: still not so after 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
