package sqlauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/janitor"
	"github.com/ginauth/ginauth/sessionstore"
)

// ThrottleStoreOptions configures a ThrottleStore. The zero value is usable.
type ThrottleStoreOptions struct {
	// Table is the table name. Default "ginauth_throttle".
	Table string

	// AutoMigrate creates the table and its index when they are missing.
	AutoMigrate bool

	// PruneInterval is how often rows with nothing left to remember are
	// deleted in the background. Default five minutes; a negative value
	// disables pruning (the rows then stay, harmlessly, until Prune is
	// called).
	PruneInterval time.Duration

	// PruneBatch is how many rows one prune statement deletes at most, so
	// that pruning never holds long locks. Default 1000.
	PruneBatch int

	// Now is the clock the background prune reads; give it the clock of
	// auth.Config.Now if that is not the system's. Default time.Now.
	Now func() time.Time

	// Logger receives background prune failures and retried transactions
	// (at debug level). Default slog.Default().
	Logger *slog.Logger
}

// ThrottleStore is an auth.ThrottleStore in a SQL table, shared by every
// instance of an application that uses the same database: give it to
// auth.Config.Throttle.Store. It locks out exactly as auth's in-memory
// throttle does (the same arithmetic, on Unix milliseconds). One row per
// key:
//
//	key_hash      primary key: the hex SHA-256 of the throttle key
//	failures      consecutive failures counted
//	last_failure  the last failure, Unix ms; 0: none
//	locked_until  Unix ms; attempts are refused before it
//	in_flight     attempts reserved and not yet settled
//	flying_at     the last reservation, Unix ms
//	expires_at    Unix ms, indexed: the row has nothing left to remember
//	              from then on (its window, its lockout and its
//	              reservations are over)
//
// A reservation is an attempt in flight: one that was let through to its
// password comparison and whose verdict is not known yet. It is not a
// failure; it only keeps more attempts than a key has failures left (one
// once the key has been locked) from being judged at once. Settle gives it
// back with the verdict. A reservation that is never settled (its process
// crashed) stops counting auth.ReservationTTL after the key's last
// reservation.
//
// Check is one plain SELECT: it locks nothing and writes nothing. Each
// Reserve and each Settle is one transaction that locks its keys' rows
// (SELECT ... FOR UPDATE on PostgreSQL and MySQL/MariaDB, at READ
// COMMITTED, always in key_hash order so that two calls never wait on each
// other in a cycle; SQLite lets one writer in at a time, and this
// Throttle's calls queue for it in process), so a burst of parallel
// attempts on one key, from any number of instances, gets exactly the
// reservations its rule allows. A Reserve, and a Settle that records a
// failure, first inserts the rows its keys lack, so that there is a row to
// lock; a Reserve that is refused rolls back and leaves no row behind. A
// transaction the database aborts as a deadlock or a serialization
// failure, that finds SQLite's write lock taken, or whose row another call
// deleted between its INSERT and its SELECT, runs again (up to ten times,
// after a short random pause).
//
// The table stays bounded: a refused attempt writes nothing, a Settle
// deletes the rows it leaves with nothing to remember (a success with no
// other attempt in flight, say), and the background prune (every instance
// runs one; several are harmless) deletes every row past its expires_at:
// max(last_failure + Window, locked_until, flying_at +
// auth.ReservationTTL), at most max(Window, MaxDelay) after the key's last
// failure and a ReservationTTL after its last reservation. So the table
// holds at most the distinct keys that failed in the last max(Window,
// MaxDelay) or were reserved in the last ReservationTTL, plus one
// PruneInterval: with the defaults, some 20 minutes' worth of distinct
// usernames and addresses, however long a flood lasts. A row takes about
// 300 bytes on PostgreSQL, indexes included: a million distinct keys in
// that time, some 300 MB.
//
// It fails closed: when the database cannot answer, Check, Reserve and
// Settle return an error matching sessionstore.ErrUnavailable (answered
// 503 store_unavailable), never "not locked". Reserve returns
// auth.ErrInFlight itself, unwrapped, when a key has all the attempts in
// flight its rule allows.
//
// On SQLite, open the database with a busy timeout (the pragma
// busy_timeout) and WAL if other processes write to it too.
type ThrottleStore struct {
	db    *gorm.DB
	d     dialect
	table string
	batch int
	log   *slog.Logger
	bg    *janitor.Janitor
	// serial holds one token per write transaction running on SQLite; nil
	// elsewhere.
	serial chan struct{}
}

