package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/mongostore"
	"github.com/ginauth/ginauth/sessionstore/storetest"
)

const testDB = "ginauth_test"

// ferret is the FerretDB server that TestMain runs in process for the whole
// test binary, on SQLite in a temporary directory.
var ferret struct {
	addr   string // host:port it listens on (loopback)
	uri    string
	client *mongo.Client
}

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mongostore-ferretdb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting FerretDB:", err)
		return 1
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = f.Run(ctx)
	}()
	defer func() {
		stop()
		<-stopped
	}()

	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ferret.addr = u.Host
	ferret.uri = f.MongoDBURI()
	ferret.client, err = mongo.Connect(options.Client().ApplyURI(f.MongoDBURI()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "connecting to FerretDB:", err)
		return 1
	}
	defer func() { _ = ferret.client.Disconnect(context.Background()) }()
	if err := ferret.client.Ping(ctx, nil); err != nil {
		fmt.Fprintln(os.Stderr, "pinging FerretDB:", err)
		return 1
	}
	return m.Run()
}

var (
	bg    = context.Background()
	quiet = slog.New(slog.DiscardHandler)
)

// newStore returns a store on a collection of its own, dropped afterwards.
func newStore(t testing.TB, db *mongo.Database, opts mongostore.Options) *mongostore.Store {
	t.Helper()
	if opts.Collection == "" {
		opts.Collection = "sessions_" + testenv.Unique()
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := mongostore.New(db, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_ = s.Collection().Drop(bg)
	})
	return s
}

// harness builds the conformance suite's harness for a store on db. down
// returns a store of the same kind whose server does not answer; uri is
// the server's, for a second instance's client.
func harness(t *testing.T, db *mongo.Database, uri string, down func(t testing.TB) sessionstore.IndexedStore) *storetest.Harness {
	clock := storetest.NewClock()
	s := newStore(t, db, mongostore.Options{Now: clock.Now, SweepInterval: -1})
	coll := s.Collection()
	return &storetest.Harness{
		Store: s,
		Clock: clock,
		// Another instance: a client of its own, on the same collection.
		Twin: func(t testing.TB) sessionstore.IndexedStore {
			c, err := mongo.Connect(options.Client().ApplyURI(uri))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Disconnect(bg) })
			return newStore(t, c.Database(db.Name()), mongostore.Options{Collection: coll.Name(), Now: clock.Now, SweepInterval: -1})
		},
		Corrupt: func(t testing.TB, k sessionstore.Key) {
			// A foreign document under the key: it is listed under the user
			// and live by its expiry, but it is no session.
			_, err := coll.ReplaceOne(bg, bson.D{{Key: "_id", Value: k.String()}}, bson.D{
				{Key: "_id", Value: k.String()},
				{Key: "user_id", Value: "user-c"},
				{Key: "expires_at", Value: bson.NewDateTimeFromTime(clock.Now().Add(time.Hour))},
				{Key: "note", Value: "not a session"},
			})
			if err != nil {
				t.Fatal(err)
			}
		},
		IndexLen: func(t testing.TB, uid string) int {
			n, err := coll.CountDocuments(bg, bson.D{{Key: "user_id", Value: uid}})
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		},
		Prune: func(t testing.TB) {
			if _, err := s.Sweep(bg); err != nil {
				t.Fatal(err)
			}
		},
		Down: down,
	}
}

// downFerret returns a store whose server went away: it was created through
// a proxy to FerretDB, and the proxy is gone, so its client points at a
// closed loopback port.
func downFerret(t testing.TB) sessionstore.IndexedStore {
	p := testenv.NewProxy(t, ferret.addr)
	c, err := mongo.Connect(options.Client().
		ApplyURI("mongodb://" + p.Addr() + "/?directConnection=true").
		SetServerSelectionTimeout(300 * time.Millisecond).
		SetConnectTimeout(300 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(bg) })
	s := newStore(t, c.Database(testDB), mongostore.Options{SweepInterval: -1})
	p.Cut()
	return s
}

