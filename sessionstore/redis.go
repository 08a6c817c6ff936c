package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures a RedisStore. The zero value is usable.
type RedisOptions struct {
	// Prefix starts every key the store writes. Default "sess:".
	Prefix string

	// Now is the clock; nil means time.Now. Expiry is computed from it and
	// checked on every read, and Redis key TTLs follow it.
	Now func() time.Time
}

// RedisStore keeps sessions in Redis through go-redis, on a single node,
// Sentinel or Cluster deployment (any redis.UniversalClient).
//
// Layout, readable with redis-cli:
//
//	<prefix><key>        hash: rec (the record's JSON body), rev, seen and exp
//	                     (last activity and expiry, Unix ms), uid
//	<prefix>user:<id>    sorted set of the user's session keys, scored by
//	                     each session's absolute deadline
//
// Every command touches one key (multi-step writes are Lua scripts on that
// one key), so the store works on Cluster, where a session and its user's
// index live in different hash slots; operations on both are pipelined. A
// load is one HGETALL; a touch one EVALSHA. Index entries are pruned when
// their deadline passes, and entries of sessions that ended earlier are
// pruned when the index is read.
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRedisStore returns a store on the client. The client stays the
// caller's: Close does not close it.
func NewRedisStore(c redis.UniversalClient, opts RedisOptions) *RedisStore {
	if opts.Prefix == "" {
		opts.Prefix = "sess:"
	}
	return &RedisStore{c: c, prefix: opts.Prefix, now: clock(opts.Now)}
}

// Close does nothing; it exists so every store can be closed alike.
func (r *RedisStore) Close() error { return nil }

func (r *RedisStore) sessKey(k Key) string      { return r.prefix + k.String() }
func (r *RedisStore) userKey(uid string) string { return r.prefix + "user:" + uid }

func ms(t time.Time) int64 { return t.UnixMilli() }

// Lua scripts, each on exactly one key.
var (
	redisCreate = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'rev', 1, 'seen', ARGV[2], 'exp', ARGV[3], 'uid', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

	// redisIndex adds a member to a user's index, prunes members whose
	// deadline passed, and keeps the index alive as long as its longest
	// member.
	redisIndex = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] == nil then return 0 end
local last = tonumber(top[2])
if last == nil or last == math.huge or top[2] == 'inf' then
  redis.call('PERSIST', KEYS[1])
else
  local left = last - tonumber(ARGV[3])
  if left < 1 then left = 1 end
  redis.call('PEXPIRE', KEYS[1], left)
end
return 1`)

	redisUpdate = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'rev', 'exp', 'seen', 'uid')
local exp = tonumber(cur[2])
if not cur[1] or not exp or exp <= tonumber(ARGV[6]) then return -1 end
if cur[1] ~= ARGV[1] or (cur[4] or '') ~= ARGV[7] then return 0 end
local rev = tonumber(cur[1]) + 1
local seen = math.max(tonumber(ARGV[3]), tonumber(cur[3]) or 0)
redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'rev', rev, 'seen', seen)
if tonumber(ARGV[4]) > exp then
  redis.call('HSET', KEYS[1], 'exp', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return rev`)

	redisTouch = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'seen', 'exp')
