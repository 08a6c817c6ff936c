package redisauth_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/internal/testenv"
)

// BenchmarkRedisThrottleCluster measures the throttle's share of a login,
// Reserve then Settle of an account key and an address key (a success: the
// account forgets, the address keeps its count), with a new account each
// time and 100 addresses, from many goroutines at once, on one Redis node
// and on a Cluster of three masters; and on the Cluster, Check alone (what
// an attempt that finds every bcrypt slot taken costs first). It reports
// ops/s and, on the Cluster, the Redis CPU time per operation over all
// nodes (server-µs/op) and on the busiest (busiest-µs/op). Every throttle
// key lives in one slot, so one node does all of that work, and serves at
// most 1e6/busiest-µs operations a second: the ceiling that DEPLOYING.md
// gives. ops/s on a machine that also runs the nodes is lower.
//
//	go test -run '^$' -bench RedisThrottleCluster -benchtime 2s ./auth/redisauth
func BenchmarkRedisThrottleCluster(b *testing.B) {
	b.Run("node", func(b *testing.B) {
		c, prefix := testenv.RedisClient(b)
		benchLogins(b, redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: prefix}), nil)
	})
	cl := testenv.StartRedisCluster(b, 0)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Masters, PoolSize: 64})
	b.Cleanup(func() { _ = c.Close() })
	b.Run("cluster", func(b *testing.B) {
		benchLogins(b, redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: "b1:"}), cl.Masters)
	})
	b.Run("cluster/check", func(b *testing.B) {
		benchChecks(b, redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: "b1:"}), cl.Masters)
	})
}

// benchChecks measures Check alone, as a flood of attempts that find the
// bcrypt slots taken costs: an account key and an address key each.
func benchChecks(b *testing.B, s auth.ThrottleStore, nodes []string) {
	before := serverCPU(b, nodes)
	cpu := testenv.StartCPU()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			keys := loginKeys()
			if _, err := s.Check(ctx, time.Now(), keys); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu.Report(b)
	reportServer(b, nodes, before)
}

var benchAccount atomic.Int64

// loginKeys are the keys of one login: a new account's, and one of a
// hundred addresses', under ginauth's default rules.
func loginKeys() []auth.ThrottleKey {
	perIP := auth.ThrottleRule{Failures: 30, Window: 15 * time.Minute, BaseDelay: time.Minute, MaxDelay: 15 * time.Minute}
	perAccount := perIP
	perAccount.Failures = 5
	n := benchAccount.Add(1)
	return []auth.ThrottleKey{
		{Key: "u:" + strconv.FormatInt(n, 36), Rule: perAccount},
		{Key: fmt.Sprintf("ip:198.51.100.%d", n%100), Rule: perIP},
	}
}

func benchLogins(b *testing.B, s auth.ThrottleStore, nodes []string) {
	before := serverCPU(b, nodes)
	cpu := testenv.StartCPU()
	var busy atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			keys := loginKeys()
			now := time.Now()
			for {
				d, err := s.Reserve(ctx, now, keys)
				if errors.Is(err, auth.ErrInFlight) {
					busy.Add(1)
					continue
				}
				if err != nil || d != 0 {
					b.Errorf("Reserve = %v, %v", d, err)
					return
				}
				break
			}
			if _, err := s.Settle(ctx, now, []auth.Settlement{
				{ThrottleKey: keys[0], Verdict: auth.Cleared, Reserved: true},
				{ThrottleKey: keys[1], Verdict: auth.Unjudged, Reserved: true},
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu.Report(b)
	b.ReportMetric(float64(busy.Load())/float64(b.N), "inflight/op")
	reportServer(b, nodes, before)
}

// reportServer reports ops/s and, on nodes, the Redis CPU time per op since
// before: over all nodes, and on the busiest.
func reportServer(b *testing.B, nodes []string, before []time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	if nodes != nil {
		var sum, most float64
		for i, t := range serverCPU(b, nodes) {
			d := (t - before[i]).Seconds() * 1e6 / float64(b.N)
			sum += d
			most = max(most, d)
		}
		b.ReportMetric(sum, "server-µs/op")
		b.ReportMetric(most, "busiest-µs/op")
	}
}

// serverCPU returns the CPU time each Redis node has used (INFO cpu).
func serverCPU(b *testing.B, nodes []string) []time.Duration {
	out := make([]time.Duration, len(nodes))
	for i, a := range nodes {
		c := redis.NewClient(&redis.Options{Addr: a})
		info, err := c.Info(context.Background(), "cpu").Result()
		_ = c.Close()
		if err != nil {
			b.Fatal(err)
		}
		var secs float64
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_sys" || k == "used_cpu_user" {
				f, _ := strconv.ParseFloat(v, 64)
				secs += f
			}
		}
		out[i] = time.Duration(secs * float64(time.Second))
	}
	return out
}
