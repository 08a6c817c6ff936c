// Package redisauth holds the parts of ginauth's login flow that several
// instances of an application share through Redis: the login throttle
// (NewThrottleStore) and the invalidation of cached users (NewUserInvalidation).
// It is a package of its own so that applications that do not use Redis do
// not compile go-redis.
package redisauth

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/sessionstore"
)

// ThrottleStoreOptions configures a ThrottleStore. The zero value is usable.
type ThrottleStoreOptions struct {
	// Prefix starts every key. Default "throttle:".
	Prefix string
}

// ThrottleStore is an auth.ThrottleStore in Redis, shared by every instance of
// an application: give it to auth.Config.Throttle.Store. Each key is a small
// hash (<prefix>{throttle}<key>: count, last, until, fly, flyAt: failures,
// the last failure, the end of the lockout, reservations in flight and the
// last reservation, in Unix ms) that expires when there is nothing left to
// remember. Check is one HGET per key in a pipeline; Reserve and Settle are
// one Lua script each over all of an attempt's keys, so that parallel
// attempts cannot slip past one check, and a refused attempt reserves
// nothing.
//
// On Redis Cluster the "{throttle}" hash tag keeps every throttle key in one
// slot for that reason, so one node serves all throttle traffic. Measured
// (BenchmarkRedisThrottleCluster), a login's Reserve and Settle cost that
// node 45 to 70 µs of CPU, and a Check 11 to 15: one node with a core to
// itself serves about 15,000 judged logins a second, or 70,000 attempts
// refused at Check. Judged logins are bounded far lower by bcrypt (at cost
// 12, a few a second per core of the application), so the ceiling that
// matters is a flood of refused attempts, which the application instances'
// HTTP capacity bounds too. Keys in slots of their own, reserved key by key
// in one pipeline with what a refused attempt took given back, would keep
// each key's limit but not the all-or-nothing reservation (a refused attempt
// would hold its other keys for a moment). Measured on three masters, that
// cost 1.5 to 2 times the Redis and client CPU per login, lowered the
// busiest node's share by a quarter to a half, and Check's hardly, so the
// store keeps one slot. An application whose login traffic outgrows one node
// gives the throttle a Redis of its own.
//
// It fails closed: when Redis cannot answer, Check and Reserve return an
// error (answered 503 store_unavailable), never "not locked", so that
// taking a Redis node down does not turn throttling off.
type ThrottleStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewThrottleStore returns a throttle store on the client.
func NewThrottleStore(c redis.UniversalClient, opts ThrottleStoreOptions) *ThrottleStore {
	if opts.Prefix == "" {
		opts.Prefix = "throttle:"
	}
	return &ThrottleStore{c: c, prefix: opts.Prefix + "{throttle}"}
}

// The arithmetic of auth's throttle (auth/throttle.go: streak, inFlight,
// settle) on Unix milliseconds. TTL is auth.ReservationTTL.
const luaState = `
local ttl = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local function load(k)
  local s = redis.call('HMGET', k, 'count', 'last', 'until', 'fly', 'flyAt')
  return {count = tonumber(s[1]) or 0, last = tonumber(s[2]) or 0, untl = tonumber(s[3]) or 0,
          fly = tonumber(s[4]) or 0, flyAt = tonumber(s[5]) or 0, exists = s[1] ~= false}
end
local function streak(s, window)
  if s.last > 0 and now - s.last > window and now >= s.untl then return 0 end
  return s.count
end
local function inflight(s)
  if s.fly > 0 and now - s.flyAt >= ttl then return 0 end
  return s.fly
end
local function store(k, s, window)
  local keep = math.max(s.last + window, s.untl, s.flyAt + ttl) - now
  if s.count == 0 and s.untl <= now and inflight(s) == 0 then keep = 0 end
  if keep <= 0 then
    redis.call('DEL', k)
  else
    redis.call('HSET', k, 'count', s.count, 'last', s.last, 'until', s.untl, 'fly', s.fly, 'flyAt', s.flyAt)
    redis.call('PEXPIRE', k, keep)
  end
end
`

