// Package redisstore keeps ginauth's sessions in Redis through go-redis, on a
// single node, Sentinel or Cluster deployment (any redis.UniversalClient).
// It needs Redis 7.0 or later.
package redisstore

import (
	"context"
	"encoding/hex"
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
	// Prefix starts every key the store writes. Default "sess:". A hash
	// tag in it ("{sessions}:") puts every key in one Cluster hash slot;
	// it must not hold an empty one ("{}").
	Prefix string

	// Now is the clock; nil means time.Now. Expiry is computed from it and
	// checked on every read, and Redis key TTLs follow it.
	Now func() time.Time
}

// Store keeps sessions in Redis. It implements sessionstore.IndexedStore
// and sessionstore.Limiter.
//
// Layout, readable with redis-cli:
//
//	<prefix><key>        string: 2|rev|seen|exp|n:uid|body
//	                     rev the revision; seen and exp last activity and
//	                     expiry, Unix ms; uid the user (n bytes); body the
//	                     record's JSON (sessionstore.MarshalBody). Its TTL
//	                     ends with the session.
//	<prefix>{user:<id>}  sorted set of the user's session keys, scored by
//	                     each session's absolute deadline
//	<prefix>{user:<id>}:created
//	                     hash: for the sessions CreateLimited indexed, when
//	                     each began (Unix ms); in the index's hash slot, and
//	                     with its TTL
//
// A load is one GET, whose one reply the store reads in place; a touch and
// an update one EVALSHA; a login one pipeline of four commands (SET NX of
// the session; ZADD to the index and two PEXPIREAT, NX then GT, that keep
// the index alive as long as its longest member); a regeneration three
// round trips, so that it never outlives a revoke (see Regenerate); a
// login under a session limit four to six (see CreateLimited); a
// logout-all one MULTI
// of the index and one pipeline of DEL (500 keys to a DEL on one server,
// a key to a DEL on Cluster). Every other command touches one key, or the
// user's index and the hash beside it, which share a hash slot
// (multi-step writes are Lua scripts on those keys), so the store works
// on Cluster, where a session and its user's index live in different hash
// slots; batches over both are pipelined, one round trip per node.
// Index entries of ended sessions are pruned when the index is read, at
// every logout, at one login in 64, and at every login under a limit.
//
// On Cluster, a failed master's sessions answer ErrUnavailable until a
// replica takes over, and are served again as soon as it has: the store
// makes the client re-read the cluster's layout when a node fails, instead
// of waiting for go-redis's periodic reload (a minute by default).
type Store struct {
	c       redis.UniversalClient
	cluster *redis.ClusterClient // c, when it is a Cluster client
	oneNode bool                 // c sends every key to one server (not Cluster, not Ring)
	prefix  string
	now     func() time.Time
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
	cluster, _ := c.(*redis.ClusterClient)
	_, oneNode := c.(*redis.Client)
	return &Store{c: c, cluster: cluster, oneNode: oneNode, prefix: opts.Prefix, now: opts.Now}
}

// Close does nothing; it exists so every store can be closed alike.
func (r *Store) Close() error { return nil }

// sessKey is the session's key, built in one allocation.
func (r *Store) sessKey(k sessionstore.Key) string {
	var h [2 * len(k)]byte
	hex.Encode(h[:], k[:])
	var b strings.Builder
	b.Grow(len(r.prefix) + len(h))
	b.WriteString(r.prefix)
	b.Write(h[:])
	return b.String()
}

// userKey is the user's index. Its name holds a hash tag, {user:<id>}, so
// that on Cluster the keys that start with it (startsKey) live in the same
// hash slot and one script can use them together.
func (r *Store) userKey(uid string) string { return r.prefix + "{user:" + uid + "}" }

// startsKey is the hash beside the user's index in which CreateLimited
// keeps when each session it created began (see CreateLimited).
func (r *Store) startsKey(uid string) string { return r.userKey(uid) + ":created" }

// format is the layout version that starts every session value.
const format = "2|"

// encodeValue lays a session out as the store keeps it.
func encodeValue(rev, seen, exp int64, uid string, body []byte) []byte {
	b := make([]byte, 0, len(format)+3*20+8+len(uid)+1+len(body))
	b = append(b, format...)
	b = strconv.AppendInt(b, rev, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, seen, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(len(uid)), 10)
	b = append(b, ':')
	b = append(b, uid...)
	b = append(b, '|')
	return append(b, body...)
}

