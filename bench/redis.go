package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/bench/internal/proc"
)

// redisServer is the private redis-server that every stack shares, and the
// driver's one connection to it, which reads the command counts.
type redisServer struct {
	addr    string
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *proc.TailBuffer
	client  *redis.Client
	dir     string
	version string
	// own is how many commands one reading of the counts adds to the
	// next one: the INFO command itself, measured at start-up.
	own int64
}

// startRedis starts redis-server on a free loopback port, without
// persistence, and waits until it answers.
func startRedis(program string) (*redisServer, error) {
	version, err := redisVersion(program)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ginauth-bench-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 { // another process may take the free port first
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		r := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, version: version, log: proc.NewTailBuffer(4096)}
		r.cmd = exec.Command(program, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "")
		r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := r.cmd.Start(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("starting %s: %w", program, err)
		}
		r.exited = make(chan struct{})
		go func() { _ = r.cmd.Wait(); close(r.exited) }()
		if lastErr = r.waitReady(10 * time.Second); lastErr == nil {
			return r, nil
		}
		r.stop()
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

// waitReady waits for the server to answer PING, then measures what its
// own readings of the command counts add to them.
func (r *redisServer) waitReady(limit time.Duration) error {
	r.client = redis.NewClient(&redis.Options{Addr: r.addr, PoolSize: 1, MaxRetries: -1})
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("redis-server on %s exited: %s", r.addr, r.log.String())
		default:
		}
		if r.client.Ping(ctx).Err() == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer within %s", r.addr, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a, err := r.commands(ctx)
	if err != nil {
		return err
	}
	b, err := r.commands(ctx)
	if err != nil {
		return err
	}
	r.own = b - a
	return nil
}

// commands returns how many commands the server has executed, from INFO
// commandstats: every command a client sent, and every command a Lua
// script ran, each once.
func (r *redisServer) commands(ctx context.Context) (int64, error) {
	info, err := r.client.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	var total int64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		// cmdstat_get:calls=12,usec=34,usec_per_call=2.83,...
		line := sc.Text()
		if !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		_, stats, _ := strings.Cut(line, ":")
		for field := range strings.SplitSeq(stats, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("reading INFO commandstats: %q", line)
				}
				total += n
			}
		}
	}
	return total, nil
}

// flush empties the server between stacks.
func (r *redisServer) flush(ctx context.Context) error {
	return r.client.FlushAll(ctx).Err()
}

// stop ends the server and removes its directory.
func (r *redisServer) stop() {
	if r.client != nil {
		_ = r.client.Close()
	}
	proc.Stop(r.cmd.Process, r.exited, 5*time.Second)
	_ = os.RemoveAll(r.dir)
}

// redisVersion returns the version that `program --version` reports.
func redisVersion(program string) (string, error) {
	out, err := exec.Command(program, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w (is redis-server installed?)", program, err)
	}
	// Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=...
	for f := range strings.FieldsSeq(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v, nil
		}
	}
	return strings.TrimSpace(string(out)), nil
}
