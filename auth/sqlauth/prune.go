package sqlauth

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/sessionstore"
)

// migrate creates the table and its expires_at index when missing.
func (t *Throttle) migrate() error {
	if err := t.db.Table(t.table).AutoMigrate(&state{}); err != nil {
		return err
	}
	// The index name carries the table name: on PostgreSQL index names
	// share one namespace per schema.
	name := "idx_" + t.table + "_expires_at"
	if t.db.Migrator().HasIndex(t.table, name) {
		return nil
	}
	err := t.db.Exec("CREATE INDEX ? ON ? (expires_at)", clause.Table{Name: name}, t.tableExpr()).Error
	if err != nil && !t.db.Migrator().HasIndex(t.table, name) {
		return err
	}
	return nil
}

// Prune deletes the rows that have nothing left to remember at now (past
// their window and their lockout), in batches of PruneBatch, and returns
// how many it deleted. A pruned key counts its next attempt exactly as the
// row would have. The background prune calls it; jobs and tests may too.
func (t *Throttle) Prune(ctx context.Context, now time.Time) (int, error) {
	at := now.UnixMilli()
	total := 0
	for {
		n, more, err := t.pruneBatch(ctx, at)
		total += n
		if err != nil || !more {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// pruneBatch deletes one batch, and reports whether there may be more.
func (t *Throttle) pruneBatch(ctx context.Context, at int64) (int, bool, error) {
	if t.serial != nil {
		select {
		case t.serial <- struct{}{}:
			defer func() { <-t.serial }()
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	q := func() *gorm.DB { return t.db.WithContext(ctx).Table(t.table) }
	var ids []string
	if err := q().Where("expires_at <= ?", at).Limit(t.batch).Pluck("key_hash", &ids).Error; err != nil {
		return 0, false, sessionstore.Unavailable(err)
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	// The condition again: a row that an attempt wrote meanwhile stays.
	res := q().Where("key_hash IN ? AND expires_at <= ?", ids, at).Delete(&state{})
	if res.Error != nil {
		return 0, false, sessionstore.Unavailable(res.Error)
	}
	return int(res.RowsAffected), len(ids) == t.batch, nil
}