// value is a session as decodeValue reads it: slices of the stored string.
type value struct {
	rev, seen, exp int64
	uid, body      string
}

// decodeValue reads a stored session without copying it.
func decodeValue(s string) (value, bool) {
	var v value
	if !strings.HasPrefix(s, format) {
		return v, false
	}
	s = s[len(format):]
	var ok bool
	for _, dst := range []*int64{&v.rev, &v.seen, &v.exp} {
		if *dst, s, ok = cutInt(s, '|'); !ok {
			return v, false
		}
	}
	n, s, ok := cutInt(s, ':')
	if !ok || n < 0 || int64(len(s)) < n+1 || s[n] != '|' {
		return v, false
	}
	v.uid, v.body = s[:n], s[n+1:]
	return v, true
}

// cutInt reads a decimal integer up to sep.
func cutInt(s string, sep byte) (int64, string, bool) {
	i := strings.IndexByte(s, sep)
	if i <= 0 {
		return 0, s, false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	return n, s[i+1:], err == nil
}

// luaValue is the Lua the scripts share: reading a session's value and
// writing one.
const luaValue = `
local function int(x) return string.format('%d', x) end
local function encode(rev, seen, exp, uid, body)
  return '2|' .. int(rev) .. '|' .. int(seen) .. '|' .. int(exp) .. '|' .. #uid .. ':' .. uid .. '|' .. body
end
local function parse(v)
  local rev, seen, exp, n, p = string.match(v, '^2|(%d+)|(%d+)|(%d+)|(%d+):()')
  if not rev then return nil end
  n = tonumber(n)
  if string.sub(v, p + n, p + n) ~= '|' then return nil end
  return tonumber(rev), tonumber(seen), tonumber(exp), string.sub(v, p, p + n - 1), string.sub(v, p + n + 1)
end
`

// Lua scripts, each on exactly one key.
var (
	// redisUpdate: ARGV rev, body, seen, exp, ttl, now, uid. Returns the new
	// revision, 0 for a conflict, -1 for a session that is gone.
	redisUpdate = redis.NewScript(luaValue + `
local v = redis.call('GET', KEYS[1])
if not v then return -1 end
local rev, seen, exp, uid = parse(v)
if not rev or exp <= tonumber(ARGV[6]) then return -1 end
if rev ~= tonumber(ARGV[1]) or uid ~= ARGV[7] then return 0 end
rev = rev + 1
seen = math.max(tonumber(ARGV[3]), seen)
if tonumber(ARGV[4]) > exp then
  redis.call('SET', KEYS[1], encode(rev, seen, tonumber(ARGV[4]), uid, ARGV[2]), 'PX', ARGV[5])
else
  redis.call('SET', KEYS[1], encode(rev, seen, exp, uid, ARGV[2]), 'KEEPTTL')
end
return rev`)

	// redisTouch: ARGV seen, exp, ttl, now.
	redisTouch = redis.NewScript(luaValue + `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local rev, seen, exp, uid, body = parse(v)
if not rev or exp <= tonumber(ARGV[4]) then return 0 end
seen = math.max(tonumber(ARGV[1]), seen)
if tonumber(ARGV[2]) > exp then
  redis.call('SET', KEYS[1], encode(rev, seen, tonumber(ARGV[2]), uid, body), 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], encode(rev, seen, exp, uid, body), 'KEEPTTL')
end
return 1`)

	// redisTakeOld: the old session of a regeneration. ARGV now, uid. If
	// the session under KEYS[1] is live and belongs to uid, deletes it and
	// returns 1; else changes nothing and returns 0.
	redisTakeOld = redis.NewScript(luaValue + `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local rev, seen, exp, uid = parse(v)
if not rev or exp <= tonumber(ARGV[1]) or uid ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1`)

	// redisDestroy deletes a session and returns its user.
	redisDestroy = redis.NewScript(luaValue + `
local v = redis.call('GET', KEYS[1])
local uid = ''
if v then
  local _, _, _, u = parse(v)
  uid = u or ''
end
redis.call('DEL', KEYS[1])
return uid`)
)

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
//
// On Cluster, an error that is not a reply from Redis (a node that refuses
// connections or times out) also asks the client to read the cluster's
// layout again: go-redis keeps sending a failed master's slots to it until
// its next periodic reload (every minute by default), long after a replica
// has taken over. The client runs one reload at a time, at most every
// 200 ms, in the background, so a burst of errors costs one CLUSTER SLOTS.
func (r *Store) redisErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return sessionstore.ErrNotFound
	}
	var re redis.Error
	if r.cluster != nil && !errors.As(err, &re) {
		r.cluster.ReloadState(context.Background())
	}
	return sessionstore.Unavailable(err)
}