func TestFerretDB(t *testing.T) {
	db := ferret.client.Database(testDB)
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		h := harness(t, db, ferret.uri, downFerret)
		// FerretDB emulates MongoDB on SQLite, slowly: storetest's
		// 10,000 sessions in one user's index took a minute of CI's race
		// run. 2,500 still span three of List's cursor batches (1,000);
		// MongoDB runs the full 10,000.
		h.IndexSize = 2500
		s := h.Store.(*mongostore.Store)
		if m := s.ExpiryMode(); m != mongostore.ExpiryManual {
			t.Fatalf("ExpiryMode = %v, want manual (sweep fallback, background sweep off)", m)
		}
		if !s.LocksWrites() {
			t.Fatal("LocksWrites = false on FerretDB v1, whose updates are not atomic")
		}
		return h
	})
}

// mongoClient connects to MONGODB_URL after checking that a server answers
// there. Unset, the test is skipped even with REQUIRE_SERVICES=1 (a real
// MongoDB is optional: CI provides none, and the suite runs on FerretDB
// anyway); set but unreachable, it is skipped, or fails when
// REQUIRE_SERVICES=1.
func mongoClient(t testing.TB) (*mongo.Client, string) {
	t.Helper()
	u := os.Getenv("MONGODB_URL")
	if u == "" {
		testenv.Optional(t, "MongoDB", "MONGODB_URL is not set "+
			"(the same suite ran against the in-process FerretDB, which has no TTL indexes; "+
			"set MONGODB_URL=mongodb://host:27017 to test the TTL index path)")
	}
	c, err := mongo.Connect(options.Client().ApplyURI(u).SetServerSelectionTimeout(3 * time.Second))
	if err != nil {
		testenv.Missing(t, "MongoDB", err.Error())
	}
	t.Cleanup(func() { _ = c.Disconnect(bg) })
	if err := c.Ping(bg, nil); err != nil {
		testenv.Missing(t, "MongoDB", err.Error())
	}
	return c, u
}

func TestMongoDB(t *testing.T) {
	c, u := mongoClient(t)
	db := c.Database(testDB)
	downMongo := func(t testing.TB) sessionstore.IndexedStore {
		c2, err := mongo.Connect(options.Client().ApplyURI(u).SetServerSelectionTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		s := newStore(t, c2.Database(testDB), mongostore.Options{SweepInterval: -1})
		if err := c2.Disconnect(bg); err != nil {
			t.Fatal(err)
		}
		return s
	}
	storetest.Run(t, func(t *testing.T) *storetest.Harness {
		h := harness(t, db, u, downMongo)
		s := h.Store.(*mongostore.Store)
		if m := s.ExpiryMode(); m != mongostore.ExpiryTTLIndex {
			t.Fatalf("ExpiryMode = %v, want ttl-index", m)
		}
		if s.LocksWrites() {
			t.Fatal("LocksWrites = true on MongoDB, whose updates are atomic")
		}
		return h
	})
	t.Run("TTLIndex", func(t *testing.T) {
		s := newStore(t, db, mongostore.Options{Expiry: mongostore.ExpiryTTLIndex})
		idx := indexes(t, s)
		if v, ok := idx["expires_at_ttl"].Lookup("expireAfterSeconds").AsInt64OK(); !ok || v != 0 {
			t.Errorf("TTL index: %v", idx["expires_at_ttl"])
		}
	})
}

// indexes returns the collection's index specifications by name.
func indexes(t testing.TB, s *mongostore.Store) map[string]bson.Raw {
	t.Helper()
	cur, err := s.Collection().Indexes().List(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cur.Close(bg) }()
	out := map[string]bson.Raw{}
	for cur.Next(bg) {
		name, _ := cur.Current.Lookup("name").StringValueOK()
		out[name] = append(bson.Raw(nil), cur.Current...)
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// FerretDB answers that TTL indexes are not implemented: the store notices
// and sweeps instead.
func TestExpiryFallback(t *testing.T) {
	db := ferret.client.Database(testDB)
	for _, c := range []struct {
		opts mongostore.Options
		want mongostore.ExpiryMode
	}{
		{mongostore.Options{}, mongostore.ExpirySweep},
		{mongostore.Options{Expiry: mongostore.ExpirySweep}, mongostore.ExpirySweep},
		{mongostore.Options{SweepInterval: -1}, mongostore.ExpiryManual},
		{mongostore.Options{Expiry: mongostore.ExpiryManual}, mongostore.ExpiryManual},
	} {
		t.Run(fmt.Sprintf("%v/%v", c.opts.Expiry, c.opts.SweepInterval), func(t *testing.T) {
			var logs strings.Builder
			c.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			s := newStore(t, db, c.opts)
			if got := s.ExpiryMode(); got != c.want {
				t.Errorf("ExpiryMode = %v, want %v", got, c.want)
			}
			if asked := c.opts.Expiry == mongostore.ExpiryAuto; asked != strings.Contains(logs.String(), "NotImplemented") {
				t.Errorf("fallback notice logged = %v, want %v; logs: %s", !asked, asked, logs.String())
			}
			idx := indexes(t, s)
			for _, name := range []string{"user_id_1", "expires_at_1"} {
				if _, ok := idx[name]; !ok {
					t.Errorf("index %s missing; have %v", name, idx)
				}
			}
			if _, ok := idx["expires_at_ttl"]; ok {
				t.Error("a TTL index exists on a server without TTL indexes")
			}
			if !strings.Contains(s.String(), c.want.String()) {
				t.Errorf("String() = %q does not name the mode", s.String())
			}
		})
	}

	// Twice on one collection: the indexes exist already, which is fine.
	name := "sessions_" + testenv.Unique()
	newStore(t, db, mongostore.Options{Collection: name})
	newStore(t, db, mongostore.Options{Collection: name})

	// Insisting on a TTL index fails, and says why.
	_, err := mongostore.New(db, mongostore.Options{Collection: "sessions_" + testenv.Unique(), Expiry: mongostore.ExpiryTTLIndex, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "TTL") || errors.Is(err, sessionstore.ErrUnavailable) {
		t.Errorf("New with ExpiryTTLIndex on FerretDB = %v; want a configuration error", err)
	}
	if _, err := mongostore.New(db, mongostore.Options{Expiry: 42}); err == nil {
		t.Error("New accepted an unknown expiry mode")
	}
	if _, err := mongostore.New(nil, mongostore.Options{}); err == nil {
		t.Error("New accepted a nil database")
	}
}

// goroutines counts the goroutines that run code of package mongostore (not
// of its tests): the background sweeps, and any goroutine a store would
// leak. The in-process FerretDB and the driver's pools start and stop
// goroutines of their own, so runtime.NumGoroutine cannot tell.
func goroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			count := 0
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				// A goroutine that has not run yet shows only where it was
				// created.
				if strings.Contains(g, "ginauth/sessionstore/mongostore.") {
					count++
				}
			}
			return count
		}
		buf = make([]byte, 2*len(buf))
	}
}

