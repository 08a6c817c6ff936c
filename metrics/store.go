package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ginauth/ginauth/sessionstore"
)

// operation is a method of sessionstore.IndexedStore.
type operation int

const (
	opLoad operation = iota
	opCreate
	opUpdate
	opTouch
	opRegenerate
	opDestroy
	opList
	opDestroyID
	opDestroyUser
	opCreateLimited
	numOperations
)

// operationNames are the values of the operation label, by operation.
var operationNames = [numOperations]string{
	opLoad:          "load",
	opCreate:        "create",
	opUpdate:        "update",
	opTouch:         "touch",
	opRegenerate:    "regenerate",
	opDestroy:       "destroy",
	opList:          "list",
	opDestroyID:     "destroy_id",
	opDestroyUser:   "destroy_user",
	opCreateLimited: "create_limited",
}

// errorKind is what kind of failure a store call answered.
type errorKind int

const (
	kindUnavailable errorKind = iota // sessionstore.ErrUnavailable
	kindCorrupt                      // sessionstore.ErrCorrupt
	kindConflict                     // sessionstore.ErrConflict
	kindOther                        // anything else
	numKinds
)

// kindNames are the values of the kind label, by kind.
var kindNames = [numKinds]string{
	kindUnavailable: "unavailable",
	kindCorrupt:     "corrupt",
	kindConflict:    "conflict",
	kindOther:       "other",
}

// kindOf classifies an error a store answered; sessionstore.ErrNotFound is
// an answer, not an error, and is never classified.
func kindOf(err error) errorKind {
	switch {
	case errors.Is(err, sessionstore.ErrUnavailable):
		return kindUnavailable
	case errors.Is(err, sessionstore.ErrCorrupt):
		return kindCorrupt
	case errors.Is(err, sessionstore.ErrConflict):
		return kindConflict
	default:
		return kindOther
	}
}

// storeBuckets span 0.1 ms (a memory store, a Redis server next door) to
// 1 s (a store in trouble), in seconds.
var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// storeMetrics time the calls of the stores that Metrics.Store wraps.
type storeMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func newStoreMetrics(ns string) storeMetrics {
	return storeMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "session_store_duration_seconds",
			Help:    "Time taken by session store calls, failed ones included, by operation and store.",
			Buckets: storeBuckets,
		}, []string{"operation", "store"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "session_store_errors_total",
			Help: "Session store calls that failed, by operation, store and kind: unavailable, corrupt, conflict, other. A session not found is an answer, not an error.",
		}, []string{"operation", "store", "kind"}),
	}
}

func (s *storeMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.duration, s.errors}
}

// opSeries are the series of one operation on one store, resolved once so
// that timing a call looks up no label.
type opSeries struct {
	duration prometheus.Observer
	errors   [numKinds]prometheus.Counter
}

// done records a call that began at start and answered err. A session not
// found, or a sign-in the session limit refuses, is an answer, not an error.
func (o *opSeries) done(start time.Time, err error) {
	o.duration.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, sessionstore.ErrNotFound) && !errors.Is(err, sessionstore.ErrTooManySessions) {
		o.errors[kindOf(err)].Inc()
	}
}

// Store returns a session store that passes every call to store unchanged,
// and times it in session_store_duration_seconds{operation, store=name};
// calls that fail are also counted, by kind, in session_store_errors_total.
// Give it to session.Config.Store in place of store (which the application
// still closes itself, if it has a Close). When store limits sessions per
// user (sessionstore.Limiter), so does the returned store, and its
// CreateLimited calls are timed as create_limited.
//
// name labels the store's series: keep it to a fixed word, such as
// "redis" or "postgres" ("" is "default"). Two stores wrapped under the
// same name share their series.
func (m *Metrics) Store(store sessionstore.IndexedStore, name string) sessionstore.IndexedStore {
	if name == "" {
		name = "default"
	}
	t := &timedStore{store: store}
	for op := range numOperations {
		s := &t.ops[op]
		s.duration = m.stores.duration.WithLabelValues(operationNames[op], name)
		for k := range numKinds {
			s.errors[k] = m.stores.errors.WithLabelValues(operationNames[op], name, kindNames[k])
		}
	}
	if lim, ok := store.(sessionstore.Limiter); ok {
		return &timedLimiter{timedStore: t, lim: lim}
	}
	return t
}