// Load implements Store: one GET.
func (r *Store) Load(ctx context.Context, key sessionstore.Key) (*sessionstore.Record, error) {
	s, err := r.c.Get(ctx, r.sessKey(key)).Result()
	if err != nil {
		return nil, r.redisErr(err)
	}
	rec, err := record(s)
	if err != nil {
		return nil, err
	}
	if !rec.Live(r.now()) {
		return nil, sessionstore.ErrNotFound
	}
	return rec, nil
}

// record decodes a stored session.
func record(s string) (*sessionstore.Record, error) {
	v, ok := decodeValue(s)
	if !ok {
		return nil, sessionstore.Corrupt(errors.New("not a session value"))
	}
	rec := &sessionstore.Record{}
	if err := sessionstore.UnmarshalBody(v.body, rec); err != nil {
		return nil, err
	}
	rec.Rev = v.rev
	rec.LastActivity = time.UnixMilli(v.seen).UTC()
	rec.ExpiresAt = time.UnixMilli(v.exp).UTC()
	return rec, nil
}

// Create implements Store: the record (SET NX) and its index entry, in one
// pipeline.
func (r *Store) Create(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	_, err := r.create(ctx, nil, "", key, rec)
	return err
}

// Regenerate implements Store, in three round trips, each of commands on
// one key (a session and its user's index live in different hash slots
// on Cluster):
//
//  1. the new record and its index entry, as Create writes them, and in
//     the same pipeline, after them, ZSCORE: the old session must still
//     be in its user's index (DestroyUser takes the whole index at once);
//  2. a script on the old session: still live, of that user? then deleted;
//  3. ZREM of the old session's index entry.
//
// When 1 or 2 finds the old session gone, the new record and its index
// entry are deleted again, and Regenerate answers ErrNotFound. A
// DestroyUser that takes the index before step 1 makes the check fail; one
// that takes it after has the new session in it, and destroys it. The new
// ID reaches no client before Regenerate returns, so the new record's
// short life in between serves nobody. A failure half way leaves the old
// session as it was, or gone with its index entry stale (pruned later),
// and at worst an unused new record, never an old session left out of its
// user's index.
func (r *Store) Regenerate(ctx context.Context, oldKey sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record) error {
	member := oldKey.String()
	indexed, err := r.create(ctx, &member, oldUserID, newKey, rec)
	if err != nil {
		return err
	}
	if indexed {
		taken, err := redisTakeOld.Run(ctx, r.c, []string{r.sessKey(oldKey)}, ms(r.now()), oldUserID).Int()
		if err != nil {
			return r.redisErr(err)
		}
		if taken == 1 {
			if oldUserID != "" {
				return r.redisErr(r.c.ZRem(ctx, r.userKey(oldUserID), member).Err())
			}
			return nil
		}
	}
	// The old session is gone: so is the new one.
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.sessKey(newKey))
		if rec.UserID != "" {
			p.ZRem(ctx, r.userKey(rec.UserID), newKey.String())
		}
		return nil
	})
	if err != nil {
		return r.redisErr(err)
	}
	rec.Rev = 0
	return sessionstore.ErrNotFound
}