func TestSweeper(t *testing.T) {
	db := ferret.client.Database(testDB)
	clock := storetest.NewClock()
	before := goroutines()
	s, err := mongostore.New(db, mongostore.Options{
		Collection:    "sessions_" + testenv.Unique(),
		Now:           clock.Now,
		SweepInterval: 10 * time.Millisecond,
		SweepBatch:    2,
		Logger:        quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Collection().Drop(bg) }()
	if got := goroutines(); got != before+1 {
		t.Fatalf("%d store goroutines after New, want %d (the sweeper)", got, before+1)
	}

	// Expired by the injected clock, not by the wall clock: the sweep
	// follows the store's clock.
	now := clock.Now()
	for i := range 5 {
		exp := now.Add(time.Minute)
		if i == 0 {
			exp = now.Add(time.Hour)
		}
		rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: exp}}
		if err := s.Create(bg, storetest.NewKey(), rec); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 {
		n, err := s.Collection().CountDocuments(bg, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 5 {
		t.Fatalf("%d documents, want 5", n)
	}
	clock.Advance(2 * time.Minute)
	testenv.Eventually(t, "the background sweep to delete the 4 expired sessions", func() bool { return count() == 1 })

	// Close stops the sweeper, is idempotent, and is safe to call
	// concurrently.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Close() }()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Close waited for the sweeper to return; its last frames may still be
	// unwinding.
	testenv.Eventually(t, "the sweeper goroutine to exit", func() bool { return goroutines() == before })
}

func TestSweepBatches(t *testing.T) {
	clock := storetest.NewClock()
	s := newStore(t, ferret.client.Database(testDB), mongostore.Options{Now: clock.Now, SweepBatch: 7, SweepInterval: -1})
	now := clock.Now()
	for i := range 30 {
		exp := now.Add(time.Minute)
		if i%3 == 0 {
			exp = now.Add(time.Hour)
		}
		if err := s.Create(bg, storetest.NewKey(), &sessionstore.Record{Meta: sessionstore.Meta{CreatedAt: now, LastActivity: now, ExpiresAt: exp}}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Sweep(bg); err != nil || n != 0 {
		t.Fatalf("Sweep before expiry = %d, %v; want 0", n, err)
	}
	clock.Advance(2 * time.Minute)
	if n, err := s.Sweep(bg); err != nil || n != 20 {
		t.Fatalf("Sweep = %d, %v; want 20", n, err)
	}
	if left, _ := s.Collection().CountDocuments(bg, bson.D{}); left != 10 {
		t.Errorf("%d documents left, want 10", left)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Sweep(ctx); err == nil {
		t.Error("Sweep with a canceled context succeeded")
	}
}

// Documents are readable as they are stored: BSON metadata and the JSON body.
func TestDocumentLayout(t *testing.T) {
	s := newStore(t, ferret.client.Database(testDB), mongostore.Options{SweepInterval: -1})
	now := time.Now().Truncate(time.Millisecond)
	v := sessionstore.Value{JSON: []byte(`18446744073709551615`)} // beyond float64's exact integers
	rec := &sessionstore.Record{
		Meta:   sessionstore.Meta{UserID: "42", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour), IPAddress: "203.0.113.9", UserAgent: "test"},
		Values: map[string]sessionstore.Value{"big": v},
	}
	k := storetest.NewKey()
	if err := s.Create(bg, k, rec); err != nil {
		t.Fatal(err)
	}
	raw, err := s.Collection().FindOne(bg, bson.D{{Key: "_id", Value: k.String()}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sessionstore.MarshalBody(rec)
	if got, _ := raw.Lookup("data").StringValueOK(); got != string(want) {
		t.Errorf("data = %s, want the JSON body %s", got, want)
	}
	if got, _ := raw.Lookup("user_id").StringValueOK(); got != "42" {
		t.Errorf("user_id = %q", got)
	}
	if got, ok := raw.Lookup("expires_at").DateTimeOK(); !ok || got != now.Add(time.Hour).UnixMilli() {
		t.Errorf("expires_at = %v, want a date", raw.Lookup("expires_at"))
	}
	if got, ok := raw.Lookup("last_activity").DateTimeOK(); !ok || got != now.UnixMilli() {
		t.Errorf("last_activity = %v, want a date", raw.Lookup("last_activity"))
	}
	if got, ok := raw.Lookup("rev").Int64OK(); !ok || got != 1 {
		t.Errorf("rev = %v", raw.Lookup("rev"))
	}
	if strings.Contains(raw.String(), "203.0.113.9") == false {
		t.Errorf("document does not show the IP address: %s", raw)
	}
}

// A session whose document is damaged is no session, never a panic; writes
// to it do no harm, and listings skip it.
func TestDamagedDocuments(t *testing.T) {
	clock := storetest.NewClock()
	s := newStore(t, ferret.client.Database(testDB), mongostore.Options{Now: clock.Now, SweepInterval: -1})
	later := bson.NewDateTimeFromTime(clock.Now().Add(time.Hour))
	good := `{"v":1,"created":"2026-01-01T00:00:00Z"}`
	for name, doc := range map[string]bson.D{
		"garbage data":  {{Key: "user_id", Value: "d"}, {Key: "rev", Value: int64(1)}, {Key: "last_activity", Value: later}, {Key: "expires_at", Value: later}, {Key: "data", Value: "{not json"}},
		"future format": {{Key: "user_id", Value: "d"}, {Key: "rev", Value: int64(1)}, {Key: "last_activity", Value: later}, {Key: "expires_at", Value: later}, {Key: "data", Value: `{"v":99}`}},
		"binary data":   {{Key: "user_id", Value: "d"}, {Key: "rev", Value: int64(1)}, {Key: "last_activity", Value: later}, {Key: "expires_at", Value: later}, {Key: "data", Value: bson.Binary{Data: []byte{0xff}}}},
		"bad rev":       {{Key: "user_id", Value: "d"}, {Key: "rev", Value: "x"}, {Key: "last_activity", Value: later}, {Key: "expires_at", Value: later}, {Key: "data", Value: good}},
		"int expiry":    {{Key: "user_id", Value: "d"}, {Key: "rev", Value: int64(1)}, {Key: "last_activity", Value: later}, {Key: "expires_at", Value: int64(later)}, {Key: "data", Value: good}},
		"no expiry":     {{Key: "user_id", Value: "d"}, {Key: "rev", Value: int64(1)}, {Key: "last_activity", Value: later}, {Key: "data", Value: good}},
		"no seen":       {{Key: "user_id", Value: "d"}, {Key: "rev", Value: int64(1)}, {Key: "expires_at", Value: later}, {Key: "data", Value: good}},
		"empty":         {},
	} {
		t.Run(name, func(t *testing.T) {
			k := storetest.NewKey()
			doc = append(bson.D{{Key: "_id", Value: k.String()}}, doc...)
			if _, err := s.Collection().InsertOne(bg, doc); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Load(bg, k); !errors.Is(err, sessionstore.ErrCorrupt) {
				t.Errorf("Load = %v, want ErrCorrupt", err)
			}
			if infos, err := s.List(bg, "d"); err != nil || len(infos) != 0 {
				t.Errorf("List = %v, %v; want nothing", infos, err)
			}
			now := clock.Now()
			if err := s.Touch(bg, k, now, now.Add(time.Hour)); err != nil {
				t.Errorf("Touch = %v", err)
			}
			if err := s.Destroy(bg, k); err != nil {
				t.Errorf("Destroy = %v", err)
			}
			if _, err := s.Load(bg, k); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Errorf("Load after Destroy = %v, want ErrNotFound", err)
			}
		})
	}
}

// An update never moves a session to another user (it is refused as a
// conflict), and the user_id field decides whom a session belongs to.
func TestUpdateKeepsUser(t *testing.T) {
	clock := storetest.NewClock()
	s := newStore(t, ferret.client.Database(testDB), mongostore.Options{Now: clock.Now, SweepInterval: -1})
	now := clock.Now()
	rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "alice", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}}
	k := storetest.NewKey()
	if err := s.Create(bg, k, rec); err != nil {
		t.Fatal(err)
	}
	rec.UserID = "mallory"
	if err := s.Update(bg, k, rec); !errors.Is(err, sessionstore.ErrConflict) {
		t.Fatalf("Update with another user = %v, want ErrConflict", err)
	}
	if got, err := s.Load(bg, k); err != nil || got.UserID != "alice" || got.Rev != 1 {
		t.Errorf("Load = %+v, %v; want alice's session unchanged at rev 1", got, err)
	}
	if infos, _ := s.List(bg, "mallory"); len(infos) != 0 {
		t.Errorf("the session moved to mallory: %v", infos)
	}
	if err := s.DestroyID(bg, "mallory", k.ID()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("DestroyID by another user = %v, want ErrNotFound", err)
	}
	if n, err := s.DestroyUser(bg, "alice"); err != nil || n != 1 {
		t.Errorf("DestroyUser(alice) = %d, %v", n, err)
	}
}

// Create never replaces a document.
func TestCreateDuplicate(t *testing.T) {
	clock := storetest.NewClock()
	s := newStore(t, ferret.client.Database(testDB), mongostore.Options{Now: clock.Now, SweepInterval: -1})
	now := clock.Now()
	k := storetest.NewKey()
	if err := s.Create(bg, k, &sessionstore.Record{Meta: sessionstore.Meta{UserID: "a", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	err := s.Create(bg, k, &sessionstore.Record{Meta: sessionstore.Meta{UserID: "b", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}})
	if !errors.Is(err, sessionstore.ErrConflict) {
		t.Errorf("second Create = %v, want ErrConflict", err)
	}
	if got, err := s.Load(bg, k); err != nil || got.UserID != "a" {
		t.Errorf("Load = %+v, %v; want the first session", got, err)
	}
}

// Anonymous sessions are under user_id "": they are no user's sessions.
func TestAnonymousNotIndexed(t *testing.T) {
	clock := storetest.NewClock()
	s := newStore(t, ferret.client.Database(testDB), mongostore.Options{Now: clock.Now, SweepInterval: -1})
	now := clock.Now()
	k := storetest.NewKey()
	if err := s.Create(bg, k, &sessionstore.Record{Meta: sessionstore.Meta{CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if infos, err := s.List(bg, ""); err != nil || len(infos) != 0 {
		t.Errorf("List(\"\") = %v, %v", infos, err)
	}
	if n, err := s.DestroyUser(bg, ""); err != nil || n != 0 {
		t.Errorf("DestroyUser(\"\") = %d, %v", n, err)
	}
	if err := s.DestroyID(bg, "", k.ID()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("DestroyID(\"\") = %v", err)
	}
	if _, err := s.Load(bg, k); err != nil {
		t.Errorf("the anonymous session was destroyed: %v", err)
	}
}

// A closed client, and a server that never answered.
func TestUnavailable(t *testing.T) {
	c, err := mongo.Connect(options.Client().ApplyURI(ferret.uri))
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, c.Database(testDB), mongostore.Options{SweepInterval: -1})
	if err := c.Disconnect(bg); err != nil {
		t.Fatal(err)
	}
	k := storetest.NewKey()
	now := time.Now()
	rec := &sessionstore.Record{Meta: sessionstore.Meta{UserID: "u", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}}
	for name, op := range map[string]func() error{
		"Load":        func() error { _, err := s.Load(bg, k); return err },
		"Create":      func() error { return s.Create(bg, k, rec.Clone()) },
		"Update":      func() error { return s.Update(bg, k, rec.Clone()) },
		"Touch":       func() error { return s.Touch(bg, k, now, now) },
		"Regenerate":  func() error { return s.Regenerate(bg, k, "", storetest.NewKey(), rec.Clone()) },
		"Destroy":     func() error { return s.Destroy(bg, k) },
		"List":        func() error { _, err := s.List(bg, "u"); return err },
		"DestroyID":   func() error { return s.DestroyID(bg, "u", k.ID()) },
		"DestroyUser": func() error { _, err := s.DestroyUser(bg, "u"); return err },
		"Sweep":       func() error { _, err := s.Sweep(bg); return err },
	} {
		if err := op(); !errors.Is(err, sessionstore.ErrUnavailable) || !errors.Is(err, mongo.ErrClientDisconnected) {
			t.Errorf("%s on a disconnected client = %v, want ErrUnavailable wrapping the driver's error", name, err)
		}
	}

	// New needs the server for its indexes.
	p := testenv.NewProxy(t, ferret.addr)
	p.Cut()
	c2, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + p.Addr() + "/").SetServerSelectionTimeout(200 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.Disconnect(bg) }()
	if _, err := mongostore.New(c2.Database(testDB), mongostore.Options{Logger: quiet}); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Errorf("New with no server = %v, want ErrUnavailable", err)
	}
}

// commands counts the commands a client sends, by name.
type commands struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *commands) started(_ context.Context, e *event.CommandStartedEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[e.CommandName]++
}

func (c *commands) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// The hot path costs one round trip per operation, and revoking a user's
// sessions one batch (and one more that finds nothing left).
func TestRoundTrips(t *testing.T) {
	cmds := &commands{n: map[string]int{}}
	c, err := mongo.Connect(options.Client().ApplyURI(ferret.uri).
		SetMonitor(&event.CommandMonitor{Started: cmds.started}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(bg) }()
	clock := storetest.NewClock()
	s := newStore(t, c.Database(testDB), mongostore.Options{Now: clock.Now, SweepInterval: -1})
	now := clock.Now()
	keys := make([]sessionstore.Key, 50)
	for i := range keys {
		keys[i] = storetest.NewKey()
		if err := s.Create(bg, keys[i], &sessionstore.Record{Meta: sessionstore.Meta{UserID: "rt", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.Load(bg, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	cmds.take()
	for _, c := range []struct {
		op   string
		fn   func() error
		want map[string]int
	}{
		{"Load", func() error { _, err := s.Load(bg, keys[0]); return err }, map[string]int{"find": 1}},
		{"Touch", func() error { return s.Touch(bg, keys[0], now, now.Add(2*time.Hour)) }, map[string]int{"update": 1}},
		{"Update", func() error { return s.Update(bg, keys[0], rec) }, map[string]int{"update": 1}},
		{"Create", func() error {
			return s.Create(bg, storetest.NewKey(), &sessionstore.Record{Meta: sessionstore.Meta{CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour)}})
		}, map[string]int{"insert": 1}},
		{"Destroy", func() error { return s.Destroy(bg, keys[1]) }, map[string]int{"delete": 1}},
		{"List", func() error { _, err := s.List(bg, "rt"); return err }, map[string]int{"find": 1}},
		{"DestroyID", func() error { return s.DestroyID(bg, "rt", keys[2].ID()) }, map[string]int{"delete": 1}},
		{"DestroyUser", func() error { _, err := s.DestroyUser(bg, "rt"); return err }, map[string]int{"delete": 2}}, // the second finds nothing
	} {
		if err := c.fn(); err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		if got := cmds.take(); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s sent %v, want %v", c.op, got, c.want)
		}
	}
}
