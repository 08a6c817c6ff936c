package mongostore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ginauth/ginauth/sessionstore"
)

// ExpiryMode says how expired session documents are removed from the
// collection. Whatever the mode, a read never returns an expired session:
// the mode only decides when its document goes away.
type ExpiryMode int

const (
	// ExpiryAuto, the default of Options.Expiry, uses a TTL index where the
	// server has them and the background sweep where the server answers
	// that TTL indexes are not implemented. Store.ExpiryMode never reports
	// it: it reports what Auto resolved to.
	ExpiryAuto ExpiryMode = iota

	// ExpiryTTLIndex: the server deletes expired documents itself, through
	// a TTL index on expires_at (expireAfterSeconds: 0). MongoDB's TTL
	// monitor runs about once a minute. As an option, it makes New fail on
	// a server without TTL indexes.
	ExpiryTTLIndex

	// ExpirySweep: a goroutine of the store deletes expired documents every
	// Options.SweepInterval, Options.SweepBatch at a time. As an option, it
	// sweeps even where TTL indexes exist.
	ExpirySweep

	// ExpiryManual: nothing removes expired documents in the background;
	// call Store.Sweep from a job of your own. It is what a negative
	// Options.SweepInterval turns ExpirySweep into.
	ExpiryManual
)

// String returns the mode's name: "auto", "ttl-index", "sweep" or "manual".
func (m ExpiryMode) String() string {
	switch m {
	case ExpiryAuto:
		return "auto"
	case ExpiryTTLIndex:
		return "ttl-index"
	case ExpirySweep:
		return "sweep"
	case ExpiryManual:
		return "manual"
	}
	return fmt.Sprintf("ExpiryMode(%d)", int(m))
}

// ExpiryMode reports how this store's expired documents are removed, as
// decided by New: ExpiryTTLIndex, ExpirySweep or ExpiryManual.
func (s *Store) ExpiryMode() ExpiryMode { return s.mode }

// Index names. The TTL index and the plain expiry index have different names
// so that one never passes for the other.
// sweepTimeout is the least time one background sweep is given.
const sweepTimeout = time.Minute

const (
	indexUser      = "user_id_1"
	indexExpiryTTL = "expires_at_ttl"
	indexExpiry    = "expires_at_1"
)

// Server error codes the store recognises.
const (
	codeIndexOptionsConflict  = 85
	codeIndexKeySpecsConflict = 86
	codeCommandNotSupported   = 115
	codeNotImplemented        = 238
)

func hasCode(err error, codes ...int) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.HasErrorCode(c) {
			return true
		}
	}
	return false
}

// ensureIndexes creates the user_id index and an index on expires_at, a TTL
// one when mode allows and the server supports it. It reports whether the TTL
// index is in place.
//
// Detection: the TTL index is asked for first. A server that answers
// NotImplemented (238, FerretDB) or CommandNotSupported (115) has no TTL
// indexes; one that answers that an index on expires_at already exists with
// other options (85, 86) keeps that index. In both cases ExpiryAuto falls
// back to the sweep, with a plain index on expires_at, and ExpiryTTLIndex
// fails. Any other error fails New.
func (s *Store) ensureIndexes(ctx context.Context, mode ExpiryMode) (bool, error) {
	iv := s.coll.Indexes()
	_, err := iv.CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldUser, Value: 1}},
		Options: options.Index().SetName(indexUser),
	})
	if err != nil && !hasCode(err, codeIndexOptionsConflict, codeIndexKeySpecsConflict) {
		return false, indexErr(s.coll, indexUser, err)
	}
	if mode == ExpiryAuto || mode == ExpiryTTLIndex {
		_, err := iv.CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: fieldExpiresAt, Value: 1}},
			Options: options.Index().SetName(indexExpiryTTL).SetExpireAfterSeconds(0),
		})
		switch {
		case err == nil:
			return true, nil
		case !hasCode(err, codeNotImplemented, codeCommandNotSupported, codeIndexOptionsConflict, codeIndexKeySpecsConflict):
			return false, indexErr(s.coll, indexExpiryTTL, err)
		case mode == ExpiryTTLIndex:
			return false, fmt.Errorf("mongostore: the server cannot keep a TTL index on %s.%s: %w",
				s.coll.Name(), fieldExpiresAt, err)
		}
		s.log.Info("ginauth: no TTL index for sessions; expired sessions are swept by the store",
			"collection", s.coll.Name(), "reason", err.Error())
	}
	_, err = iv.CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: fieldExpiresAt, Value: 1}},
		Options: options.Index().SetName(indexExpiry),
	})
	if err != nil && !hasCode(err, codeIndexOptionsConflict, codeIndexKeySpecsConflict) {
		return false, indexErr(s.coll, indexExpiry, err)
	}
	return false, nil
}

func indexErr(coll *mongo.Collection, name string, err error) error {
	return fmt.Errorf("mongostore: creating index %s on %s: %w", name, coll.Name(), sessionstore.Unavailable(err))
}

func (s *Store) sweeper(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.closing.Done():
			return
		case <-t.C:
			// Close cancels a sweep in progress rather than wait for it. A
			// sweep may take longer than a short interval; ticks that fall
			// due meanwhile are dropped.
			ctx, cancel := context.WithTimeout(s.closing, max(every, sweepTimeout))
			if _, err := s.Sweep(ctx); err != nil && s.closing.Err() == nil {
				s.log.Warn("ginauth: sweeping expired sessions failed", "collection", s.coll.Name(), "err", err)
			}
			cancel()
		}
	}
}

// Sweep deletes the documents that have expired by the store's clock,
// SweepBatch at a time, and returns how many it deleted. The background sweep
// calls it; a job or a test may call it in any mode. It stops early, with
// ctx's error, when ctx ends.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.nowDate()
		expired := bson.D{{Key: fieldExpiresAt, Value: bson.D{{Key: "$lte", Value: now}}}}
		cur, err := s.coll.Find(ctx, expired, options.Find().
			SetProjection(bson.D{{Key: fieldKey, Value: 1}}).
			SetLimit(int64(s.batch)).
			SetBatchSize(int32(s.batch)))
		if err != nil {
			return total, mongoErr(err)
		}
		var ids []any
		for cur.Next(ctx) {
			id := cur.Current.Lookup(fieldKey)
			id.Value = bytes.Clone(id.Value) // Current is only valid until Next
			ids = append(ids, id)
		}
		err = cur.Err()
		_ = cur.Close(context.WithoutCancel(ctx))
		if err != nil {
			return total, mongoErr(err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		res, err := s.coll.DeleteMany(ctx, bson.D{
			{Key: fieldKey, Value: bson.D{{Key: "$in", Value: ids}}},
			expired[0],
		})
		if err != nil {
			return total, mongoErr(err)
		}
		total += int(res.DeletedCount)
		if len(ids) < s.batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
