// Package redisstore keeps ginauth's sessions in Redis through go-redis, on a
// single node, Sentinel or Cluster deployment (any redis.UniversalClient).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/sessionstore"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Prefix starts every key the store writes. Default "sess:".
	Prefix string

	// Now is the clock; nil means time.Now. Expiry is computed from it and
	// checked on every read, and Redis key TTLs follow it.
	Now func() time.Time
}

// Store keeps sessions in Redis. It implements sessionstore.IndexedStore.
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
type Store struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a store on the client. The client stays the caller's: Close
// does not close it.
func New(c redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "sess:"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{c: c, prefix: opts.Prefix, now: opts.Now}
}

// Close does nothing; it exists so every store can be closed alike.
func (r *Store) Close() error { return nil }

func (r *Store) sessKey(k sessionstore.Key) string { return r.prefix + k.String() }
func (r *Store) userKey(uid string) string         { return r.prefix + "user:" + uid }

// Lua scripts, each on exactly one key.
var (
	redisCreate = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'rev', 1, 'seen', ARGV[2], 'exp', ARGV[3], 'uid', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

	// redisIndex adds a member to a user's index (and removes ARGV[4], the
	// session it replaces, when set), prunes members whose deadline passed,
	// and keeps the index alive as long as its longest member.
	redisIndex = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[1], ARGV[4]) end
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

// scriptCall is one script to run in a pipeline.
type scriptCall struct {
	s    *redis.Script
	keys []string
	args []any
}

// evalPipelined runs calls, then what more adds, in one pipeline, each
// script as an EVALSHA of its cached body. A script the server does not
// have cached (after a restart or a SCRIPT FLUSH) is sent again, alone,
// with its body: what ran is never run twice. It returns every command,
// the calls' first.
func evalPipelined(ctx context.Context, c redis.UniversalClient, calls []scriptCall, more func(redis.Pipeliner)) ([]redis.Cmder, error) {
	p := c.Pipeline()
	for _, call := range calls {
		call.s.EvalSha(ctx, p, call.keys, call.args...)
	}
	more(p)
	cmds, err := p.Exec(ctx)
	var missing []int
	for i := range calls {
		if i < len(cmds) && redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT") {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return cmds, err
	}
	p = c.Pipeline()
	for _, i := range missing {
		calls[i].s.Eval(ctx, p, calls[i].keys, calls[i].args...)
	}
	again, err2 := p.Exec(ctx)
	for j, i := range missing {
		if j < len(again) {
			cmds[i] = again[j]
		}
	}
	err = nil
	for _, cmd := range cmds {
		if e := cmd.Err(); e != nil {
			err = e
			break
		}
	}
	if err == nil {
		err = err2
	}
	return cmds, err
}

// errExists is what Create answers for a key already in use.
var errExists = fmt.Errorf("%w: a session already exists under that key", sessionstore.ErrConflict)

func ms(t time.Time) int64 { return t.UnixMilli() }

// ttl returns how long from now until t, at least a millisecond: Redis
// takes relative expiry.
func ttl(t, now time.Time) time.Duration {
	d := t.Sub(now)
	if d < time.Millisecond {
		return time.Millisecond
	}
	return d
}

// redisErr maps a go-redis error onto the package's errors.
func redisErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return sessionstore.ErrNotFound
	}
	var re redis.Error
	if errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE") {
		return sessionstore.Corrupt(err) // something that is not a session hash sits under the key
	}
	return sessionstore.Unavailable(err)
}

// Load implements Store: one HGETALL.
func (r *Store) Load(ctx context.Context, key sessionstore.Key) (*sessionstore.Record, error) {
	h, err := r.c.HGetAll(ctx, r.sessKey(key)).Result()
	if err != nil {
		return nil, redisErr(err)
	}
	if len(h) == 0 {
		return nil, sessionstore.ErrNotFound
	}
	rec, err := redisRecord(h["rec"], h["rev"], h["seen"], h["exp"])
	if err != nil {
		return nil, err
	}
	if !rec.Live(r.now()) {
		return nil, sessionstore.ErrNotFound
	}
	return rec, nil
}

func redisRecord(recJSON, rev, seen, exp string) (*sessionstore.Record, error) {
	rec := &sessionstore.Record{}
	if err := sessionstore.UnmarshalBody([]byte(recJSON), rec); err != nil {
		return nil, err
	}
	var err1, err2, err3 error
	rec.Rev, err1 = strconv.ParseInt(rev, 10, 64)
	seenMS, err2 := strconv.ParseInt(seen, 10, 64)
	expMS, err3 := strconv.ParseInt(exp, 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, sessionstore.Corrupt(err)
	}
	rec.LastActivity = time.UnixMilli(seenMS).UTC()
	rec.ExpiresAt = time.UnixMilli(expMS).UTC()
	return rec, nil
}

// Create implements Store: the record and its index entry, in one pipeline.
func (r *Store) Create(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	return r.create(ctx, nil, "", key, rec)
}

