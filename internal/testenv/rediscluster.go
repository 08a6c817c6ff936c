package testenv

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RedisCluster is a Redis Cluster of redis-server processes of a test's
// own, on free loopback ports, so that the test can stop a node.
type RedisCluster struct {
	t     testing.TB
	mu    sync.Mutex
	nodes map[string]*exec.Cmd // by address; nil once stopped
	// Masters are the addresses of the nodes that were masters when the
	// cluster came up, in order; Replicas those of their replicas.
	Masters, Replicas []string
}

// StartRedisCluster starts a Redis Cluster of three masters, each with the
// given number of replicas, and returns it once every slot is served. It
// skips (fails with REQUIRE_SERVICES=1) without the binaries. The processes
// are killed at cleanup.
func StartRedisCluster(t testing.TB, replicas int) *RedisCluster {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			Missing(t, "Redis Cluster", bin+" is not on PATH")
		}
	}
	c := &RedisCluster{t: t, nodes: make(map[string]*exec.Cmd)}
	t.Cleanup(func() {
		for addr := range c.nodes {
			c.Stop(addr)
		}
	})
	var addrs []string
	for range 3 * (1 + replicas) {
		port := freePort(t)
		dir := t.TempDir()
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf", "--dir", dir,
			"--cluster-node-timeout", "1000", // fail over within seconds when a master stops
			"--cluster-require-full-coverage", "no", // the other slots serve on while one is down
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c.mu.Lock()
		c.nodes[addr] = cmd
		c.mu.Unlock()
		Eventually(t, addr+" answers", func() bool { return redisCLI(addr, "PING") == "PONG" })
		addrs = append(addrs, addr)
	}
	// redis-cli makes the first three masters and the rest their replicas.
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.Masters, c.Replicas = addrs[:3], addrs[3:]
	for _, a := range addrs {
		Eventually(t, "the cluster is up", func() bool { return strings.Contains(redisCLI(a, "CLUSTER", "INFO"), "cluster_state:ok") })
	}
	if replicas > 0 {
		Eventually(t, "every replica is in sync", func() bool {
			for _, a := range c.Replicas {
				if !strings.Contains(redisCLI(a, "INFO", "replication"), "master_link_status:up") {
					return false
				}
			}
			return true
		})
	}
	return c
}

// Addrs returns every node's address, the stopped ones included.
func (c *RedisCluster) Addrs() []string {
	return append(append([]string(nil), c.Masters...), c.Replicas...)
}

// Stop kills the node at addr (as a crash would) and waits for it to exit.
func (c *RedisCluster) Stop(addr string) {
	c.mu.Lock()
	cmd := c.nodes[addr]
	c.nodes[addr] = nil
	c.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// Fail kills the node at addr and waits until every node still running has
// marked it failed, as the cluster does some time after a crash. That takes
// a majority of the masters: with fewer left, use Stop.
func (c *RedisCluster) Fail(addr string) {
	c.Stop(addr)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, a := range c.Addrs() {
		c.mu.Lock()
		up := c.nodes[a] != nil
		c.mu.Unlock()
		if !up {
			continue
		}
		Eventually(c.t, a+" marks "+addr+" failed", func() bool {
			for _, line := range strings.Split(redisCLI(a, "CLUSTER", "NODES"), "\n") {
				f := strings.Fields(line)
				if len(f) > 2 && strings.Contains(f[1], ":"+port+"@") && strings.Contains(f[2], "fail") && !strings.Contains(f[2], "fail?") {
					return true
				}
			}
			return false
		})
	}
}

// MasterOf returns the address of the node that serves key's slot now.
func (c *RedisCluster) MasterOf(key string) string {
	for _, a := range c.Addrs() {
		c.mu.Lock()
		up := c.nodes[a] != nil
		c.mu.Unlock()
		if !up {
			continue
		}
		slot := redisCLI(a, "CLUSTER", "KEYSLOT", key)
		out := redisCLI(a, "CLUSTER", "SLOTS")
		if owner := slotOwner(out, slot); owner != "" {
			return owner
		}
	}
	c.t.Fatalf("no node serves the slot of %q", key)
	return ""
}

// slotOwner reads redis-cli's plain output of CLUSTER SLOTS (one value per
// line: start, end, then host, port and ID of the master and each replica)
// and returns the master of slot.
func slotOwner(out, slot string) string {
	s, err := strconv.Atoi(slot)
	if err != nil {
		return ""
	}
	lines := strings.Split(out, "\n")
	for i := 0; i+3 < len(lines); i++ {
		start, err1 := strconv.Atoi(lines[i])
		end, err2 := strconv.Atoi(lines[i+1])
		if err1 != nil || err2 != nil || start > end || end > 16383 {
			continue
		}
		host, port := lines[i+2], lines[i+3]
		if net.ParseIP(host) == nil {
			continue
		}
		if s >= start && s <= end {
			return net.JoinHostPort(host, port)
		}
	}
	return ""
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
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
