package auth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/throttletest"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
)

func TestMemoryThrottle(t *testing.T) {
	throttletest.Run(t, func(*testing.T) auth.ThrottleStore {
		return auth.NewMemoryThrottle(auth.MemoryThrottleOptions{})
	})
}

func TestRedisThrottle(t *testing.T) {
	throttletest.Run(t, func(t *testing.T) auth.ThrottleStore {
		c, prefix := testenv.RedisClient(t)
		return auth.NewRedisThrottle(c, prefix)
	})
}

func TestMemoryThrottleIsBounded(t *testing.T) {
	m := auth.NewMemoryThrottle(auth.MemoryThrottleOptions{Size: 100})
	for i := range 1000 {
		_, _ = m.Reserve(context.Background(), time.Now(), []auth.ThrottleKey{{Key: fmt.Sprint("u:", i), Rule: throttletest.Rule}})
	}
	if m.Len() != 100 {
		t.Errorf("the throttle holds %d keys, want its bound 100", m.Len())
	}
}

// On Redis Cluster every throttle key lives in one slot, checked and
// counted by one script: a node that is down is an error (the login answers
// 503), never "not locked", and other nodes going down do not matter.
func TestRedisThrottleClusterFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := testenv.StartRedisCluster(t, 0)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Masters, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	throttletest.Run(t, func(*testing.T) auth.ThrottleStore { return auth.NewRedisThrottle(c, "t:") })

	s := auth.NewRedisThrottle(c, "t:")
	strict := auth.ThrottleRule{Failures: 1, Window: time.Hour, BaseDelay: time.Hour, MaxDelay: time.Hour}
	ip := auth.ThrottleKey{Key: "ip:203.0.113.9", Rule: strict}
	user := auth.ThrottleKey{Key: "u:someone", Rule: strict, Account: true}
	now := time.Now()
	if d, err := s.Reserve(context.Background(), now, []auth.ThrottleKey{ip}); err != nil || d != 0 {
		t.Fatalf("Reserve = %v, %v", d, err)
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
}
