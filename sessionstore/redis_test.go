package sessionstore_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

func redisClient(t testing.TB) (*redis.Client, string) { return testenv.RedisClient(t) }

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func downRedis(t testing.TB) sessionstore.IndexedStore {
	c := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return sessionstore.NewRedisStore(c, sessionstore.RedisOptions{})
}

func TestRedisStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		c, prefix := redisClient(t)
		clock := storetest.NewClock()
		s := sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix, Now: clock.Now})
		return &storetest.Harness{
			Store: s,
			Clock: clock,
			Corrupt: func(t testing.TB, k sessionstore.Key) {
				// Not a hash at all: what a foreign writer would leave.
				if err := c.Set(context.Background(), prefix+k.String(), "\x00garbage\xff", time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
			},
			IndexLen: func(t testing.TB, uid string) int {
				n, err := c.ZCard(context.Background(), prefix+"user:"+uid).Result()
				if err != nil {
					t.Fatal(err)
				}
				return int(n)
			},
			Down: downRedis,
		}
	})
}

// A hash whose fields are damaged is also "no session", never a panic.
func TestRedisStoreDamagedFields(t *testing.T) {
	c, prefix := redisClient(t)
	s := sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix})
	ctx := context.Background()
	for name, fields := range map[string][]any{
		"garbage rec":   {"rec", "{not json", "rev", "1", "seen", "1", "exp", "99999999999999"},
		"future format": {"rec", `{"v":99}`, "rev", "1", "seen", "1", "exp", "99999999999999"},
		"bad rev":       {"rec", `{"v":1,"created":"2026-01-01T00:00:00Z"}`, "rev", "x", "seen", "1", "exp", "99999999999999"},
		"no exp":        {"rec", `{"v":1,"created":"2026-01-01T00:00:00Z"}`, "rev", "1", "seen", "1"},
		"binary":        {"rec", "\xff\xfe\x00", "rev", "\x00", "seen", "", "exp", "\xff"},
	} {
		k := sessionstore.NewID().Key()
		c.HSet(ctx, prefix+k.String(), fields...)
		if _, err := s.Load(ctx, k); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
		now := time.Now()
		if err := s.Touch(ctx, k, now, now.Add(time.Hour)); err != nil {
			t.Errorf("%s: Touch = %v", name, err)
		}
		if err := s.Destroy(ctx, k); err != nil {
			t.Errorf("%s: Destroy = %v", name, err)
		}
	}
}

// The Redis store on a real Redis Cluster of three masters: a session and
// its user's index live in different hash slots, so any multi-key command
// would fail here with CROSSSLOT.
func TestRedisStoreCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	addrs := testenv.StartRedisCluster(t, 0).Masters
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { _ = c.Close() })
		clock := storetest.NewClock()
		prefix := "sess-" + testenv.Unique() + ":"
		return &storetest.Harness{
			Store:     sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix, Now: clock.Now}),
			Clock:     clock,
			IndexSize: 2000, // the full 10,000 run on a single node above; here the point is the slots
			IndexLen: func(t testing.TB, uid string) int {
				n, err := c.ZCard(context.Background(), prefix+"user:"+uid).Result()
				if err != nil {
					t.Fatal(err)
				}
				return int(n)
			},
		}
	})
}