// create writes the record and its index entry in one pipeline. With
// oldMember, it also checks that oldMember is in oldUserID's index (after
// the new entry is added), and reports whether it is; without, it reports
// true.
func (r *Store) create(ctx context.Context, oldMember *string, oldUserID string, key sessionstore.Key, rec *sessionstore.Record) (bool, error) {
	body, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return false, err
	}
	now := r.now()
	v := encodeValue(1, ms(rec.LastActivity), ms(rec.ExpiresAt), rec.UserID, body)
	member := key.String()
	var set *redis.BoolCmd
	var check *redis.FloatCmd
	cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		// Sent before the index entry: a logout-all that reads the index in
		// between leaves a session created after it began.
		set = p.SetNX(ctx, r.sessKey(key), v, ttl(rec.ExpiresAt, now))
		if rec.UserID != "" {
			r.index(ctx, p, rec.UserID, member, indexScore(rec.Deadline), now, key[0] < pruneOneIn)
		}
		if oldMember != nil && oldUserID != "" {
			check = p.ZScore(ctx, r.userKey(oldUserID), *oldMember)
		}
		return nil
	})
	if err != nil {
		for _, c := range cmds {
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return false, r.redisErr(err)
			}
		}
	}
	if !set.Val() {
		return false, errExists
	}
	rec.Rev = 1
	return check == nil || check.Err() == nil, nil
}

// pruneOneIn: a create prunes its user's index when the first byte of its
// (random) key is below it, 4 of 256 creates (1 in 64). The index is also
// pruned whenever it is read (List) and at every logout, so entries of
// ended sessions are bounded even for a user who signs in all the time and
// never looks at the list, while a login stays at four commands.
const pruneOneIn = 4

// noDeadline is the index score of a session without an absolute
// deadline: the last millisecond of year 9999, far enough to be never, and
// finite, so that the index's TTL can always follow its longest member.
const noDeadline = 253402300799999

func indexScore(deadline time.Time) int64 {
	if deadline.IsZero() {
		return noDeadline
	}
	return ms(deadline)
}

// index queues the commands that add member to userID's index with the
// given score, and keep the index alive until its longest member's
// deadline: ZADD, PEXPIREAT NX (an index that was just created has no TTL
// yet), PEXPIREAT GT (extends, never shortens, the TTL of one that had).
// In that order, two logins of one user that interleave in any way leave
// the TTL at the later deadline. With prune, members whose deadline passed
// are removed first.
func (r *Store) index(ctx context.Context, p redis.Pipeliner, userID, member string, score int64, now time.Time, prune bool) {
	k := r.userKey(userID)
	if prune {
		p.ZRemRangeByScore(ctx, k, "-inf", "("+strconv.FormatInt(ms(now), 10))
	}
	p.ZAdd(ctx, k, redis.Z{Score: float64(score), Member: member})
	p.Do(ctx, "PEXPIREAT", k, score, "NX")
	p.Do(ctx, "PEXPIREAT", k, score, "GT")
}

// Update implements Store: one EVALSHA.
func (r *Store) Update(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	body, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return err
	}
	now := r.now()
	rev, err := redisUpdate.Run(ctx, r.c, []string{r.sessKey(key)},
		rec.Rev, body, ms(rec.LastActivity), ms(rec.ExpiresAt), ttl(rec.ExpiresAt, now).Milliseconds(), ms(now), rec.UserID).Int64()
	if err != nil {
		return r.redisErr(err)
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
	return r.redisErr(err)
}

// Destroy implements Store: one EVALSHA, then one pipeline that removes
// its index entry and prunes the index.
func (r *Store) Destroy(ctx context.Context, key sessionstore.Key) error {
	uid, err := redisDestroy.Run(ctx, r.c, []string{r.sessKey(key)}).Text()
	if err != nil && !errors.Is(err, redis.Nil) {
		return r.redisErr(err)
	}
	if uid != "" {
		k := r.userKey(uid)
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, k, key.String())
			p.ZRemRangeByScore(ctx, k, "-inf", "("+strconv.FormatInt(ms(r.now()), 10))
			return nil
		})
		return r.redisErr(err)
	}
	return nil
}

// members returns the keys in the user's index.
func (r *Store) members(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, nil // anonymous sessions are not indexed
	}
	m, err := r.c.ZRange(ctx, r.userKey(userID), 0, -1).Result()
	return m, r.redisErr(err)
}

// values reads the sessions under members (keys without the prefix) in one
// pipeline, with the commands that also queues, if any (their replies are
// the caller's to check). Missing sessions read as "".
func (r *Store) values(ctx context.Context, members []string, also func(redis.Pipeliner)) ([]string, error) {
	cmds := make([]*redis.StringCmd, len(members))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = p.Get(ctx, r.prefix+m)
		}
		if also != nil {
			also(p)
		}
		return nil
	})
	out := make([]string, len(members))
	for i, c := range cmds {
		switch err := c.Err(); {
		case err == nil:
			out[i] = c.Val()
		case !errors.Is(err, redis.Nil):
			return nil, r.redisErr(err)
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, r.redisErr(err)
	}
	return out, nil
}