// Regenerate implements Store: the new record, its index entry, and the
// removal of the old record and of its index entry, in one pipeline.
func (r *Store) Regenerate(ctx context.Context, oldKey sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record) error {
	return r.create(ctx, &oldKey, oldUserID, newKey, rec)
}

func (r *Store) create(ctx context.Context, oldKey *sessionstore.Key, oldUserID string, key sessionstore.Key, rec *sessionstore.Record) error {
	data, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return err
	}
	now := r.now()
	old := ""
	if oldKey != nil {
		old = oldKey.String()
	}
	// The session first, then its index entry: a logout-all that reads the
	// index in between leaves a session created after it began.
	calls := []scriptCall{{redisCreate, []string{r.sessKey(key)},
		[]any{data, ms(rec.LastActivity), ms(rec.ExpiresAt), ttl(rec.ExpiresAt, now).Milliseconds(), rec.UserID}}}
	if rec.UserID != "" {
		score := "+inf"
		if !rec.Deadline.IsZero() {
			score = strconv.FormatInt(ms(rec.Deadline), 10)
		}
		drop := ""
		if oldUserID == rec.UserID {
			drop = old // the same user's index: one script does both
		}
		calls = append(calls, scriptCall{redisIndex, []string{r.userKey(rec.UserID)}, []any{key.String(), score, ms(now), drop}})
	}
	cmds, err := evalPipelined(ctx, r.c, calls, func(p redis.Pipeliner) {
		if oldKey != nil {
			p.Del(ctx, r.sessKey(*oldKey))
			if oldUserID != "" && oldUserID != rec.UserID {
				p.ZRem(ctx, r.userKey(oldUserID), old)
			}
		}
	})
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return redisErr(err)
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return redisErr(err)
	}
	if created, _ := cmds[0].(*redis.Cmd).Int64(); created != 1 {
		return errExists
	}
	rec.Rev = 1
	return nil
}

// Update implements Store: one EVALSHA.
func (r *Store) Update(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	data, err := sessionstore.MarshalBody(rec)
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
		return sessionstore.ErrNotFound
	case 0:
		return sessionstore.ErrConflict
	}
	rec.Rev = rev
	return nil
}

// Touch implements Store: one EVALSHA.
func (r *Store) Touch(ctx context.Context, key sessionstore.Key, lastActivity, expiresAt time.Time) error {
	now := r.now()
	err := redisTouch.Run(ctx, r.c, []string{r.sessKey(key)},
		ms(lastActivity), ms(expiresAt), ttl(expiresAt, now).Milliseconds(), ms(now)).Err()
	return redisErr(err)
}

// Destroy implements Store.
func (r *Store) Destroy(ctx context.Context, key sessionstore.Key) error {
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
func (r *Store) members(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, nil // anonymous sessions are not indexed
	}
	m, err := r.c.ZRange(ctx, r.userKey(userID), 0, -1).Result()
	return m, redisErr(err)
}

// List implements UserIndex: the index, then every member's record in one
// pipeline. Members whose session ended are pruned.
func (r *Store) List(ctx context.Context, userID string) ([]sessionstore.Info, error) {
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
	var out []sessionstore.Info
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
	sessionstore.SortInfos(out)
	return out, nil
}

func (r *Store) member(cmd *redis.SliceCmd, member, userID string, now time.Time) (sessionstore.Info, bool) {
	vals, err := cmd.Result()
	if err != nil || len(vals) != 4 {
		return sessionstore.Info{}, false
	}
	var f [4]string
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return sessionstore.Info{}, false
		}
		f[i] = s
	}
	k, err := sessionstore.ParseKey(member)
	if err != nil {
		return sessionstore.Info{}, false
	}
	rec, err := redisRecord(f[0], f[1], f[2], f[3])
	if err != nil || !rec.Live(now) || rec.UserID != userID {
		return sessionstore.Info{}, false
	}
	return rec.Info(k), true
}

// DestroyHandle implements UserIndex.
func (r *Store) DestroyHandle(ctx context.Context, userID, handle string) error {
	if !sessionstore.ValidHandle(handle) {
		return sessionstore.ErrNotFound
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
				return sessionstore.ErrNotFound
			}
			return nil
		}
	}
	return sessionstore.ErrNotFound
}

// DestroyUser implements UserIndex: the index, then one pipeline that
// deletes every session and their index entries. Sessions created while it
// runs are not in what it read, and stay indexed.
func (r *Store) DestroyUser(ctx context.Context, userID string) (int, error) {
	members, err := r.members(ctx, userID)
	if err != nil || len(members) == 0 {
		return 0, err
	}
	return r.destroyMembers(ctx, userID, members)
}

// destroyMembers deletes the sessions of members and removes them from the
// user's index, in one pipeline, and counts those that were live.
func (r *Store) destroyMembers(ctx context.Context, userID string, members []string) (int, error) {
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
func (r *Store) String() string { return fmt.Sprintf("redis store (prefix %q)", r.prefix) }