// timedLimiter is the store that Metrics.Store returns for a store that
// limits sessions per user.
type timedLimiter struct {
	*timedStore
	lim sessionstore.Limiter
}

// CreateLimited calls the wrapped store's CreateLimited, and records its
// time and any error.
func (t *timedLimiter) CreateLimited(ctx context.Context, oldKey *sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record, limit sessionstore.Limit) (int, error) {
	start := time.Now()
	n, err := t.lim.CreateLimited(ctx, oldKey, oldUserID, newKey, rec, limit)
	t.ops[opCreateLimited].done(start, err)
	return n, err
}

// timedStore is the store that Metrics.Store returns.
type timedStore struct {
	store sessionstore.IndexedStore
	ops   [numOperations]opSeries
}

var _ sessionstore.IndexedStore = (*timedStore)(nil)

// Load calls the wrapped store's Load, and records its time and any error.
func (t *timedStore) Load(ctx context.Context, key sessionstore.Key) (*sessionstore.Record, error) {
	start := time.Now()
	rec, err := t.store.Load(ctx, key)
	t.ops[opLoad].done(start, err)
	return rec, err
}

// Create calls the wrapped store's Create, and records its time and any error.
func (t *timedStore) Create(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	start := time.Now()
	err := t.store.Create(ctx, key, rec)
	t.ops[opCreate].done(start, err)
	return err
}

// Update calls the wrapped store's Update, and records its time and any error.
func (t *timedStore) Update(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	start := time.Now()
	err := t.store.Update(ctx, key, rec)
	t.ops[opUpdate].done(start, err)
	return err
}

// Touch calls the wrapped store's Touch, and records its time and any error.
func (t *timedStore) Touch(ctx context.Context, key sessionstore.Key, lastActivity, expiresAt time.Time) error {
	start := time.Now()
	err := t.store.Touch(ctx, key, lastActivity, expiresAt)
	t.ops[opTouch].done(start, err)
	return err
}

// Regenerate calls the wrapped store's Regenerate, and records its time and any error.
func (t *timedStore) Regenerate(ctx context.Context, oldKey sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record) error {
	start := time.Now()
	err := t.store.Regenerate(ctx, oldKey, oldUserID, newKey, rec)
	t.ops[opRegenerate].done(start, err)
	return err
}

// Destroy calls the wrapped store's Destroy, and records its time and any error.
func (t *timedStore) Destroy(ctx context.Context, key sessionstore.Key) error {
	start := time.Now()
	err := t.store.Destroy(ctx, key)
	t.ops[opDestroy].done(start, err)
	return err
}

// List calls the wrapped store's List, and records its time and any error.
func (t *timedStore) List(ctx context.Context, userID string) ([]sessionstore.Info, error) {
	start := time.Now()
	infos, err := t.store.List(ctx, userID)
	t.ops[opList].done(start, err)
	return infos, err
}

// DestroyID calls the wrapped store's DestroyID, and records its time and any error.
func (t *timedStore) DestroyID(ctx context.Context, userID, handle string) error {
	start := time.Now()
	err := t.store.DestroyID(ctx, userID, handle)
	t.ops[opDestroyID].done(start, err)
	return err
}

// DestroyUser calls the wrapped store's DestroyUser, and records its time and any error.
func (t *timedStore) DestroyUser(ctx context.Context, userID string) (int, error) {
	start := time.Now()
	n, err := t.store.DestroyUser(ctx, userID)
	t.ops[opDestroyUser].done(start, err)
	return n, err
}
