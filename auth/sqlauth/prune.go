package sqlauth

import (
	"context"
	"time"

	"github.com/ginauth/ginauth/internal/sqltable"
	"github.com/ginauth/ginauth/sessionstore"
)

// migrate creates the table and its expires_at index when missing.
func (t *ThrottleStore) migrate() error {
	if err := t.db.Table(t.table).AutoMigrate(&state{}); err != nil {
		return err
	}
	return sqltable.CreateIndex(t.db, t.table, "expires_at")
}

// Prune deletes the rows that have nothing left to remember at now (past
// their window, their lockout, and auth.ReservationTTL after their last
// reservation), in batches of PruneBatch, and returns how many it deleted.
// A pruned key counts its next attempt exactly as the row would have. The
// background prune calls it; jobs and tests may too.
func (t *ThrottleStore) Prune(ctx context.Context, now time.Time) (int, error) {
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
func (t *ThrottleStore) pruneBatch(ctx context.Context, at int64) (int, bool, error) {
	if t.serial != nil {
		select {
		case t.serial <- struct{}{}:
			defer func() { <-t.serial }()
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	n, more, err := sqltable.DeleteExpired(ctx, t.db, t.table, &state{}, at, t.batch)
	if err != nil {
		return 0, false, sessionstore.Unavailable(err)
	}
	return n, more, nil
}
