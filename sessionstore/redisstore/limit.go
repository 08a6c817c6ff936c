package redisstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/sessionstore"
)

var (
	_ sessionstore.IndexedStore = (*Store)(nil)
	_ sessionstore.Limiter      = (*Store)(nil)
)

// redisLimit decides a login under a limit, as one atomic step on the
// user's index (KEYS[1]) and the hash beside it of when sessions began
// (KEYS[2]), which share a hash slot.
//
// ARGV: now, max, endOldest ("1" or "0"), the new member, its score (its
// deadline), when it began, the old member ("" unless a session of the
// same user is regenerated from), the number of members found dead, those
// members, then pairs of a member found live and when it began.
//
// With an old member that is no longer in the index (DestroyUser took
// it), it returns {-1} and changes nothing else. It removes the index's
// members whose deadline passed or that the caller found dead. When the
// other members (the old one aside) leave no room for the new one: without
// endOldest it returns {-2}; with it, it removes the oldest of them, by
// when they began, then by key (a member whose start is unknown was
// indexed since the caller read the index, and counts as the newest).
// Then it indexes the new member and returns {0, removed members...}: the
// caller deletes their sessions.
var redisLimit = redis.NewScript(`
local now, max, endOldest = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local new, score, began, old = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if old ~= '' and not redis.call('ZSCORE', KEYS[1], old) then return {-1} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local ndead = tonumber(ARGV[8])
for i = 9, 8 + ndead do redis.call('ZREM', KEYS[1], ARGV[i]) end
local seen = {}
for i = 9 + ndead, #ARGV, 2 do seen[ARGV[i]] = tonumber(ARGV[i + 1]) end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local indexed, counted = {}, {}
for _, m in ipairs(members) do
  indexed[m] = true
  if m ~= old and m ~= new then counted[#counted + 1] = m end
end
local starts = {}
local h = redis.call('HGETALL', KEYS[2])
for i = 1, #h, 2 do
  if indexed[h[i]] then starts[h[i]] = tonumber(h[i + 1]) else redis.call('HDEL', KEYS[2], h[i]) end
end
local ended = {0}
local over = #counted - max + 1
if over > 0 then
  if not endOldest then return {-2} end
  local function start(m) return starts[m] or seen[m] or math.huge end
  table.sort(counted, function(a, b)
    local x, y = start(a), start(b)
    if x ~= y then return x < y end
    return a < b
  end)
  for i = 1, over do
    redis.call('ZREM', KEYS[1], counted[i])
    redis.call('HDEL', KEYS[2], counted[i])
    ended[#ended + 1] = counted[i]
  end
end
redis.call('ZADD', KEYS[1], score, new)
redis.call('PEXPIREAT', KEYS[1], score, 'NX')
redis.call('PEXPIREAT', KEYS[1], score, 'GT')
redis.call('HSET', KEYS[2], new, began)
redis.call('PEXPIREAT', KEYS[2], redis.call('PEXPIRETIME', KEYS[1]))
return ended`)

