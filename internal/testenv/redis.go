package testenv

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RedisClient connects to REDIS_URL (skipping, or failing with
// REQUIRE_SERVICES=1, when nothing answers) and returns the client with a
// key prefix of the test's own; the test's keys are removed and the client
// closed at cleanup.
func RedisClient(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		_ = c.Close()
		Missing(t, "Redis", err.Error())
	}
	prefix := "ginauth-test:" + Unique() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			c.Del(ctx, keys[:n]...)
			keys = keys[n:]
		}
		_ = c.Close()
	})
	return c, prefix
}

// CommandCounter is a go-redis hook that records the commands a client
// sends, pipelined ones included, and the round trips they took (a command
// sent alone, or a pipeline, on one node), to hold the hot path to its
// budget.
type CommandCounter struct {
	mu    sync.Mutex
	names []string
	trips int
}

// DialHook implements redis.Hook.
func (c *CommandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (c *CommandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		c.trip()
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (c *CommandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.add(cmd)
		}
		c.trip()
		return next(ctx, cmds)
	}
}

func (c *CommandCounter) add(cmd redis.Cmder) {
	c.mu.Lock()
	c.names = append(c.names, strings.ToUpper(cmd.Name()))
	c.mu.Unlock()
}

func (c *CommandCounter) trip() {
	c.mu.Lock()
	c.trips++
	c.mu.Unlock()
}

// Take returns the commands recorded since the last call, and forgets them
// (and the round trips).
func (c *CommandCounter) Take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names, c.trips = nil, 0
	return n
}

// TakeTrips returns the commands and the round trips recorded since the
// last call, and forgets them.
func (c *CommandCounter) TakeTrips() ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, t := c.names, c.trips
	c.names, c.trips = nil, 0
	return n, t
}
