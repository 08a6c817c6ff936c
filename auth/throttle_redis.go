package auth

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/sessionstore"
)

// RedisThrottle keeps login failure counts in Redis, shared by every
// instance of an application. Each key is a small hash
// (<prefix><key>: count, last, until) that expires when there is nothing
// left to remember; each operation is one pipelined batch of single-key Lua
// scripts, so it works on Redis Cluster.
type RedisThrottle struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisThrottle returns a throttle store on the client, with keys under
// prefix (default "throttle:").
func NewRedisThrottle(c redis.UniversalClient, prefix string) *RedisThrottle {
	if prefix == "" {
		prefix = "throttle:"
	}
	return &RedisThrottle{c: c, prefix: prefix}
}

// redisThrottleFail applies one failure: the same arithmetic as
// throttleState.fail, on Unix milliseconds.
// ARGV: now, window, failures, base delay, max delay (ms / count).
var redisThrottleFail = redis.NewScript(`
local now, window, failures = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local base, maxd = tonumber(ARGV[4]), tonumber(ARGV[5])
local s = redis.call('HMGET', KEYS[1], 'count', 'last', 'until')
local count, last, untl = tonumber(s[1]) or 0, tonumber(s[2]) or 0, tonumber(s[3]) or 0
if last > 0 and now - last > window and now >= untl then count = 0 end
count = count + 1
if count >= failures then
  local d = base
  for i = failures, count - 1 do
    if d >= maxd then break end
    d = d * 2
  end
  if d > maxd then d = maxd end
  untl = now + d
end
redis.call('HSET', KEYS[1], 'count', count, 'last', now, 'until', untl)
local keep = math.max(now + window, untl) - now
redis.call('PEXPIRE', KEYS[1], math.max(keep, 1))
return math.max(untl - now, 0)`)

func msOf(d time.Duration) int64 { return d.Milliseconds() }

// Locked implements ThrottleStore: one pipelined HGET per key.
func (r *RedisThrottle) Locked(ctx context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGet(ctx, r.prefix+k.Key, "until")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, sessionstore.Unavailable(err)
	}
	var wait time.Duration
	for _, c := range cmds {
		if until, err := c.Int64(); err == nil {
			wait = max(wait, time.Duration(until-now.UnixMilli())*time.Millisecond)
		}
	}
	return wait, nil
}

// Fail implements ThrottleStore: one pipelined script per key.
func (r *RedisThrottle) Fail(ctx context.Context, now time.Time, keys []ThrottleKey) (time.Duration, error) {
	cmds := make([]*redis.Cmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = redisThrottleFail.Eval(ctx, p, []string{r.prefix + k.Key},
				now.UnixMilli(), msOf(k.Rule.Window), k.Rule.Failures, msOf(k.Rule.BaseDelay), msOf(k.Rule.MaxDelay))
		}
		return nil
	})
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	var wait time.Duration
	for _, c := range cmds {
		if ms, err := c.Int64(); err == nil {
			wait = max(wait, time.Duration(ms)*time.Millisecond)
		}
	}
	return wait, nil
}

// Reset implements ThrottleStore.
func (r *RedisThrottle) Reset(ctx context.Context, keys []ThrottleKey) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, r.prefix+k.Key)
		}
		return nil
	})
	if err != nil {
		return sessionstore.Unavailable(err)
	}
	return nil
}
