package redisauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/auth/throttletest"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
)

func TestRedisThrottle(t *testing.T) {
	throttletest.Run(t, func(t *testing.T) auth.ThrottleStore {
		c, prefix := testenv.RedisClient(t)
		return redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: prefix})
	})
}

// On Redis Cluster every throttle key lives in one slot, checked and
// counted by one script: a node that is down is an error (the login answers
// 503), never "not locked", and other nodes going down do not matter.
func TestRedisThrottleClusterFailsClosed(t *testing.T) {
	testenv.SkipIfShort(t, "starts a Redis Cluster")
	cl := testenv.StartRedisCluster(t, 0)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Masters, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	throttletest.Run(t, func(*testing.T) auth.ThrottleStore {
		return redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: "t:"})
	})

	s := redisauth.NewThrottleStore(c, redisauth.ThrottleStoreOptions{Prefix: "t:"})
	strict := auth.ThrottleRule{Failures: 1, Window: time.Hour, BaseDelay: time.Hour, MaxDelay: time.Hour}
	ip := auth.ThrottleKey{Key: "ip:203.0.113.9", Rule: strict}
	user := auth.ThrottleKey{Key: "u:someone", Rule: strict}
	now := time.Now()
	if d, err := s.Reserve(context.Background(), now, []auth.ThrottleKey{ip}); err != nil || d != 0 {
		t.Fatalf("Reserve = %v, %v", d, err)
	}
	if d, err := s.Settle(context.Background(), now, []auth.Settlement{{ThrottleKey: ip, Verdict: auth.Failed, Reserved: true}}); err != nil || d != time.Hour {
		t.Fatalf("Settle = %v, %v; want a lockout of 1h", d, err)
	}
	home := cl.MasterOf("t:{throttle}" + ip.Key)
	for _, m := range cl.Masters {
		if m != home {
			cl.Fail(m)
			break
		}
	}
	if d, err := s.Reserve(context.Background(), now, []auth.ThrottleKey{user, ip}); err != nil || d != time.Hour {
		t.Fatalf("with another node down: Reserve = %v, %v; want locked for 1h", d, err)
	}
	cl.Stop(home)
	d, err := s.Reserve(context.Background(), now, []auth.ThrottleKey{user, ip})
	if !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("with the throttle's node down: Reserve = %v, %v; want ErrUnavailable (fail closed)", d, err)
	}
	if d, err := s.Check(context.Background(), now, []auth.ThrottleKey{user, ip}); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("with the throttle's node down: Check = %v, %v; want ErrUnavailable (fail closed)", d, err)
	}
}

// Published invalidations reach every subscriber, the publisher too.
func TestUserInvalidation(t *testing.T) {
	c, prefix := testenv.RedisClient(t)
	bus := redisauth.NewUserInvalidation(c, redisauth.InvalidationOptions{Channel: prefix + "invalidate"})
	ctx, cancel := context.WithCancel(context.Background())
	got := []chan string{make(chan string, 64), make(chan string, 64)}
	done := make(chan error, 2)
	for _, ch := range got {
		go func() { done <- bus.Subscribe(ctx, func(id string) { ch <- id }) }()
	}
	seen := [2]bool{}
	testenv.Eventually(t, "both subscribers receive the invalidation", func() bool {
		_ = bus.Publish(context.Background(), "42")
		for i, ch := range got {
			for len(ch) > 0 {
				if <-ch == "42" {
					seen[i] = true
				}
			}
		}
		return seen[0] && seen[1]
	})
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("Subscribe after its context ended: %v", err)
		}
	}
}
