package mongostore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ginauth/ginauth/sessionstore"
)

var _ sessionstore.Limiter = (*Store)(nil)

// A login under a session limit holds its user's lease: a document in the
// session collection, {_id: "limit:<user ID>", holder, expires_at}, that
// exists while a login of the user counts and writes its sessions. It is
// not a session: its _id is no key, and it has no user_id, so no load,
// listing or revocation meets it.
const (
	leasePrefix = "limit:"
	fieldHolder = "holder"

	// leaseTTL is how long a lease holds when its holder does not delete
	// it (a process that stopped half way): then the next login of the
	// user takes it over. A login holds it for a few round trips.
	leaseTTL = 30 * time.Second

	// leaseWait bounds how long a login waits for a lease, by the wall
	// clock, before it answers ErrUnavailable.
	leaseWait = 2 * leaseTTL
)

// userLocks serialises, within one process, the logins under a limit of
// users whose IDs hash to the same stripe, so that a process's logins of
// one user queue in memory rather than poll the server for the lease.
type userLocks [64]sync.Mutex

func (l *userLocks) lock(uid string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(uid))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}

// CreateLimited implements sessionstore.Limiter. A login of a user first
// takes the user's lease: an upsert of the lease document filtered on "no
// lease, or one that expired", which MongoDB applies to one document
// atomically, so one login of the user at a time, on any instance, gets
// past it (the others meet the document's unique _id, and wait). Within
// the process, logins of one user also queue on a mutex first. Holding
// the lease, the login reads the user's live sessions, refuses, or
// creates the new session (as Create, or Regenerate, does) and then
// deletes the oldest; then it deletes the lease.
//
// The lease is safe as long as a login holding it finishes within
// leaseTTL (30 seconds) by the store's clock, and the application's
// instances' clocks agree to well within that. On FerretDB v1, whose
// updates are not atomic, only the insert of a lease is, so a lease left
// behind by a stopped process could be taken over by two logins at once:
// there, as for every write (see LocksWrites), run one instance.
func (s *Store) CreateLimited(ctx context.Context, oldKey *sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record, limit sessionstore.Limit) (int, error) {
	if err := limit.Validate(); err != nil {
		return 0, err
	}
	uid := rec.UserID
	if uid == "" {
		// Anonymous sessions are not counted.
		if oldKey != nil {
			return 0, s.Regenerate(ctx, *oldKey, oldUserID, newKey, rec)
		}
		return 0, s.Create(ctx, newKey, rec)
	}
	defer s.limits.lock(uid)()
	release, err := s.lease(ctx, uid)
	if err != nil {
		return 0, err
	}
	defer release()

	now := s.nowDate()
	counted, err := s.liveStarts(ctx, uid, now)
	if err != nil {
		return 0, err
	}
	if oldKey != nil && oldUserID == uid {
		counted = slices.DeleteFunc(counted, func(st started) bool { return st.key == oldKey.String() })
	}
	over := len(counted) - limit.Max + 1
	if over > 0 && !limit.EndOldest {
		if oldKey != nil {
			// Regenerate's rule first: a gone old session is not found.
			err := s.coll.FindOne(ctx, bson.D{{Key: fieldKey, Value: oldKey.String()}, {Key: fieldUser, Value: oldUserID}, live(now)},
				options.FindOne().SetProjection(bson.D{{Key: fieldKey, Value: 1}})).Err()
			if err != nil {
				return 0, mongoErr(err)
			}
		}
		return 0, sessionstore.ErrTooManySessions
	}
	if oldKey != nil {
		if err := s.Regenerate(ctx, *oldKey, oldUserID, newKey, rec); err != nil {
			return 0, err
		}
	} else if err := s.Create(ctx, newKey, rec); err != nil {
		return 0, err
	}
	ended := 0
	for _, st := range oldest(counted, over) {
		n, err := s.destroyLive(ctx, st.key, now)
		if err != nil {
			return ended, err
		}
		ended += n
	}
	return ended, nil
}

// lease takes the user's lease, waiting while another login holds it, and
// returns the function that gives it back.
func (s *Store) lease(ctx context.Context, uid string) (func(), error) {
	var raw [16]byte
	_, _ = crand.Read(raw[:])
	token := hex.EncodeToString(raw[:])
	id := leasePrefix + uid
	deadline := time.Now().Add(leaseWait)
	pause := time.Millisecond
	for {
		now := s.now()
		_, err := s.coll.UpdateOne(ctx,
			bson.D{{Key: fieldKey, Value: id}, {Key: fieldExpiresAt, Value: bson.D{{Key: "$lte", Value: date(now)}}}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: fieldHolder, Value: token},
				{Key: fieldExpiresAt, Value: date(now.Add(leaseTTL))},
			}}},
			options.UpdateOne().SetUpsert(true))
		if err == nil {
			return func() {
				// Given back even when ctx is done; one that fails to go
				// expires by itself.
				_, _ = s.coll.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: fieldKey, Value: id}, {Key: fieldHolder, Value: token}})
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, mongoErr(err)
		}
		// Another login of the user holds it.
		if time.Now().After(deadline) {
			return nil, sessionstore.Unavailable(fmt.Errorf("mongostore: a login of the same user has held the session limit's lease for %v", leaseWait))
		}
		select {
		case <-ctx.Done():
			return nil, sessionstore.Unavailable(ctx.Err())
		case <-time.After(pause/2 + rand.N(pause)):
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// started is a session by its key and when it began.
type started struct {
	key string
	at  time.Time
}

// liveStarts returns the user's live sessions with when each began. A
// document that cannot be read counts as begun first: it is no session
// anyone can use.
func (s *Store) liveStarts(ctx context.Context, uid string, now bson.DateTime) ([]started, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: fieldUser, Value: uid}, live(now)},
		options.Find().SetProjection(bson.D{{Key: fieldKey, Value: 1}, {Key: fieldData, Value: 1}}))
	if err != nil {
		return nil, mongoErr(err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	var out []started
	for cur.Next(ctx) {
		key, ok := cur.Current.Lookup(fieldKey).StringValueOK()
		if !ok {
			continue
		}
		st := started{key: key}
		var rec sessionstore.Record
		if data, ok := cur.Current.Lookup(fieldData).StringValueOK(); ok && sessionstore.UnmarshalBody(data, &rec) == nil {
			st.at = rec.CreatedAt
		}
		out = append(out, st)
	}
	if err := cur.Err(); err != nil {
		return nil, mongoErr(err)
	}
	return out, nil
}

// oldest returns the n sessions that began first, then by key.
func oldest(sessions []started, n int) []started {
	if n <= 0 {
		return nil
	}
	slices.SortFunc(sessions, func(a, b started) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return sessions[:n]
}

// destroyLive deletes the session under key if it is still live, and
// reports how many it deleted (0 or 1).
func (s *Store) destroyLive(ctx context.Context, key string, now bson.DateTime) (int, error) {
	if k, err := sessionstore.ParseKey(key); err == nil {
		defer s.lock(k)()
	}
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: fieldKey, Value: key}, live(now)})
	if err != nil {
		return 0, mongoErr(err)
	}
	return int(res.DeletedCount), nil
}
