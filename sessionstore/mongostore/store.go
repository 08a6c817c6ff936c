// Package mongostore keeps ginauth sessions in MongoDB, or in a server that
// speaks its wire protocol such as FerretDB, through the official Go driver
// go.mongodb.org/mongo-driver/v2.
//
// It lives in a module of its own so that applications using the memory,
// Redis or SQL stores never download the driver. [Store] implements
// sessionstore.IndexedStore, so it can back the auth layer directly or, via
// ginsessions.NewStore, serve as a github.com/gin-contrib/sessions Store.
//
// # Documents
//
// One document per session, in one collection (default "sessions"):
//
//	{
//	  _id:           "<session key: 64 hex digits, the SHA-256 of the ID>",
//	  user_id:       "<user ID, \"\" when anonymous>",   // indexed
//	  rev:           NumberLong(3),                      // compare-and-swap revision
//	  last_activity: ISODate("..."),
//	  expires_at:    ISODate("..."),                     // indexed (TTL where supported)
//	  data:          "{\"v\":1,\"uid\":\"42\",\"created\":\"...\",\"values\":{...}}"
//	}
//
// While a login under a session limit runs (see [Store.CreateLimited]), the
// collection also holds its user's lease, {_id: "limit:<user ID>", holder,
// expires_at}: no session, as its _id is no key and it has no user_id.
//
// The record's body is stored as the JSON text that sessionstore.MarshalBody
// writes, not as a BSON subdocument. It is the same encoding the Redis and SQL
// stores keep, so a session reads the same in mongosh, redis-cli and psql and
// moves between stores unchanged; and it keeps the application's values
// exact: a JSON to BSON conversion would turn integers beyond 2^53 (and
// uint64) into doubles and separate values from their type tags. What the
// store queries on (user, revision, times) is top-level BSON, so it can be
// indexed and read at a glance.
//
// Times are BSON dates: 64-bit Unix milliseconds, the precision every ginauth
// store keeps, and the type a TTL index needs.
//
// # Guarantees
//
//   - Create is one insert of a fresh key; it never replaces a document.
//   - Update is one update filtered on key, revision, user and "not expired": it
//     never recreates a destroyed or expired session, and a lost race answers
//     sessionstore.ErrConflict.
//   - Touch is one update that only moves last_activity and expires_at
//     forward ($max), filtered on "not expired": it never recreates a session.
//   - Load is one find by _id; expiry is always checked against the store's
//     clock, so a session is gone at its expiry even if the server has not
//     deleted the document yet.
//   - DestroyUser is a deleteMany on the user_id index, repeated until one
//     deletes nothing (see [Store.DestroyUser]).
//   - Regenerate moves a session only while it is live: a session revoked
//     or expired since a request loaded it is not brought back under a new
//     key (see [Store.Regenerate]).
//   - CreateLimited counts a user's sessions and writes the new one while
//     it holds the user's lease, which one login of the user at a time, on
//     any instance, gets (see [Store.CreateLimited]).
//
// These hold as stated on servers that apply a single-document update
// atomically, as MongoDB does. FerretDB v1 does not; on it the store also
// serialises its own writes to each session in process: see
// [Store.LocksWrites].
//
// # Expiry
//
// Expired documents are removed by a TTL index on expires_at where the server
// has them (MongoDB). Where the server answers that TTL indexes
// are not implemented (FerretDB), the store falls back to a background sweep
// that deletes expired documents in batches. [Store.ExpiryMode] reports which
// of the two is in use; see [ExpiryMode] and [Options.Expiry].
//
// # Errors
//
// A missing or expired session is sessionstore.ErrNotFound. Every failure to
// reach or use the server (network, server selection, a disconnected client,
// a timeout, a command error) matches sessionstore.ErrUnavailable. A document
// under a key that cannot be decoded as a session matches
// sessionstore.ErrCorrupt.
//
// # Client settings
//
// The client is the application's, with the driver's options. Keep the
// default primary read preference for the database the store uses: a load
// from a lagging secondary could return a session that was just revoked, or
// a revision that is already stale.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ginauth/ginauth/sessionstore"
)

