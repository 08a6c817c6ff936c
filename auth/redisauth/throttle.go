// Package redisauth holds the parts of ginauth's login flow that several
// instances of an application share through Redis: the login throttle
// (NewThrottle) and the invalidation of cached users (NewUserInvalidation).
// It is a package of its own so that applications that do not use Redis do
// not compile go-redis.
package redisauth

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/sessionstore"
)

// ThrottleOptions configures a Throttle. The zero value is usable.
type ThrottleOptions struct {
	// Prefix starts every key. Default "throttle:".
	Prefix string
}

// Throttle is an auth.ThrottleStore in Redis, shared by every instance of
// an application: give it to auth.Config.Throttle.Store. Each key is a small hash
// (<prefix>{throttle}<key>: count, last, until, prev) that expires when
// there is nothing left to remember. An attempt's check and count are one
// Lua script over all of its keys, so that parallel attempts cannot slip
// past one check; on Redis Cluster the "{throttle}" hash tag keeps every
// throttle key in one slot for that reason (login traffic is small next to
// what one node serves).
//
// It fails closed: when Redis cannot answer, Reserve returns an error
// (answered 503 store_unavailable), never "not locked", so that taking a
// Redis node down does not turn throttling off.
type Throttle struct {
	c      redis.UniversalClient
	prefix string
}

// NewThrottle returns a throttle store on the client.
func NewThrottle(c redis.UniversalClient, opts ThrottleOptions) *Throttle {
	if opts.Prefix == "" {
		opts.Prefix = "throttle:"
	}
	return &Throttle{c: c, prefix: opts.Prefix + "{throttle}"}
}

// redisThrottleReserve is auth.ThrottleStore.Reserve, with the arithmetic of
// auth's in-memory throttle on Unix milliseconds, for every key, unless one
// is locked.
// ARGV: now, then per key: window, failures, base delay, max delay.
var redisThrottleReserve = redis.NewScript(`
local now = tonumber(ARGV[1])
local st, wait = {}, 0
for i, k in ipairs(KEYS) do
  local s = redis.call('HMGET', k, 'count', 'last', 'until', 'prev')
  st[i] = {tonumber(s[1]) or 0, tonumber(s[2]) or 0, tonumber(s[3]) or 0, tonumber(s[4]) or 0}
  if st[i][3] - now > wait then wait = st[i][3] - now end
end
if wait > 0 then return wait end
for i, k in ipairs(KEYS) do
  local a = 2 + (i - 1) * 4
  local window, failures = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local base, maxd = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local count, last, untl, prev = st[i][1], st[i][2], st[i][3], st[i][4]
  if last > 0 and now - last > window and now >= untl then count = 0 end
  count = count + 1
  if count >= failures then
    local d = base
    for j = failures, count - 1 do
      if d >= maxd then break end
      d = d * 2
    end
    if d > maxd then d = maxd end
    prev, untl = untl, now + d
  end
  redis.call('HSET', k, 'count', count, 'last', now, 'until', untl, 'prev', prev)
  redis.call('PEXPIRE', k, math.max(math.max(now + window, untl) - now, 1))
end
return 0`)

// redisThrottleRelease is auth.ThrottleStore.Release: the count goes down by
// one (lifting a lockout that is still running), or the key goes (DEL) for
// an account key of a success. ARGV: now, then per key 1 to forget
// it, 0 to give the attempt back.
var redisThrottleRelease = redis.NewScript(`
local now = tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  if ARGV[i + 1] == '1' then
    redis.call('DEL', k)
  else
    local s = redis.call('HMGET', k, 'count', 'until', 'prev')
    if s[1] then
      local untl = tonumber(s[2]) or 0
      if untl > now then untl = tonumber(s[3]) or 0 end
      redis.call('HSET', k, 'count', math.max((tonumber(s[1]) or 0) - 1, 0), 'until', untl)
    end
  end
end
return 0`)

func msOf(d time.Duration) int64 { return d.Milliseconds() }

func (r *Throttle) keys(keys []auth.ThrottleKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = r.prefix + k.Key
	}
	return out
}

// Reserve implements auth.ThrottleStore: one EVALSHA.
func (r *Throttle) Reserve(ctx context.Context, now time.Time, keys []auth.ThrottleKey) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 1+4*len(keys))
	args = append(args, now.UnixMilli())
	for _, k := range keys {
		args = append(args, msOf(k.Rule.Window), k.Rule.Failures, msOf(k.Rule.BaseDelay), msOf(k.Rule.MaxDelay))
	}
	ms, err := redisThrottleReserve.Run(ctx, r.c, r.keys(keys), args...).Int64()
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Release implements auth.ThrottleStore: one EVALSHA.
func (r *Throttle) Release(ctx context.Context, now time.Time, keys []auth.ThrottleKey, succeeded bool) error {
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, 0, 1+len(keys))
	args = append(args, now.UnixMilli())
	for _, k := range keys {
		forget := 0
		if succeeded && k.Account {
			forget = 1
		}
		args = append(args, forget)
	}
	if err := redisThrottleRelease.Run(ctx, r.c, r.keys(keys), args...).Err(); err != nil {
		return sessionstore.Unavailable(err)
	}
	return nil
}
