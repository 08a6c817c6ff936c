package redisstore_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

func redisClient(t testing.TB) (*redis.Client, string) { return testenv.RedisClient(t) }

func downRedis(t testing.TB) sessionstore.IndexedStore {
	c := redis.NewClient(&redis.Options{Addr: testenv.ClosedAddr(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return redisstore.New(c, redisstore.Options{})
}

// indexKey is the name of a user's index: a hash tag, so that the hash
// beside it shares its Cluster slot.
func indexKey(prefix, uid string) string { return prefix + "{user:" + uid + "}" }

func TestRedisStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		c, prefix := redisClient(t)
		clock := storetest.NewClock()
		s := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
		return &storetest.Harness{
			// Another instance: a client of its own, on the same server.
			Twin: func(t testing.TB) sessionstore.IndexedStore {
				c2 := redis.NewClient(&redis.Options{Addr: c.Options().Addr, DB: c.Options().DB})
				t.Cleanup(func() { _ = c2.Close() })
				return redisstore.New(c2, redisstore.Options{Prefix: prefix, Now: clock.Now})
			},
			Store: s,
			Clock: clock,
			Corrupt: func(t testing.TB, k sessionstore.Key) {
				// Not a session value at all: what a foreign writer would leave.
				if err := c.Set(context.Background(), prefix+k.String(), "\x00garbage\xff", time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
			},
			IndexLen: func(t testing.TB, uid string) int {
				n, err := c.ZCard(context.Background(), indexKey(prefix, uid)).Result()
				if err != nil {
					t.Fatal(err)
				}
				return int(n)
			},
			Down: downRedis,
		}
	})
}

// A session value whose fields are damaged is also "no session", never a
// panic, for the store and for its scripts.
func TestRedisStoreDamagedValues(t *testing.T) {
	c, prefix := redisClient(t)
	s := redisstore.New(c, redisstore.Options{Prefix: prefix})
	ctx := context.Background()
	const body = `{"v":1,"created":"2026-01-01T00:00:00Z"}`
	for name, v := range map[string]string{
		"garbage body":          "2|1|1|99999999999999|1:u|{not json",
		"future record version": `2|1|1|99999999999999|1:u|{"v":99}`,
		"other layout version":  "3|1|1|99999999999999|1:u|" + body,
		"bad rev":               "2|x|1|99999999999999|1:u|" + body,
		"no exp":                "2|1|1|1:u|" + body,
		"uid past the end":      "2|1|1|99999999999999|99:u|" + body,
		"negative uid length":   "2|1|1|99999999999999|-1:u|" + body,
		"empty":                 "",
		"binary":                "\xff\xfe\x00|\x00",
	} {
		k := storetest.NewKey()
		if err := c.Set(ctx, prefix+k.String(), v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
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
	testenv.SkipIfShort(t, "starts a Redis Cluster")
	addrs := testenv.StartRedisCluster(t, 0).Masters
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { _ = c.Close() })
		clock := storetest.NewClock()
		prefix := "sess-" + testenv.Unique() + ":"
		return &storetest.Harness{
			Store:     redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now}),
			Clock:     clock,
			IndexSize: 2000, // the full 10,000 run on a single node above; here the point is the slots
			Twin: func(t testing.TB) sessionstore.IndexedStore {
				c2 := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
				t.Cleanup(func() { _ = c2.Close() })
				return redisstore.New(c2, redisstore.Options{Prefix: prefix, Now: clock.Now})
			},
			IndexLen: func(t testing.TB, uid string) int {
				n, err := c.ZCard(context.Background(), indexKey(prefix, uid)).Result()
				if err != nil {
					t.Fatal(err)
				}
				return int(n)
			},
		}
	})
	// The user's index and the hash beside it share a slot whatever the
	// user ID holds: braces of its own, an empty pair, a closing brace
	// first. A login under a limit uses both in one script, which would
	// fail with CROSSSLOT if they did not.
	t.Run("LimitUserIDs", func(t *testing.T) {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { _ = c.Close() })
		s := redisstore.New(c, redisstore.Options{Prefix: "sess-" + testenv.Unique() + ":"})
		ctx := context.Background()
		for _, uid := range []string{"}x", "{}", "a{b}c", "{", "}", "user:{42}"} {
			for range 3 {
				now := time.Now()
				rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: uid, CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}
				if _, err := s.CreateLimited(ctx, nil, "", storetest.NewKey(), rec, sessionstore.Limit{Max: 2, EndOldest: true}); err != nil {
					t.Fatalf("user %q: CreateLimited: %v", uid, err)
				}
			}
			if infos, err := s.List(ctx, uid); err != nil || len(infos) != 2 {
				t.Errorf("user %q: List = %d sessions, %v; want 2", uid, len(infos), err)
			}
			if n, err := s.DestroyUser(ctx, uid); err != nil || n != 2 {
				t.Errorf("user %q: DestroyUser = %d, %v; want 2", uid, n, err)
			}
		}
	})
}