// Field names of a session document.
const (
	fieldKey          = "_id"
	fieldUser         = "user_id"
	fieldRev          = "rev"
	fieldLastActivity = "last_activity"
	fieldExpiresAt    = "expires_at"
	fieldData         = "data"
)

// DefaultCollection is the collection name used when Options.Collection is
// empty.
const DefaultCollection = "sessions"

// Defaults of the background sweep.
const (
	// DefaultSweepInterval is how often the store sweeps when
	// Options.SweepInterval is zero.
	DefaultSweepInterval = 5 * time.Minute

	// DefaultSweepBatch is how many documents one sweep delete removes at
	// most when Options.SweepBatch is zero. Larger values are capped at
	// 100,000.
	DefaultSweepBatch = 1000

	maxSweepBatch = 100_000
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Collection is the collection that holds the sessions. Default
	// "sessions" (connect-mongo's collectionName).
	Collection string

	// Expiry chooses how expired documents are removed. The default,
	// ExpiryAuto, uses a TTL index where the server supports one and the
	// background sweep elsewhere (connect-mongo's autoRemove).
	Expiry ExpiryMode

	// SweepInterval is how often the background sweep runs when the store
	// sweeps. Default five minutes. A negative value turns the background
	// sweep off (connect-mongo's autoRemove: "disabled"): expired documents
	// then stay until Sweep is called, or until the TTL index removes them
	// when there is one; reads ignore them either way.
	SweepInterval time.Duration

	// SweepBatch is how many documents one sweep delete removes at most, so
	// that a sweep never holds the server for long. Default 1000.
	SweepBatch int

	// Now is the clock; nil means time.Now. Expiry is computed from it and
	// checked on every read. (A TTL index follows the server's clock, which
	// only decides when a document that is already expired is deleted.)
	Now func() time.Time

	// Logger receives background sweep failures and the expiry fallback
	// notice. Default slog.Default().
	Logger *slog.Logger

	// SetupTimeout bounds the commands New sends to the server (creating
	// indexes, asking for its build). Default ten seconds.
	SetupTimeout time.Duration
}

// Store keeps sessions in one MongoDB collection. It implements
// sessionstore.IndexedStore and sessionstore.Limiter, and every method is
// safe for concurrent use. See
// the package documentation for the document layout and guarantees.
type Store struct {
	coll    *mongo.Collection
	now     func() time.Time
	batch   int
	log     *slog.Logger
	mode    ExpiryMode
	locks   *keyLocks       // non-nil when the server's updates are not atomic
	limits  userLocks       // a process's logins of one user under a limit, one at a time
	closing context.Context // canceled by Close
	close   context.CancelFunc
	done    chan struct{} // closed when the sweeper has returned
}

var _ sessionstore.IndexedStore = (*Store)(nil)