// CreateLimited implements sessionstore.Limiter. The decision (count the
// user's live sessions, refuse or pick the oldest to end, index the new
// one) is one script on the user's index, so it is atomic with every other
// CreateLimited of the user on every instance; the commands around it
// prepare it and carry it out, each on keys the script does not need:
//
//  1. the index, then in one pipeline every member's session (and the old
//     session's): which members are dead (ended, expired) and when the
//     live ones began; the old session must be live and oldUserID's, and,
//     when it is another user's, still in that user's index;
//  2. the new session, SET NX, not yet indexed: a login that reads the
//     index meanwhile does not see it, so never takes it for dead;
//  3. the script (see redisLimit). On a refusal, the new session is
//     deleted again: nothing else changed;
//  4. one pipeline that deletes the ended sessions and, regenerating,
//     takes the old session as Regenerate does; when that finds the old
//     session gone, the new one is deleted and unindexed, and
//     CreateLimited answers ErrNotFound;
//  5. regenerating, the old session's index entry is removed.
//
// The sessions a login ends leave the index in the script and are deleted
// in the next round trip, as DestroyUser deletes the sessions it took from
// the index. When the old session is of the same user, the script checks
// that it is still in the index while it indexes the new one, so a
// DestroyUser of the user either makes the login fail or takes the new
// session too. A login whose old session was revoked between steps 3 and 4
// answers ErrNotFound but has ended the sessions it made room with.
func (r *Store) CreateLimited(ctx context.Context, oldKey *sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record, limit sessionstore.Limit) (int, error) {
	if err := limit.Validate(); err != nil {
		return 0, err
	}
	uid := rec.UserID
	if uid == "" {
		// Anonymous sessions are not counted.
		if oldKey != nil {
			return 0, r.Regenerate(ctx, *oldKey, oldUserID, newKey, rec)
		}
		return 0, r.Create(ctx, newKey, rec)
	}
	body, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return 0, err
	}

	// 1. What the index holds, and whether the old session is there.
	members, err := r.members(ctx, uid)
	if err != nil {
		return 0, err
	}
	read := members
	if oldKey != nil {
		read = append(read[:len(read):len(read)], oldKey.String())
	}
	var inOldIndex *redis.FloatCmd
	vals, err := r.values(ctx, read, func(p redis.Pipeliner) {
		if oldKey != nil && oldUserID != "" && oldUserID != uid {
			inOldIndex = p.ZScore(ctx, r.userKey(oldUserID), oldKey.String())
		}
	})
	if err != nil {
		return 0, err
	}
	now := r.now()
	if inOldIndex != nil {
		if err := inOldIndex.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return 0, r.redisErr(err)
		}
	}
	if oldKey != nil {
		old, err := record(vals[len(members)])
		if err != nil || !old.Live(now) || old.UserID != oldUserID || (inOldIndex != nil && inOldIndex.Err() != nil) {
			return 0, sessionstore.ErrNotFound
		}
	}
	args := []any{ms(now), limit.Max, 0, newKey.String(), indexScore(rec.Deadline), ms(rec.CreatedAt), ""}
	if limit.EndOldest {
		args[2] = 1
	}
	if oldKey != nil && oldUserID == uid {
		args[6] = oldKey.String()
	}
	var dead, seen []any
	for i, m := range members {
		got, err := record(vals[i])
		if err != nil || !got.Live(now) || got.UserID != uid {
			dead = append(dead, m)
			continue
		}
		seen = append(seen, m, ms(got.CreatedAt))
	}
	args = append(args, len(dead))
	args = append(append(args, dead...), seen...)

	// 2. The new session, not yet indexed.
	member := newKey.String()
	set, err := r.c.SetNX(ctx, r.sessKey(newKey), encodeValue(1, ms(rec.LastActivity), ms(rec.ExpiresAt), uid, body), ttl(rec.ExpiresAt, now)).Result()
	if err != nil {
		return 0, r.redisErr(err)
	}
	if !set {
		return 0, errExists
	}

	// 3. The decision.
	res, err := redisLimit.Run(ctx, r.c, []string{r.userKey(uid), r.startsKey(uid)}, args...).Slice()
	if err != nil {
		return 0, errors.Join(r.redisErr(err), r.redisErr(r.c.Del(ctx, r.sessKey(newKey)).Err()))
	}
	code, _ := res[0].(int64)
	if code != 0 {
		if err := r.c.Del(ctx, r.sessKey(newKey)).Err(); err != nil {
			return 0, r.redisErr(err)
		}
		if code == -2 {
			return 0, sessionstore.ErrTooManySessions
		}
		return 0, sessionstore.ErrNotFound
	}
	victims := make([]string, 0, len(res)-1)
	for _, v := range res[1:] {
		if m, ok := v.(string); ok {
			victims = append(victims, m)
		}
	}

	// 4. The ended sessions deleted, the old one taken.
	rec.Rev = 1
	if len(victims) == 0 && oldKey == nil {
		return 0, nil
	}
	var taken *redis.Cmd
	ended, err := r.destroyMembersWith(ctx, victims, func(p redis.Pipeliner) {
		if oldKey != nil {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
			taken = redisTakeOld.Eval(ctx, p, []string{r.sessKey(*oldKey)}, ms(now), oldUserID)
		}
	})
	if err != nil {
		return ended, err
	}
	if oldKey == nil {
		return ended, nil
	}
	if n, err := taken.Int(); err != nil || n != 1 {
		rec.Rev = 0
		if err != nil {
			return ended, r.redisErr(err)
		}
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, r.sessKey(newKey))
			p.ZRem(ctx, r.userKey(uid), member)
			p.HDel(ctx, r.startsKey(uid), member)
			return nil
		})
		if err != nil {
			return ended, r.redisErr(err)
		}
		return ended, sessionstore.ErrNotFound
	}

	// 5. The old session's index entry.
	if oldUserID != "" {
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, r.userKey(oldUserID), oldKey.String())
			p.HDel(ctx, r.startsKey(oldUserID), oldKey.String())
			return nil
		})
		return ended, r.redisErr(err)
	}
	return ended, nil
}