// List implements UserIndex: the index, then every member's session in one
// pipeline. Members whose session ended are pruned.
func (r *Store) List(ctx context.Context, userID string) ([]sessionstore.Info, error) {
	members, err := r.members(ctx, userID)
	if err != nil || len(members) == 0 {
		return nil, err
	}
	vals, err := r.values(ctx, members, nil)
	if err != nil {
		return nil, err
	}
	now := r.now()
	var out []sessionstore.Info
	var stale []any
	for i, m := range members {
		k, err := sessionstore.ParseKey(m)
		rec, rerr := record(vals[i])
		if err != nil || rerr != nil || !rec.Live(now) || rec.UserID != userID {
			stale = append(stale, m)
			continue
		}
		out = append(out, rec.Info(k))
	}
	if len(stale) > 0 {
		if err := r.c.ZRem(ctx, r.userKey(userID), stale...).Err(); err != nil {
			return nil, r.redisErr(err)
		}
	}
	sessionstore.SortInfos(out)
	return out, nil
}

// DestroyID implements UserIndex.
func (r *Store) DestroyID(ctx context.Context, userID, handle string) error {
	if !sessionstore.ValidID(handle) {
		return sessionstore.ErrNotFound
	}
	members, err := r.members(ctx, userID)
	if err != nil {
		return err
	}
	for _, m := range members {
		if !strings.HasPrefix(m, handle) {
			continue
		}
		n, err := r.destroyMembers(ctx, []string{m})
		if err == nil {
			err = r.redisErr(r.c.ZRem(ctx, r.userKey(userID), m).Err())
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return sessionstore.ErrNotFound
		}
		return nil
	}
	return sessionstore.ErrNotFound
}

// DestroyUser implements UserIndex: the index read and removed at once
// (ZRANGE and DEL in one MULTI), then the sessions deleted in one pipeline:
// DELs of delBatch keys each on a single server (a *redis.Client, Sentinel's
// too), one DEL per key on Cluster and Ring, whose keys live on several
// nodes (one round trip per node). Sessions indexed after the index was taken start a
// new one, and stay.
func (r *Store) DestroyUser(ctx context.Context, userID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	var take *redis.StringSliceCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		take = p.ZRange(ctx, r.userKey(userID), 0, -1)
		p.Del(ctx, r.userKey(userID), r.startsKey(userID))
		return nil
	})
	members := take.Val()
	if err != nil || len(members) == 0 {
		return 0, r.redisErr(err)
	}
	return r.destroyMembers(ctx, members)
}

// delBatch is how many keys one DEL names on a single server: large enough
// that 10,000 sessions take 20 commands, small enough that no one command
// holds the server long.
const delBatch = 500

// destroyMembers deletes the sessions under members, in one pipeline, and
// counts those that were still stored: Redis drops a session's key at its
// expiry (its TTL follows the store's clock), so a key that is there is a
// live session.
func (r *Store) destroyMembers(ctx context.Context, members []string) (int, error) {
	return r.destroyMembersWith(ctx, members, nil)
}

// destroyMembersWith is destroyMembers with the commands that also queues
// in the same pipeline (their replies are the caller's to check).
func (r *Store) destroyMembersWith(ctx context.Context, members []string, also func(redis.Pipeliner)) (int, error) {
	batch := 1
	if r.oneNode {
		batch = delBatch
	}
	cmds := make([]*redis.IntCmd, 0, (len(members)+batch-1)/batch)
	keys := make([]string, 0, min(batch, len(members)))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			keys = append(keys, r.prefix+m)
			if len(keys) == batch || i == len(members)-1 {
				cmds = append(cmds, p.Del(ctx, keys...))
				keys = keys[:0]
			}
		}
		if also != nil {
			also(p)
		}
		return nil
	})
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return 0, r.redisErr(err)
		}
	}
	if err != nil && also == nil {
		return 0, r.redisErr(err)
	}
	n := 0
	for _, c := range cmds {
		n += int(c.Val())
	}
	return n, nil
}

// String describes the store without secrets.
func (r *Store) String() string { return fmt.Sprintf("redis store (prefix %q)", r.prefix) }