// New returns a store on a collection of db. It creates the collection's
// indexes when they are missing (on user_id, and on expires_at: a TTL index
// where the server supports it), decides the expiry mode, asks the server
// whether its updates are atomic (see LocksWrites), and starts the background
// sweep when the store sweeps; Close stops it. Options.SetupTimeout bounds
// these start-up commands.
//
// New fails when the indexes cannot be created (an error matching
// sessionstore.ErrUnavailable when the server cannot be reached), and when
// opts.Expiry is ExpiryTTLIndex and the server has no TTL indexes. The client
// stays the caller's: Close does not disconnect it.
func New(db *mongo.Database, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("mongostore: nil database")
	}
	if opts.Expiry < ExpiryAuto || opts.Expiry > ExpiryManual {
		return nil, fmt.Errorf("mongostore: unknown expiry mode %d", int(opts.Expiry))
	}
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if opts.SweepBatch <= 0 {
		opts.SweepBatch = DefaultSweepBatch
	}
	opts.SweepBatch = min(opts.SweepBatch, maxSweepBatch)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SetupTimeout <= 0 {
		opts.SetupTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.SetupTimeout)
	defer cancel()
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{
		coll:  db.Collection(opts.Collection),
		now:   now,
		batch: opts.SweepBatch,
		log:   opts.Logger,
		done:  make(chan struct{}),
	}
	s.closing, s.close = context.WithCancel(context.Background())
	ttl, err := s.ensureIndexes(ctx, opts.Expiry)
	if err != nil {
		s.close()
		return nil, err
	}
	lock, err := needsLocks(ctx, db)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("mongostore: asking the server for buildInfo: %w", sessionstore.Unavailable(err))
	}
	if lock {
		s.locks = new(keyLocks)
	}
	switch {
	case ttl:
		s.mode = ExpiryTTLIndex
	case opts.Expiry == ExpiryManual || opts.SweepInterval < 0:
		s.mode = ExpiryManual
	default:
		s.mode = ExpirySweep
	}
	if s.mode == ExpirySweep {
		go s.sweeper(opts.SweepInterval)
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the background sweep, if any, and waits for it to return. It is
// idempotent and safe to call concurrently. It does not disconnect the
// client; the other methods keep working, only the background sweep ends.
func (s *Store) Close() error {
	s.close()
	<-s.done
	return nil
}

// Collection returns the collection the store keeps its sessions in.
func (s *Store) Collection() *mongo.Collection { return s.coll }

// String describes the store without secrets.
func (s *Store) String() string {
	locks := ""
	if s.locks != nil {
		locks = ", in-process write locks"
	}
	return fmt.Sprintf("mongodb store (collection %s.%s, expiry %s%s)", s.coll.Database().Name(), s.coll.Name(), s.mode, locks)
}

// mongoErr maps a driver error onto the sessionstore errors: no document is
// ErrNotFound, anything else is a failure to use the store.
func mongoErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return sessionstore.ErrNotFound
	}
	return sessionstore.Unavailable(err)
}

func date(t time.Time) bson.DateTime { return bson.DateTime(t.UnixMilli()) }

// nowDate is the store's clock as a BSON date.
func (s *Store) nowDate() bson.DateTime { return date(s.now()) }

// live matches documents that have not expired at now.
func live(now bson.DateTime) bson.E {
	return bson.E{Key: fieldExpiresAt, Value: bson.D{{Key: "$gt", Value: now}}}
}

// decode reads a session document. Anything that is not one is ErrCorrupt.
func decode(raw bson.Raw) (*sessionstore.Record, string, error) {
	key, ok := raw.Lookup(fieldKey).StringValueOK()
	if !ok {
		return nil, "", sessionstore.Corrupt(errors.New("_id is not a string"))
	}
	data, ok := raw.Lookup(fieldData).StringValueOK()
	if !ok {
		return nil, key, sessionstore.Corrupt(errors.New("data is not a string"))
	}
	rev, ok := raw.Lookup(fieldRev).AsInt64OK()
	if !ok {
		return nil, key, sessionstore.Corrupt(errors.New("rev is not a number"))
	}
	seen, ok := raw.Lookup(fieldLastActivity).DateTimeOK()
	if !ok {
		return nil, key, sessionstore.Corrupt(errors.New("last_activity is not a date"))
	}
	exp, ok := raw.Lookup(fieldExpiresAt).DateTimeOK()
	if !ok {
		return nil, key, sessionstore.Corrupt(errors.New("expires_at is not a date"))
	}
	rec := &sessionstore.Record{}
	if err := sessionstore.UnmarshalBody(data, rec); err != nil {
		return nil, key, err
	}
	// The indexed field is authoritative: an update never moves a session to
	// another user, whatever its body says.
	if uid, ok := raw.Lookup(fieldUser).StringValueOK(); ok {
		rec.UserID = uid
	}
	rec.Rev = rev
	rec.LastActivity = time.UnixMilli(seen).UTC()
	rec.ExpiresAt = time.UnixMilli(exp).UTC()
	return rec, key, nil
}