// When a Cluster master fails and its replica takes over, the store serves
// its sessions again by itself within seconds: an error from the failed
// node makes the client read the cluster's layout again, instead of
// sending the slots to the dead node until go-redis's next periodic reload
// (a minute by default). Sessions written before the failure are there.
func TestRedisStoreClusterFailover(t *testing.T) {
	testenv.SkipIfShort(t, "starts a Redis Cluster")
	cl := testenv.StartRedisCluster(t, 1)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Masters, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	store := redisstore.New(c, redisstore.Options{})
	now := time.Now()
	k := storetest.NewKey()
	rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}
	if err := store.Create(ctx, k, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, k); err != nil {
		t.Fatal(err)
	}
	master := cl.MasterOf("sess:" + k.String())
	direct := redis.NewClient(&redis.Options{Addr: master})
	if n, err := direct.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n < 1 {
		t.Fatalf("the replica did not acknowledge the session: %d, %v", n, err)
	}
	_ = direct.Close()
	cl.Stop(master)
	start := time.Now()
	var errs int
	testenv.Eventually(t, "the session loads again after the failover", func() bool {
		_, err := store.Load(ctx, k)
		switch {
		case err == nil:
			return true
		case !errors.Is(err, sessionstore.ErrUnavailable):
			t.Fatalf("during the failover a load answered %v, not unavailable", err)
		}
		errs++
		return false
	})
	t.Logf("the session loaded again %s after its master stopped (%d loads answered unavailable)", time.Since(start).Round(time.Millisecond), errs)
}