// NewThrottleStore returns a throttle store on db (PostgreSQL, MySQL/MariaDB or
// SQLite), creating its table first when opts.AutoMigrate is set, and
// starts the background prune; Close stops it. It fails for another
// dialect, and with an error matching sessionstore.ErrUnavailable when the
// table cannot be created.
func NewThrottleStore(db *gorm.DB, opts ThrottleStoreOptions) (*ThrottleStore, error) {
	d, err := dialectOf(db)
	if err != nil {
		return nil, err
	}
	if opts.Table == "" {
		opts.Table = "ginauth_throttle"
	}
	if opts.PruneInterval == 0 {
		opts.PruneInterval = 5 * time.Minute
	}
	if opts.PruneBatch <= 0 {
		opts.PruneBatch = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t := &ThrottleStore{db: db, d: d, table: opts.Table, batch: opts.PruneBatch, log: opts.Logger}
	if d.serial {
		t.serial = make(chan struct{}, 1)
	}
	if opts.AutoMigrate {
		if err := t.migrate(); err != nil {
			return nil, sessionstore.Unavailable(fmt.Errorf("creating throttle table %q: %w", t.table, err))
		}
	}
	t.bg = janitor.Start(opts.PruneInterval, func() {
		ctx, cancel := context.WithTimeout(context.Background(), opts.PruneInterval)
		defer cancel()
		if _, err := t.Prune(ctx, opts.Now()); err != nil {
			t.log.Warn("ginauth: pruning the login throttle table failed", "table", t.table, "err", err)
		}
	})
	return t, nil
}

// Close stops the background prune and waits for it. It does not close db.
// It is idempotent.
func (t *ThrottleStore) Close() error {
	t.bg.Stop()
	return nil
}

var (
	// errRefused rolls back a reservation that a lockout refused.
	errRefused = errors.New("sqlauth: attempt refused")
	// errVanished rolls back a call whose row was deleted (pruned, or left
	// with nothing to remember by a Settle) between the INSERT that kept it
	// and the SELECT that locks it, on PostgreSQL; it runs again.
	errVanished = errors.New("sqlauth: throttle row deleted concurrently")
)

// Check implements auth.ThrottleStore with one SELECT: it locks nothing and
// creates no row.
func (t *ThrottleStore) Check(ctx context.Context, now time.Time, keys []auth.ThrottleKey) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	_, uniq := hashes(keys)
	var until int64
	err := t.db.WithContext(ctx).Raw("SELECT COALESCE(MAX(locked_until), 0) FROM ? WHERE key_hash IN ?", t.tableExpr(), uniq).
		Scan(&until).Error
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	return time.Duration(max(until-now.UnixMilli(), 0)) * time.Millisecond, nil
}

// Reserve implements auth.ThrottleStore in one transaction: it inserts the
// keys' missing rows, locks every row, and either refuses (rolling back:
// nothing reserved, no row left behind) or puts the attempt in flight on
// each.
func (t *ThrottleStore) Reserve(ctx context.Context, now time.Time, keys []auth.ThrottleKey) (time.Duration, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	ids, uniq := hashes(keys)
	at := now.UnixMilli()
	var wait int64
	err := t.inTx(ctx, func(tx *gorm.DB) error {
		if err := t.insertMissing(tx, uniq); err != nil {
			return err
		}
		rows, err := t.lockRows(tx, uniq)
		if err != nil {
			return err
		}
		if len(rows) != len(uniq) {
			return errVanished
		}
		wait = 0
		for _, s := range rows {
			wait = max(wait, s.LockedUntil-at)
		}
		if wait > 0 {
			return errRefused
		}
		for i, k := range keys {
			if !rows[ids[i]].canReserve(at, k.Rule) {
				return auth.ErrInFlight
			}
		}
		for _, id := range ids {
			rows[id].reserve(at)
		}
		return t.save(tx, at, keys, ids, rows)
	})
	switch {
	case errors.Is(err, errRefused):
		return time.Duration(wait) * time.Millisecond, nil
	case errors.Is(err, auth.ErrInFlight):
		return 0, auth.ErrInFlight
	case err != nil:
		return 0, sessionstore.Unavailable(err)
	}
	return 0, nil
}

// Settle implements auth.ThrottleStore in one transaction: it locks the
// keys' rows (inserting the missing ones first when a verdict is Failed,
// so that the failure has a row to count on), applies each verdict in
// turn, and deletes the rows left with nothing to remember. Other verdicts
// on a key without a row change nothing.
func (t *ThrottleStore) Settle(ctx context.Context, now time.Time, s []auth.Settlement) (time.Duration, error) {
	if len(s) == 0 {
		return 0, nil
	}
	keys := make([]auth.ThrottleKey, len(s))
	failed := false
	for i, x := range s {
		keys[i] = x.ThrottleKey
		failed = failed || x.Verdict == auth.Failed
	}
	ids, uniq := hashes(keys)
	at := now.UnixMilli()
	var locked int64
	err := t.inTx(ctx, func(tx *gorm.DB) error {
		if failed {
			// Every key's row, not only the failed ones': the rows are then
			// locked in key_hash order, as Reserve locks them. The rows it
			// adds for other verdicts are left with nothing to remember,
			// and deleted by save.
			if err := t.insertMissing(tx, uniq); err != nil {
				return err
			}
		}
		rows, err := t.lockRows(tx, uniq)
		if err != nil {
			return err
		}
		if failed && len(rows) != len(uniq) {
			return errVanished
		}
		locked = 0
		for i, x := range s {
			if st, ok := rows[ids[i]]; ok {
				locked = max(locked, st.settle(at, x.Rule, x.Verdict, x.Reserved))
			}
		}
		return t.save(tx, at, keys, ids, rows)
	})
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	return time.Duration(locked) * time.Millisecond, nil
}

// hashes returns each key's row name, and the distinct names in order: the
// order every transaction locks rows in.
func hashes(keys []auth.ThrottleKey) (ids, uniq []string) {
	ids = make([]string, len(keys))
	for i, k := range keys {
		ids[i] = keyHash(k.Key)
	}
	uniq = slices.Clone(ids)
	slices.Sort(uniq)
	return ids, slices.Compact(uniq)
}