// Load implements sessionstore.Store: one find by _id. A document that has
// expired by the store's clock is ErrNotFound even before it is deleted.
func (s *Store) Load(ctx context.Context, key sessionstore.Key) (*sessionstore.Record, error) {
	raw, err := s.coll.FindOne(ctx, bson.D{{Key: fieldKey, Value: key.String()}}).Raw()
	if err != nil {
		return nil, mongoErr(err)
	}
	rec, _, err := decode(raw)
	if err != nil {
		return nil, err
	}
	if !rec.Live(s.now()) {
		return nil, sessionstore.ErrNotFound
	}
	return rec, nil
}

// Create implements sessionstore.Store: one insert. A document already under
// key (which a fresh 256-bit key never meets) is left alone, and Create
// answers an error matching sessionstore.ErrConflict.
func (s *Store) Create(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	data, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return err
	}
	doc := bson.D{
		{Key: fieldKey, Value: key.String()},
		{Key: fieldUser, Value: rec.UserID},
		{Key: fieldRev, Value: int64(1)},
		{Key: fieldLastActivity, Value: date(rec.LastActivity)},
		{Key: fieldExpiresAt, Value: date(rec.ExpiresAt)},
		{Key: fieldData, Value: string(data)},
	}
	if _, err := s.coll.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("%w: a session already exists under key %s", sessionstore.ErrConflict, key.Short())
		}
		return mongoErr(err)
	}
	rec.Rev = 1
	return nil
}

// Update implements sessionstore.Store: one update filtered on key, revision
// and expiry that rewrites the body, increments the revision and moves last
// activity and expiry forward only ($max). When it matches nothing, a find
// tells a conflict (ErrConflict) from a session that is gone (ErrNotFound).
func (s *Store) Update(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	data, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return err
	}
	defer s.lock(key)()
	now := s.nowDate()
	k := key.String()
	res, err := s.coll.UpdateOne(ctx,
		bson.D{{Key: fieldKey, Value: k}, {Key: fieldRev, Value: rec.Rev}, {Key: fieldUser, Value: rec.UserID}, live(now)},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: fieldData, Value: string(data)}}},
			{Key: "$inc", Value: bson.D{{Key: fieldRev, Value: int64(1)}}},
			{Key: "$max", Value: bson.D{
				{Key: fieldLastActivity, Value: date(rec.LastActivity)},
				{Key: fieldExpiresAt, Value: date(rec.ExpiresAt)},
			}},
		})
	if err != nil {
		return mongoErr(err)
	}
	if res.MatchedCount == 1 {
		rec.Rev++
		return nil
	}
	err = s.coll.FindOne(ctx, bson.D{{Key: fieldKey, Value: k}, live(now)},
		options.FindOne().SetProjection(bson.D{{Key: fieldKey, Value: 1}})).Err()
	if err != nil {
		return mongoErr(err)
	}
	return sessionstore.ErrConflict
}

// Touch implements sessionstore.Store: one update of last_activity and
// expires_at, each moved forward only, on a session that has not expired.
// Touching a session that is gone does nothing and is not an error.
func (s *Store) Touch(ctx context.Context, key sessionstore.Key, lastActivity, expiresAt time.Time) error {
	defer s.lock(key)()
	_, err := s.coll.UpdateOne(ctx,
		bson.D{{Key: fieldKey, Value: key.String()}, live(s.nowDate())},
		bson.D{{Key: "$max", Value: bson.D{
			{Key: fieldLastActivity, Value: date(lastActivity)},
			{Key: fieldExpiresAt, Value: date(expiresAt)},
		}}})
	return mongoErr(err)
}

// Regenerate implements sessionstore.Store: an insert of the new session,
// then one delete of the old one filtered on key, user and "not expired".
// When that deletes nothing, the old session is gone (revoked, expired):
// the new one is deleted again and Regenerate answers
// sessionstore.ErrNotFound. A DestroyUser that runs before the delete
// finds the old session and the move fails; one that runs after finds the
// new session, of the same user, and deletes it. The new ID reaches no
// client before Regenerate returns.
func (s *Store) Regenerate(ctx context.Context, oldKey sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record) error {
	if err := s.Create(ctx, newKey, rec); err != nil {
		return err
	}
	n, err := s.takeOld(ctx, oldKey, oldUserID)
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	if err := s.Destroy(ctx, newKey); err != nil {
		return err
	}
	rec.Rev = 0
	return sessionstore.ErrNotFound
}