// The hot path budget on Redis: a load is one command, a touch one, an
// update one; creating an indexed session is one round trip, and a login
// over the user's session a few. (That a request which changes nothing
// inside the touch interval sends nothing after its load is the session
// layer's to check: it is the one that does not call the store.)
func TestRedisCommandBudget(t *testing.T) {
	c, prefix := redisClient(t)
	counter := &testenv.CommandCounter{}
	c.AddHook(counter)
	ctx := context.Background()
	clock := storetest.NewClock()
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	record := func(uid string) *sessionstore.Record {
		now := clock.Now()
		return &sessionstore.Record{
			Meta:   sessionstore.Meta{UserID: uid, CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(30 * time.Minute), Deadline: now.Add(24 * time.Hour)},
			Values: map[string]sessionstore.Value{"a": {JSON: []byte(`"x"`)}},
		}
	}
	// Warm the server's script cache, as any earlier request would have:
	// what is counted below is the steady state.
	warm := storetest.NewKey()
	wrec := record("u0")
	if err := store.Create(ctx, warm, wrec); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, warm, wrec); err != nil { // the update script
		t.Fatal(err)
	}
	if err := store.Touch(ctx, warm, clock.Now(), clock.Now().Add(time.Minute)); err != nil { // the touch script
		t.Fatal(err)
	}
	if err := store.Regenerate(ctx, warm, "u0", storetest.NewKey(), record("u0")); err != nil { // the script that takes the old session
		t.Fatal(err)
	}
	counter.Take()

	k := storetest.NewKey()
	if err := store.Create(ctx, k, record("u1")); err != nil {
		t.Fatal(err)
	}
	wantCreate := "SET ZADD PEXPIREAT PEXPIREAT"
	if k[0] < 4 { // one create in 64 prunes the index first
		wantCreate = "SET ZREMRANGEBYSCORE ZADD PEXPIREAT PEXPIREAT"
	}
	if got, trips := counter.TakeTrips(); strings.Join(got, " ") != wantCreate || trips != 1 {
		t.Errorf("creating an indexed session sent %v in %d round trips; want [%s] in one", got, trips, wantCreate)
	}

	steps := []struct {
		name  string
		run   func() error
		want  []string
		trips int
	}{
		{"load", func() error { _, err := store.Load(ctx, k); return err }, []string{"GET"}, 1},
		{"touch", func() error {
			clock.Advance(2 * time.Minute)
			return store.Touch(ctx, k, clock.Now(), clock.Now().Add(30*time.Minute))
		}, []string{"EVALSHA"}, 1},
		{"update", func() error {
			r, err := store.Load(ctx, k)
			if err != nil {
				return err
			}
			counter.Take()
			r.Values["a"] = sessionstore.Value{JSON: []byte(`"y"`)}
			return store.Update(ctx, k, r)
		}, []string{"EVALSHA"}, 1},
		{"regenerate at a new login of the same user", func() error {
			next := storetest.NewKey()
			if err := store.Regenerate(ctx, k, "u1", next, record("u1")); err != nil {
				return err
			}
			k = next
			return nil
		}, []string{"SET", "ZADD", "PEXPIREAT", "PEXPIREAT", "ZSCORE", "EVALSHA", "ZREM"}, 3},
	}
	for _, st := range steps {
		counter.Take()
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, trips := counter.TakeTrips()
		if i := slices.Index(got, "ZREMRANGEBYSCORE"); i >= 0 && k[0] < 4 {
			got = slices.Delete(got, i, i+1) // the one create in 64 that prunes
		}
		if strings.Join(got, " ") != strings.Join(st.want, " ") || trips != st.trips {
			t.Errorf("%s sent %v in %d round trips, want %v in %d", st.name, got, trips, st.want, st.trips)
		}
	}
	if infos, err := store.List(ctx, "u1"); err != nil || len(infos) != 1 || infos[0].ID != k.ID() {
		t.Errorf("after regenerating, the index lists %v, %v; want the new session alone", infos, err)
	}
}

func BenchmarkStore(b *testing.B) {
	c, prefix := redisClient(b)
	storetest.Bench(b, redisstore.New(c, redisstore.Options{Prefix: prefix}))
}

