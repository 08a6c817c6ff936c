package sqlauth

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/auth"
)

// maxAttempts bounds how often one call runs its transaction.
const maxAttempts = 10

// inTx runs fn in a transaction, again after a short random pause when the
// database aborted it as retryable, until it succeeds, fails otherwise,
// runs maxAttempts times or ctx ends.
func (t *ThrottleStore) inTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if t.serial != nil {
		select {
		case t.serial <- struct{}{}:
			defer func() { <-t.serial }()
		case <-ctx.Done():
			return ctx.Err()
		}
		inner := fn
		fn = func(tx *gorm.DB) error {
			// A write first: the transaction holds SQLite's write lock
			// (waiting its busy timeout for it) before it reads.
			if err := tx.Exec("UPDATE ? SET failures = failures WHERE 1 = 0", t.tableExpr()).Error; err != nil {
				return err
			}
			return inner(tx)
		}
	}
	pause := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := t.db.WithContext(ctx).Transaction(fn, t.d.tx...)
		if err == nil || attempt == maxAttempts || !t.d.retryable(err) {
			return err
		}
		t.log.Debug("ginauth: login throttle transaction aborted; running it again", "table", t.table, "attempt", attempt, "err", err)
		timer := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

func (t *ThrottleStore) tableExpr() clause.Table { return clause.Table{Name: t.table} }

// columns are the table's columns, in the order lockRows reads them.
const columns = "key_hash, failures, last_failure, locked_until, in_flight, flying_at, expires_at"

// insertMissing inserts an empty row for each of the names that has none,
// in order, keeping the rows that exist.
func (t *ThrottleStore) insertMissing(tx *gorm.DB, uniq []string) error {
	var q strings.Builder
	q.WriteString("INSERT INTO ? (" + columns + ") VALUES ")
	args := make([]any, 0, 1+len(uniq))
	args = append(args, t.tableExpr())
	for i, id := range uniq {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, 0, 0, 0, 0, 0, 0)")
		args = append(args, id)
	}
	q.WriteString(t.d.keep)
	return tx.Exec(q.String(), args...).Error
}

// lockRows reads the rows named, locking them until the transaction ends,
// in name order.
func (t *ThrottleStore) lockRows(tx *gorm.DB, uniq []string) (map[string]*state, error) {
	var found []*state
	err := tx.Raw("SELECT "+columns+" FROM ? WHERE key_hash IN ? ORDER BY key_hash"+t.d.lock,
		t.tableExpr(), uniq).Scan(&found).Error
	if err != nil {
		return nil, err
	}
	rows := make(map[string]*state, len(found))
	for _, s := range found {
		rows[s.KeyHash] = s
	}
	return rows, nil
}

// save writes the rows that keys name and rows holds, each with the latest
// expiry any of its keys' rules gives it, in name order; it deletes those
// that have nothing left to remember at now.
func (t *ThrottleStore) save(tx *gorm.DB, now int64, keys []auth.ThrottleKey, ids []string, rows map[string]*state) error {
	until := make(map[string]int64, len(rows))
	for i, k := range keys {
		if s, ok := rows[ids[i]]; ok {
			until[ids[i]] = max(until[ids[i]], s.keepUntil(k.Rule))
		}
	}
	var forget []string
	for _, id := range slices.Sorted(maps.Keys(until)) {
		if until[id] <= now {
			forget = append(forget, id)
			continue
		}
		s := rows[id]
		err := tx.Exec("UPDATE ? SET failures = ?, last_failure = ?, locked_until = ?, in_flight = ?, flying_at = ?, expires_at = ? WHERE key_hash = ?",
			t.tableExpr(), s.Failures, s.LastFailure, s.LockedUntil, s.InFlight, s.FlyingAt, until[id], id).Error
		if err != nil {
			return err
		}
	}
	if len(forget) > 0 {
		return tx.Exec("DELETE FROM ? WHERE key_hash IN ?", t.tableExpr(), forget).Error
	}
	return nil
}
