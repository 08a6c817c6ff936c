package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/sessionstore"
)

var (
	_ sessionstore.IndexedStore = (*Store)(nil)
	_ sessionstore.Limiter      = (*Store)(nil)
)

// lockRow is the shape of the lock table: a row per user that a login
// under a session limit has counted, locked by each such login of the
// user until it commits. expires_at (Unix ms) is the expiry of the
// session the last such login stored; Prune deletes rows past it. A lock
// row is only a place to wait, so deleting one is harmless: the next
// login inserts it again (and a delete waits for the login that holds it,
// then finds it no longer expired).
type lockRow struct {
	UserID    string `gorm:"column:user_id;primaryKey;size:191"`
	ExpiresAt int64  `gorm:"column:expires_at;not null"`
}

// limitAttempts bounds how often CreateLimited runs its transaction again
// after the database chose it as a deadlock's victim, or found it could
// not be serialised, or (SQLite) was busy.
const limitAttempts = 8

// CreateLimited implements sessionstore.Limiter: one transaction that
// first locks the user's row in the lock table (an upsert: INSERT ... ON
// CONFLICT DO UPDATE, ON DUPLICATE KEY UPDATE on MySQL), so that every
// other CreateLimited of the user, on any instance, waits for it to
// commit; then reads the user's live sessions, refuses or deletes the
// oldest, and inserts the new session (or moves the old one to the new
// key, as Regenerate does). On PostgreSQL it runs at READ COMMITTED, so
// that its reads, made after it took the lock, see what the login before
// it committed; on MySQL the first read after the lock takes its snapshot;
// SQLite writes one transaction at a time anyway. A transaction that the
// database aborts (a deadlock with a DestroyUser of the same user, a
// serialisation failure, SQLite busy) is run again, a few times at most.
//
// The lock table is the session table's name with "_locks" appended;
// Options.AutoMigrate creates it.
func (s *Store) CreateLimited(ctx context.Context, oldKey *sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record, limit sessionstore.Limit) (int, error) {
	if err := limit.Validate(); err != nil {
		return 0, err
	}
	if rec.UserID == "" {
		// Anonymous sessions are not counted.
		if oldKey != nil {
			return 0, s.Regenerate(ctx, *oldKey, oldUserID, newKey, rec)
		}
		return 0, s.Create(ctx, newKey, rec)
	}
	row, err := newGORMRow(newKey, rec)
	if err != nil {
		return 0, err
	}
	for attempt := 1; ; attempt++ {
		ended, err := s.createLimited(ctx, oldKey, oldUserID, row, limit)
		if err == nil {
			rec.Rev = row.Rev
			return ended, nil
		}
		if !retryable(err) || attempt == limitAttempts {
			switch {
			case errors.Is(err, sessionstore.ErrNotFound), errors.Is(err, sessionstore.ErrTooManySessions), errors.Is(err, sessionstore.ErrConflict):
				return 0, err
			}
			return 0, sessionstore.Unavailable(err)
		}
		select {
		case <-time.After(time.Duration(1+rand.IntN(attempt*5)) * time.Millisecond):
		case <-ctx.Done():
			return 0, sessionstore.Unavailable(ctx.Err())
		}
	}
}

func (s *Store) createLimited(ctx context.Context, oldKey *sessionstore.Key, oldUserID string, row *gormRow, limit sessionstore.Limit) (int, error) {
	now := ms(s.now())
	uid := row.UserID
	ended := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The user's lock, first: no read of this transaction comes before
		// it, so none can miss what the login before it committed.
		lock := lockRow{UserID: uid, ExpiresAt: row.ExpiresAt}
		err := tx.Table(s.lockTable()).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"expires_at"}),
		}).Create(&lock).Error
		if err != nil {
			return err
		}

		var live []gormRow
		q := tx.Table(s.table).Select("key_hash", "data").Where("user_id = ? AND expires_at > ?", uid, now)
		if oldKey != nil {
			q = q.Where("key_hash <> ?", oldKey.String()) // the session regenerated from does not count
		}
		if err := q.Find(&live).Error; err != nil {
			return err
		}
		if oldKey != nil {
			res := move(tx.Table(s.table), *oldKey, oldUserID, now, row)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return sessionstore.ErrNotFound
			}
		} else {
			res := tx.Table(s.table).Clauses(clause.OnConflict{DoNothing: true}).Create(row)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return errExists
			}
		}

		// Refused only now, so that a gone old session is not found
		// first, as Regenerate answers; the rollback undoes the write.
		over := len(live) - limit.Max + 1
		if over > 0 && !limit.EndOldest {
			return sessionstore.ErrTooManySessions
		}
		if over > 0 {
			victims := oldest(live, over)
			res := tx.Table(s.table).Where("key_hash IN ? AND expires_at > ?", victims, now).Delete(&gormRow{})
			if res.Error != nil {
				return res.Error
			}
			ended = int(res.RowsAffected)
		}
		return nil
	}, s.limitTxOptions())
	if err != nil {
		return 0, err
	}
	return ended, nil
}

// oldest returns the keys of the n rows whose sessions began first, then
// by key. A row whose body cannot be read counts as the oldest: it is no
// session anyone can use.
func oldest(rows []gormRow, n int) []string {
	type started struct {
		key string
		at  time.Time
	}
	all := make([]started, len(rows))
	for i := range rows {
		var rec sessionstore.Record
		all[i].key = rows[i].KeyHash
		if sessionstore.UnmarshalBody(rows[i].Data, &rec) == nil {
			all[i].at = rec.CreatedAt
		}
	}
	slices.SortFunc(all, func(a, b started) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	keys := make([]string, n)
	for i := range keys {
		keys[i] = all[i].key
	}
	return keys
}

// lockTable is the name of the table of the users' lock rows.
func (s *Store) lockTable() string { return s.table + "_locks" }

// limitTxOptions: READ COMMITTED on PostgreSQL, so that each statement
// sees what committed before it began, whatever the server's default;
// the dialect's default elsewhere (MySQL's REPEATABLE READ takes its
// snapshot at the first plain read, which comes after the lock).
func (s *Store) limitTxOptions() *sql.TxOptions {
	if s.db.Dialector.Name() == "postgres" {
		return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return nil
}

// again runs stmt, one statement outside any transaction, and runs it
// again (up to limitAttempts times in all) while the database aborts it as
// retryable. A statement InnoDB picks as a deadlock's victim is rolled back
// whole, so running it again is safe: the UPDATE of a Regenerate and the
// DELETE of a DestroyUser lock the same rows through different indexes, and
// InnoDB may break that tie by aborting either.
func again(ctx context.Context, stmt func() *gorm.DB) *gorm.DB {
	for attempt := 1; ; attempt++ {
		res := stmt()
		if res.Error == nil || !retryable(res.Error) || attempt == limitAttempts {
			return res
		}
		select {
		case <-time.After(time.Duration(1+rand.IntN(attempt*5)) * time.Millisecond):
		case <-ctx.Done():
			return res
		}
	}
}

// retryable reports whether err is the database aborting a transaction
// that may succeed if run again: a deadlock or a serialisation failure
// (SQLSTATE 40P01, 40001: PostgreSQL's, and MySQL's error 1213), or SQLite
// being busy or locked. The drivers' error types are recognised by their
// methods and messages, so that this package imports none of them.
func retryable(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "40001", "40P01":
			return true
		}
		return false
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
		return false
	}
	msg := err.Error() // MySQL's: "Error 1213 (40001): Deadlock found ..."
	return strings.Contains(msg, "Error 1213") || strings.Contains(msg, "(40001)")
}