// redisThrottleReserve is auth.ThrottleStore.Reserve. It returns the
// longest lockout in ms, -1 when a key has its attempts in flight, or 0.
// ARGV: ttl, now, then per key: window, failures.
var redisThrottleReserve = redis.NewScript(luaState + `
local st, wait = {}, 0
for i, k in ipairs(KEYS) do
  st[i] = load(k)
  if st[i].untl - now > wait then wait = st[i].untl - now end
end
if wait > 0 then return wait end
for i, k in ipairs(KEYS) do
  local a = 3 + (i - 1) * 2
  local window, failures = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  if inflight(st[i]) >= math.max(failures - streak(st[i], window), 1) then return -1 end
end
for i, k in ipairs(KEYS) do
  local window = tonumber(ARGV[3 + (i - 1) * 2])
  st[i].fly = inflight(st[i]) + 1
  st[i].flyAt = now
  store(k, st[i], window)
end
return 0`)

// redisThrottleSettle is auth.ThrottleStore.Settle; it returns the longest
// lockout started, in ms. ARGV: ttl, now, then per key: window, failures,
// base delay, max delay, verdict (0 unjudged, 1 failed, 2 cleared),
// reserved (0 or 1).
var redisThrottleSettle = redis.NewScript(luaState + `
local locked = 0
for i, k in ipairs(KEYS) do
  local a = 3 + (i - 1) * 6
  local window, failures = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local base, maxd = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local verdict, reserved = ARGV[a + 4], ARGV[a + 5]
  local s = load(k)
  if s.exists or verdict == '1' then
    if reserved == '1' then s.fly = math.max(inflight(s) - 1, 0) end
    if verdict == '1' then
      s.count = streak(s, window) + 1
      s.last = now
      if s.count >= failures then
        local d = base
        for j = failures, s.count - 1 do
          if d >= maxd then break end
          d = d * 2
        end
        if d > maxd then d = maxd end
        s.untl = now + d
        if d > locked then locked = d end
      end
    elseif verdict == '2' then
      s.count, s.last, s.untl = 0, 0, 0
    end
    store(k, s, window)
  end
end
return locked`)

func msOf(d time.Duration) int64 { return d.Milliseconds() }

func (r *ThrottleStore) key(k string) string { return r.prefix + k }

func (r *ThrottleStore) keys(keys []auth.ThrottleKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = r.key(k.Key)
	}
	return out
}

// Check implements auth.ThrottleStore: one HMGET per key, pipelined.
func (r *ThrottleStore) Check(ctx context.Context, now time.Time, keys []auth.ThrottleKey) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGet(ctx, r.key(k.Key), "until")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, sessionstore.Unavailable(err)
	}
	var wait int64
	at := now.UnixMilli()
	for _, c := range cmds {
		until, err := c.Int64()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return 0, sessionstore.Unavailable(err)
		default:
			wait = max(wait, until-at)
		}
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// Reserve implements auth.ThrottleStore: one EVALSHA.
func (r *ThrottleStore) Reserve(ctx context.Context, now time.Time, keys []auth.ThrottleKey) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 2+2*len(keys))
	args = append(args, msOf(auth.ReservationTTL), now.UnixMilli())
	for _, k := range keys {
		args = append(args, msOf(k.Rule.Window), k.Rule.Failures)
	}
	ms, err := redisThrottleReserve.Run(ctx, r.c, r.keys(keys), args...).Int64()
	switch {
	case err != nil:
		return 0, sessionstore.Unavailable(err)
	case ms < 0:
		return 0, auth.ErrInFlight
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Settle implements auth.ThrottleStore: one EVALSHA.
func (r *ThrottleStore) Settle(ctx context.Context, now time.Time, s []auth.Settlement) (time.Duration, error) {
	if len(s) == 0 {
		return 0, nil
	}
	names := make([]string, len(s))
	args := make([]any, 0, 2+6*len(s))
	args = append(args, msOf(auth.ReservationTTL), now.UnixMilli())
	for i, x := range s {
		names[i] = r.key(x.Key)
		reserved := 0
		if x.Reserved {
			reserved = 1
		}
		args = append(args, msOf(x.Rule.Window), x.Rule.Failures, msOf(x.Rule.BaseDelay), msOf(x.Rule.MaxDelay), int(x.Verdict), reserved)
	}
	ms, err := redisThrottleSettle.Run(ctx, r.c, names, args...).Int64()
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