// After the server lost its script cache (a restart, SCRIPT FLUSH), the
// writes that are scripts (update, touch) send the script again with its
// body, and a login, which is no script, is unchanged.
func TestRedisStoreAfterScriptFlush(t *testing.T) {
	// A server of the test's own: flushing the shared one's scripts would
	// change what other tests running meanwhile send.
	srv := testenv.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	store := redisstore.New(c, redisstore.Options{})
	now := time.Now()
	rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(time.Hour)}}
	k := storetest.NewKey()
	if err := store.Create(ctx, k, rec); err != nil {
		t.Fatal(err)
	}
	if err := store.Touch(ctx, k, now, now.Add(time.Hour)); err != nil { // caches the touch script
		t.Fatal(err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	counter := &testenv.CommandCounter{}
	c.AddHook(counter)
	if err := store.Touch(ctx, k, now.Add(time.Minute), now.Add(time.Hour)); err != nil {
		t.Fatalf("Touch after SCRIPT FLUSH: %v", err)
	}
	if got := strings.Join(counter.Take(), " "); got != "EVALSHA EVAL" {
		t.Errorf("commands of a touch after SCRIPT FLUSH: %s", got)
	}
	if err := store.Update(ctx, k, rec); err != nil {
		t.Fatalf("Update after SCRIPT FLUSH: %v", err)
	}
	if got := strings.Join(counter.Take(), " "); got != "EVALSHA EVAL" {
		t.Errorf("commands of an update after SCRIPT FLUSH: %s", got)
	}
	if err := store.Create(ctx, storetest.NewKey(), rec); err != nil {
		t.Fatalf("Create after SCRIPT FLUSH: %v", err)
	}
	if infos, err := store.List(ctx, "u"); err != nil || len(infos) != 2 {
		t.Errorf("List = %v, %v; want both sessions", infos, err)
	}
}

// The index lives exactly as long as its longest member: created with the
// first session's deadline, extended by a later one, never shortened by an
// earlier one (a session regenerated with its old deadline, a shorter
// absolute timeout after a deploy), and far in the future for a session
// without a deadline.
func TestRedisIndexTTL(t *testing.T) {
	c, prefix := redisClient(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: func() time.Time { return now }})
	create := func(uid string, deadline time.Time) {
		t.Helper()
		exp := now.Add(time.Minute)
		if !deadline.IsZero() && deadline.Before(exp) {
			exp = deadline
		}
		rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: uid, CreatedAt: now, LastActivity: now, ExpiresAt: exp, Deadline: deadline}}
		if err := store.Create(ctx, storetest.NewKey(), rec); err != nil {
			t.Fatal(err)
		}
	}
	expireAt := func(uid string) time.Time {
		t.Helper()
		at, err := c.Do(ctx, "PEXPIRETIME", indexKey(prefix, uid)).Int64()
		if err != nil || at < 0 {
			t.Fatalf("PEXPIRETIME of %s's index = %v, %v", uid, at, err)
		}
		return time.UnixMilli(at)
	}
	steps := []struct {
		name     string
		deadline time.Time
		want     time.Time
	}{
		{"first session", now.Add(2 * time.Hour), now.Add(2 * time.Hour)},
		{"a later deadline extends", now.Add(3 * time.Hour), now.Add(3 * time.Hour)},
		{"an earlier deadline does not shorten", now.Add(time.Hour), now.Add(3 * time.Hour)},
		{"no deadline is year 9999", time.Time{}, time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
		{"and stays", now.Add(4 * time.Hour), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
	}
	for _, st := range steps {
		create("steps", st.deadline)
		if got := expireAt("steps"); !got.Equal(st.want) {
			t.Errorf("%s: index expires at %v, want %v", st.name, got, st.want)
		}
	}
	if infos, err := store.List(ctx, "steps"); err != nil || len(infos) != len(steps) {
		t.Errorf("List = %d sessions, %v; want %d", len(infos), err, len(steps))
	}

}

// BenchmarkDestroyUser10k measures logout-all of a user with 10,000
// sessions, beside its floor: one pipeline of a DEL per key, deleting the
// same 10,000 sessions (made by the store the same way, the floor told
// their keys rather than reading the index).
func BenchmarkDestroyUser10k(b *testing.B) {
	const n = 10_000
	c, prefix := redisClient(b)
	ctx := context.Background()
	store := redisstore.New(c, redisstore.Options{Prefix: prefix})
	create := func(b *testing.B) []string {
		b.StopTimer()
		defer b.StartTimer()
		now := time.Now()
		keys := make([]string, n)
		for i := range keys {
			k := storetest.NewKey()
			rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "heavy", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour)}}
			if err := store.Create(ctx, k, rec); err != nil {
				b.Fatal(err)
			}
			keys[i] = prefix + k.String()
		}
		runtime.GC() // the setup's garbage is not the measured call's
		return keys
	}
	b.Run("DestroyUser", func(b *testing.B) {
		for b.Loop() {
			create(b)
			if got, err := store.DestroyUser(ctx, "heavy"); err != nil || got != n {
				b.Fatalf("DestroyUser = %d, %v", got, err)
			}
		}
	})
	b.Run("PipelinedDel", func(b *testing.B) {
		for b.Loop() {
			keys := create(b)
			if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Del(ctx, k)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := c.Del(ctx, indexKey(prefix, "heavy")).Err(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}

// A logout-all larger than one DEL batch deletes every session, counts the
// live ones only, and leaves other users' sessions alone.
func TestRedisDestroyUserInBatches(t *testing.T) {
	c, prefix := redisClient(t)
	ctx := context.Background()
	store := redisstore.New(c, redisstore.Options{Prefix: prefix})
	now := time.Now()
	mk := func(uid string) sessionstore.Key {
		k := storetest.NewKey()
		rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: uid, CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour)}}
		if err := store.Create(ctx, k, rec); err != nil {
			t.Fatal(err)
		}
		return k
	}
	const n = 1234 // three batches, the last one short
	keys := make([]sessionstore.Key, n)
	for i := range keys {
		keys[i] = mk("many")
	}
	other := mk("other")
	// Seven sessions gone already, as if expired: indexed, but not counted.
	for _, k := range keys[:7] {
		if err := c.Del(ctx, prefix+k.String()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.DestroyUser(ctx, "many")
	if err != nil || got != n-7 {
		t.Fatalf("DestroyUser = %d, %v; want %d", got, err, n-7)
	}
	for _, k := range keys {
		if _, err := store.Load(ctx, k); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("a session survived DestroyUser: %v", err)
		}
	}
	if _, err := store.Load(ctx, other); err != nil {
		t.Errorf("another user's session: %v", err)
	}
}

// A login under a session limit costs a few round trips, each command on
// one key or on the user's index and the hash beside it: the index, the
// sessions it names (and the old one), the new session, the decision,
// then, when it ended sessions or moved one, their deletion, and the old
// session's index entry.
func TestRedisLimitRoundTrips(t *testing.T) {
	c, prefix := redisClient(t)
	counter := &testenv.CommandCounter{}
	c.AddHook(counter)
	ctx := context.Background()
	clock := storetest.NewClock()
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	limit := sessionstore.Limit{Max: 2, EndOldest: true}
	var keys []sessionstore.Key
	login := func(old *sessionstore.Key, oldUser string) int {
		t.Helper()
		now := clock.Now()
		k := storetest.NewKey()
		rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), Deadline: now.Add(24 * time.Hour)}}
		ended, err := store.CreateLimited(ctx, old, oldUser, k, rec, limit)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		clock.Advance(time.Second)
		return ended
	}
	login(nil, "") // loads the scripts
	counter.Take()
	steps := []struct {
		name  string
		run   func() int
		cmds  []string
		trips int
	}{
		{"under the limit", func() int { return login(nil, "") },
			[]string{"ZRANGE", "GET", "SET", "EVALSHA"}, 4},
		{"at the limit, ending the oldest", func() int { return login(nil, "") },
			[]string{"ZRANGE", "GET", "GET", "SET", "EVALSHA", "DEL"}, 5},
		{"at the limit, over an own session", func() int { return login(&keys[len(keys)-1], "u") },
			[]string{"ZRANGE", "GET", "GET", "GET", "SET", "EVALSHA", "EVAL", "ZREM", "HDEL"}, 6},
	}
	for _, st := range steps {
		ended := st.run()
		cmds, trips := counter.TakeTrips()
		t.Logf("%s: ended %d; %d round trips: %v", st.name, ended, trips, cmds)
		if !slices.Equal(cmds, st.cmds) || trips != st.trips {
			t.Errorf("%s: %v in %d round trips, want %v in %d", st.name, cmds, trips, st.cmds, st.trips)
		}
	}
}