local exp = tonumber(cur[2])
if not exp or exp <= tonumber(ARGV[4]) then return 0 end
if tonumber(ARGV[1]) > (tonumber(cur[1]) or 0) then redis.call('HSET', KEYS[1], 'seen', ARGV[1]) end
if tonumber(ARGV[2]) > exp then
  redis.call('HSET', KEYS[1], 'exp', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1`)
)

// redisErr maps a go-redis error onto the package's errors.
func redisErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return ErrNotFound
	}
	var re redis.Error
	if errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE") {
		return Corrupt(err) // something that is not a session hash sits under the key
	}
	return Unavailable(err)
}

// Load implements Store: one HGETALL.
func (r *RedisStore) Load(ctx context.Context, key Key) (*Record, error) {
	h, err := r.c.HGetAll(ctx, r.sessKey(key)).Result()
	if err != nil {
		return nil, redisErr(err)
	}
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	rec, err := redisRecord(h["rec"], h["rev"], h["seen"], h["exp"])
	if err != nil {
		return nil, err
	}
	if !rec.Live(r.now()) {
		return nil, ErrNotFound
	}
	return rec, nil
}

func redisRecord(recJSON, rev, seen, exp string) (*Record, error) {
	rec := &Record{}
	if err := UnmarshalBody([]byte(recJSON), rec); err != nil {
		return nil, err
	}
	var err1, err2, err3 error
	rec.Rev, err1 = strconv.ParseInt(rev, 10, 64)
	seenMS, err2 := strconv.ParseInt(seen, 10, 64)
	expMS, err3 := strconv.ParseInt(exp, 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, Corrupt(err)
	}
	rec.LastActivity = time.UnixMilli(seenMS).UTC()
	rec.ExpiresAt = time.UnixMilli(expMS).UTC()
	return rec, nil
}

// Create implements Store: the record and its index entry, in one pipeline.
func (r *RedisStore) Create(ctx context.Context, key Key, rec *Record) error {
	return r.regenerate(ctx, nil, key, rec)
}

// Regenerate implements Store: the new record, its index entry and the
// removal of the old record in one pipeline, plus the removal of the old
// record's index entry when it had one.
func (r *RedisStore) Regenerate(ctx context.Context, oldKey, newKey Key, rec *Record) error {
	return r.regenerate(ctx, &oldKey, newKey, rec)
}

func (r *RedisStore) regenerate(ctx context.Context, oldKey *Key, key Key, rec *Record) error {
	data, err := MarshalBody(rec)
	if err != nil {
		return err
	}
	now := r.now()
	var writes []redis.Cmder
	var oldUID *redis.StringCmd
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		// The session first, then its index entry: a logout-all that reads
		// the index in between leaves a session created after it began.
		writes = append(writes, redisCreate.Eval(ctx, p, []string{r.sessKey(key)},
			data, ms(rec.LastActivity), ms(rec.ExpiresAt), ttl(rec.ExpiresAt, now).Milliseconds(), rec.UserID))
		if rec.UserID != "" {
			score := "+inf"
			if !rec.Deadline.IsZero() {
				score = strconv.FormatInt(ms(rec.Deadline), 10)
			}
			writes = append(writes, redisIndex.Eval(ctx, p, []string{r.userKey(rec.UserID)}, key.String(), score, ms(now)))
		}
		if oldKey != nil {
			oldUID = p.HGet(ctx, r.sessKey(*oldKey), "uid")
			writes = append(writes, p.Del(ctx, r.sessKey(*oldKey)))
		}
		return nil
	})
	for _, c := range writes {
		if err := c.Err(); err != nil {
			return redisErr(err)
		}
	}
	if created, _ := writes[0].(*redis.Cmd).Int64(); created != 1 {
		return errExists
	}
	if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
		return redisErr(err)
	}
	rec.Rev = 1
	if oldUID != nil {
		if uid, _ := oldUID.Result(); uid != "" {
			if err := r.c.ZRem(ctx, r.userKey(uid), oldKey.String()).Err(); err != nil {
				return redisErr(err)
			}
		}
	}
	return nil
}

// Update implements Store: one EVALSHA.
func (r *RedisStore) Update(ctx context.Context, key Key, rec *Record) error {
	data, err := MarshalBody(rec)
	if err != nil {
		return err
	}
	now := r.now()
	rev, err := redisUpdate.Run(ctx, r.c, []string{r.sessKey(key)},
		rec.Rev, data, ms(rec.LastActivity), ms(rec.ExpiresAt), ttl(rec.ExpiresAt, now).Milliseconds(), ms(now), rec.UserID).Int64()
	if err != nil {
		return redisErr(err)
	}
	switch rev {
	case -1:
		return ErrNotFound
	case 0:
		return ErrConflict
	}
	rec.Rev = rev
	return nil
}

// Touch implements Store: one EVALSHA.
func (r *RedisStore) Touch(ctx context.Context, key Key, lastActivity, expiresAt time.Time) error {
	now := r.now()
	err := redisTouch.Run(ctx, r.c, []string{r.sessKey(key)},
		ms(lastActivity), ms(expiresAt), ttl(expiresAt, now).Milliseconds(), ms(now)).Err()
	return redisErr(err)
}

// Destroy implements Store.
func (r *RedisStore) Destroy(ctx context.Context, key Key) error {
	var uid *redis.StringCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		uid = p.HGet(ctx, r.sessKey(key), "uid")
		p.Del(ctx, r.sessKey(key))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
		return redisErr(err)
	}
	if u, _ := uid.Result(); u != "" {
		return redisErr(r.c.ZRem(ctx, r.userKey(u), key.String()).Err())
	}
	return nil
}

func isWrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// members returns the keys in the user's index.
func (r *RedisStore) members(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, nil // anonymous sessions are not indexed
	}
	m, err := r.c.ZRange(ctx, r.userKey(userID), 0, -1).Result()
	return m, redisErr(err)
}

// List implements UserIndex: the index, then every member's record in one
// pipeline. Members whose session ended are pruned.
func (r *RedisStore) List(ctx context.Context, userID string) ([]Info, error) {
	members, err := r.members(ctx, userID)
	if err != nil || len(members) == 0 {
		return nil, err
	}
	cmds := make([]*redis.SliceCmd, len(members))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = p.HMGet(ctx, r.prefix+m, "rec", "rev", "seen", "exp")
		}
		return nil
	})
	if err != nil && !isWrongType(err) {
		return nil, redisErr(err)
	}
	now := r.now()
	var out []Info
	var stale []any
	for i, m := range members {
		rec, ok := r.member(cmds[i], m, userID, now)
		if !ok {
			stale = append(stale, m)
			continue
		}
		out = append(out, rec)
	}
	if len(stale) > 0 {
		if err := r.c.ZRem(ctx, r.userKey(userID), stale...).Err(); err != nil {
			return nil, redisErr(err)
		}
	}
	SortInfos(out)
	return out, nil
}

func (r *RedisStore) member(cmd *redis.SliceCmd, member, userID string, now time.Time) (Info, bool) {
	vals, err := cmd.Result()
	if err != nil || len(vals) != 4 {
		return Info{}, false
	}
	var f [4]string
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return Info{}, false
		}
		f[i] = s
	}
	k, err := ParseKey(member)
	if err != nil {
		return Info{}, false
	}
	rec, err := redisRecord(f[0], f[1], f[2], f[3])
	if err != nil || !rec.Live(now) || rec.UserID != userID {
		return Info{}, false
	}
	return rec.Info(k), true
}

// DestroyHandle implements UserIndex.
func (r *RedisStore) DestroyHandle(ctx context.Context, userID, handle string) error {
	if !ValidHandle(handle) {
		return ErrNotFound
	}
	members, err := r.members(ctx, userID)
	if err != nil {
		return err
	}
	for _, m := range members {
		if strings.HasPrefix(m, handle) {
			n, err := r.destroyMembers(ctx, userID, []string{m})
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
			return nil
		}
	}
	return ErrNotFound
}

// DestroyUser implements UserIndex: the index, then one pipeline that
// deletes every session and their index entries. Sessions created while it
// runs are not in what it read, and stay indexed.
func (r *RedisStore) DestroyUser(ctx context.Context, userID string) (int, error) {
	members, err := r.members(ctx, userID)
	if err != nil || len(members) == 0 {
		return 0, err
	}
	return r.destroyMembers(ctx, userID, members)
}

// destroyMembers deletes the sessions of members and removes them from the
// user's index, in one pipeline, and counts those that were live.
func (r *RedisStore) destroyMembers(ctx context.Context, userID string, members []string) (int, error) {
	exps := make([]*redis.StringCmd, len(members))
	remove := make([]any, len(members))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			exps[i] = p.HGet(ctx, r.prefix+m, "exp")
			p.Del(ctx, r.prefix+m)
			remove[i] = m
		}
		p.ZRem(ctx, r.userKey(userID), remove...)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) && !isWrongType(err) {
		return 0, redisErr(err)
	}
	now := ms(r.now())
	n := 0
	for _, c := range exps {
		if e, err := c.Int64(); err == nil && e > now {
			n++
		}
	}
	return n, nil
}

// String describes the store without secrets.
func (r *RedisStore) String() string { return fmt.Sprintf("redis store (prefix %q)", r.prefix) }
