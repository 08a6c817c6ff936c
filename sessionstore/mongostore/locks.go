package mongostore

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/ginauth/ginauth/sessionstore"
)

// keyLocks serialises a store's writes to one session, for servers that do
// not apply an update atomically. Keys are SHA-256 digests, so their first
// byte spreads sessions evenly over the stripes.
type keyLocks [64]sync.Mutex

func (l *keyLocks) lock(k sessionstore.Key) func() {
	m := &l[int(k[0])%len(l)]
	m.Lock()
	return m.Unlock
}

func noop() {}

// lock takes the write lock of key when the store needs one, and returns the
// function that releases it.
func (s *Store) lock(key sessionstore.Key) func() {
	if s.locks == nil {
		return noop
	}
	return s.locks.lock(key)
}

// LocksWrites reports whether the store serialises its own writes to each
// session (Update, Touch, Destroy) because the server does not apply a
// single-document update atomically.
//
// MongoDB and DocumentDB apply an update's filter and its change as one
// atomic step, so the compare-and-swap on the revision needs nothing more,
// across any number of application instances: LocksWrites is false.
// FerretDB v1 runs an update as a read, a change in its own memory, and a
// blind write of the whole document (FerretDB issues #3017 and #3040): two
// concurrent updates of one session can both succeed from the same revision,
// and a touch can write back a body that an update just replaced. On such a
// server (New recognises FerretDB by the ferretdbVersion field of buildInfo,
// and treats every version before v2 so) the store takes an in-process lock
// per session around each write, which makes its writes atomic with respect
// to each other within one process. It cannot do that across processes: run
// a single application instance against FerretDB v1, or use MongoDB or
// FerretDB v2.
func (s *Store) LocksWrites() bool { return s.locks != nil }

// needsLocks asks the server who it is, and reports whether it is a server
// whose updates are not atomic (FerretDB before v2).
func needsLocks(ctx context.Context, db *mongo.Database) (bool, error) {
	raw, err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		return false, err
	}
	v, ok := raw.Lookup("ferretdbVersion").StringValueOK()
	if !ok {
		return false, nil // not FerretDB
	}
	return ferretMajor(v) < 2, nil
}

// ferretMajor returns the major version of a FerretDB version string such
// as "v1.24.2", or 0 when it has none (an embedded build says "unknown").
func ferretMajor(v string) int {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexByte(v, '.'); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return n
}