func (s *Store) takeOld(ctx context.Context, key sessionstore.Key, userID string) (int64, error) {
	defer s.lock(key)()
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: fieldKey, Value: key.String()}, {Key: fieldUser, Value: userID}, live(s.nowDate())})
	if err != nil {
		return 0, mongoErr(err)
	}
	return res.DeletedCount, nil
}

// Destroy implements sessionstore.Store: one delete by _id. Destroying a
// missing session is not an error.
func (s *Store) Destroy(ctx context.Context, key sessionstore.Key) error {
	defer s.lock(key)()
	_, err := s.coll.DeleteOne(ctx, bson.D{{Key: fieldKey, Value: key.String()}})
	return mongoErr(err)
}

// List implements sessionstore.UserIndex: one find on the user_id index of the
// user's live sessions, sorted with sessionstore.SortInfos. Documents that
// cannot be decoded are skipped. An empty userID (anonymous sessions) lists
// nothing.
func (s *Store) List(ctx context.Context, userID string) ([]sessionstore.Info, error) {
	if userID == "" {
		return nil, nil
	}
	now := s.now()
	cur, err := s.coll.Find(ctx, bson.D{{Key: fieldUser, Value: userID}, live(date(now))},
		options.Find().SetBatchSize(1000))
	if err != nil {
		return nil, mongoErr(err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	var out []sessionstore.Info
	for cur.Next(ctx) {
		rec, k, err := decode(cur.Current)
		if err != nil || !rec.Live(now) || rec.UserID != userID {
			continue
		}
		key, err := sessionstore.ParseKey(k)
		if err != nil {
			continue
		}
		out = append(out, rec.Info(key))
	}
	if err := cur.Err(); err != nil {
		return nil, mongoErr(err)
	}
	sessionstore.SortInfos(out)
	return out, nil
}

// DestroyID implements sessionstore.UserIndex: one delete of the user's
// live session whose key starts with handle. A malformed handle, another
// user's handle, or an empty userID answers ErrNotFound.
func (s *Store) DestroyID(ctx context.Context, userID, handle string) error {
	if userID == "" || !sessionstore.ValidID(handle) {
		return sessionstore.ErrNotFound
	}
	// Keys are lowercase hex, so the keys that start with handle are exactly
	// those in [handle, handle+"g"): a range on _id, no regular expression.
	res, err := s.coll.DeleteOne(ctx, bson.D{
		{Key: fieldUser, Value: userID},
		{Key: fieldKey, Value: bson.D{{Key: "$gte", Value: handle}, {Key: "$lt", Value: handle + "g"}}},
		live(s.nowDate()),
	})
	if err != nil {
		return mongoErr(err)
	}
	if res.DeletedCount == 0 {
		return sessionstore.ErrNotFound
	}
	return nil
}

// DestroyUser implements sessionstore.UserIndex: deleteMany of the user's
// live sessions, again until one deletes nothing (two, when the user had
// sessions), and it returns how many it deleted. A deleteMany is not one
// atomic step (the server reads the matching documents, then deletes
// them): a session that a request regenerates meanwhile can move to a new
// key the first pass does not see. The next pass does, so no
// regeneration outlives the revoke. The user's expired documents are left
// to the TTL index or the sweep, as they are not counted. An empty userID
// destroys nothing.
func (s *Store) DestroyUser(ctx context.Context, userID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	total := 0
	for range maxDestroyPasses {
		res, err := s.coll.DeleteMany(ctx, bson.D{{Key: fieldUser, Value: userID}, live(s.nowDate())})
		if err != nil {
			return total, mongoErr(err)
		}
		total += int(res.DeletedCount)
		if res.DeletedCount == 0 {
			break
		}
	}
	return total, nil
}

// maxDestroyPasses bounds DestroyUser's passes: each needs a regeneration
// of the user's sessions racing the one before it.
const maxDestroyPasses = 8
