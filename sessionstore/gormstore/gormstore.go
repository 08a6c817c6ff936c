// Package gormstore keeps ginauth's sessions in a SQL table through GORM, on
// any of its dialects: SQLite, PostgreSQL, MySQL/MariaDB.
package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/internal/janitor"
	"github.com/ginauth/ginauth/internal/sqltable"
	"github.com/ginauth/ginauth/sessionstore"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Table is the table name. Default "sessions".
	Table string

	// AutoMigrate creates the table and its indexes when they are missing
	// (connect-pg-simple's createTableIfMissing).
	AutoMigrate bool

	// PruneInterval is how often expired rows are deleted in the background.
	// Default five minutes; a negative value disables pruning (loads still
	// ignore expired rows).
	PruneInterval time.Duration

	// PruneBatch is how many rows one prune statement deletes at most, so
	// that pruning never holds long locks. Default 1000.
	PruneBatch int

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Logger receives background prune failures. Default slog.Default().
	Logger *slog.Logger
}

// Store keeps sessions in a SQL table. It implements
// sessionstore.IndexedStore and sessionstore.Limiter. Columns:
//
//	key_hash       primary key: the session key, 64 hex digits
//	user_id        the user ("" when anonymous), indexed: the per-user index
//	rev            revision, for compare-and-swap updates
//	last_activity  Unix ms
//	expires_at     Unix ms, indexed; rows past it are ignored, then pruned
//	data           the record's JSON body
//
// Times are integers so that every dialect compares them alike. A new session
// is an INSERT of a fresh key; an update is a conditional UPDATE (same key,
// same revision, not expired), and so is a regeneration (the old key, live:
// the row moves to the new key), so no write ever brings back a row that
// was deleted.
//
// A second table, the session table's name with "_locks" appended, holds
// a row per user that signed in under a session limit (user_id, the
// primary key; expires_at, Unix ms): CreateLimited locks it for the length
// of its transaction. AutoMigrate creates both tables.
type Store struct {
	db    *gorm.DB
	table string
	now   func() time.Time
	batch int
	log   *slog.Logger
	bg    *janitor.Janitor

	loadOnce sync.Once
	load     *sql.Stmt // Load's SELECT, prepared; nil: through GORM
}

// gormRow is the table's shape.
type gormRow struct {
	KeyHash      string `gorm:"column:key_hash;primaryKey;size:64"`
	UserID       string `gorm:"column:user_id;size:191;not null;default:''"`
	Rev          int64  `gorm:"column:rev;not null"`
	LastActivity int64  `gorm:"column:last_activity;not null"`
	ExpiresAt    int64  `gorm:"column:expires_at;not null"`
	Data         string `gorm:"column:data;not null"`
}

// MaxUserIDLen is the longest user ID the store indexes.
const MaxUserIDLen = 191

// New returns a store on db, creating the table first when
// opts.AutoMigrate is set, and starts the pruner; Close stops it.
func New(db *gorm.DB, opts Options) (*Store, error) {
	if opts.Table == "" {
		opts.Table = "sessions"
	}
	if opts.PruneInterval == 0 {
		opts.PruneInterval = 5 * time.Minute
	}
	if opts.PruneBatch <= 0 {
		opts.PruneBatch = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		// Every write is one statement: GORM's default transaction around
		// it would add a BEGIN and a COMMIT, two more round trips.
		db:    db.Session(&gorm.Session{SkipDefaultTransaction: true}),
		table: opts.Table,
		now:   opts.Now,
		batch: opts.PruneBatch,
		log:   opts.Logger,
	}
	if opts.AutoMigrate {
		if err := s.migrate(); err != nil {
			return nil, sessionstore.Unavailable(fmt.Errorf("creating session table %q: %w", s.table, err))
		}
	}
	s.bg = janitor.Start(opts.PruneInterval, func() {
		ctx, cancel := context.WithTimeout(context.Background(), opts.PruneInterval)
		defer cancel()
		if _, err := s.Prune(ctx); err != nil {
			s.log.Warn("ginauth: pruning expired sessions failed", "table", s.table, "err", err)
		}
	})
	return s, nil
}

func (s *Store) migrate() error {
	if err := s.db.Table(s.table).AutoMigrate(&gormRow{}); err != nil {
		return err
	}
	if err := s.db.Table(s.lockTable()).AutoMigrate(&lockRow{}); err != nil {
		return err
	}
	for _, col := range []string{"user_id", "expires_at"} {
		if err := sqltable.CreateIndex(s.db, s.table, col); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the pruner and waits for it, and releases the prepared
// statement. It does not close db.
func (s *Store) Close() error {
	s.bg.Stop()
	s.loadOnce.Do(func() {}) // no preparing after Close
	if s.load != nil {
		_ = s.load.Close()
	}
	return nil
}

// Prune deletes expired rows in batches of PruneBatch and returns how many it
// deleted. The background pruner calls it; tests and jobs may too. It also
// deletes, in batches likewise, the lock rows of users whose limited
// sessions have all expired (see CreateLimited), which it does not count.
func (s *Store) Prune(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := sqltable.DeleteExpired(ctx, s.db, s.table, &gormRow{}, ms(s.now()), s.batch)
		total += n
		if err != nil {
			return total, sessionstore.Unavailable(err)
		}
		if !more {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	for {
		more, err := s.pruneLocks(ctx)
		if err != nil || !more {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// pruneLocks deletes at most a batch of lock rows past their expiry, and
// reports whether there may be more. A lock row is only a place to wait:
// a login that comes after its deletion inserts it again. A table that
// does not exist (a store that never migrated it, as when the
// application creates its tables itself and uses no limit) has none.
func (s *Store) pruneLocks(ctx context.Context) (bool, error) {
	at := ms(s.now())
	q := s.db.WithContext(ctx).Table(s.lockTable())
	var users []string
	if err := q.Where("expires_at <= ?", at).Limit(s.batch).Pluck("user_id", &users).Error; err != nil {
		if !s.db.Migrator().HasTable(s.lockTable()) {
			return false, nil
		}
		return false, sessionstore.Unavailable(err)
	}
	if len(users) == 0 {
		return false, nil
	}
	err := s.db.WithContext(ctx).Table(s.lockTable()).Where("user_id IN ? AND expires_at <= ?", users, at).Delete(&lockRow{}).Error
	if err != nil {
		return false, sessionstore.Unavailable(err)
	}
	return len(users) == s.batch, nil
}

func (s *Store) q(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Table(s.table)
}

// errExists is what Create answers for a key already in use.
var errExists = fmt.Errorf("%w: a session already exists under that key", sessionstore.ErrConflict)

func ms(t time.Time) int64 { return t.UnixMilli() }

// move rewrites the row of oldKey whole as row (under its new key), if it
// is still there, live at now and of oldUserID; the result says how many
// rows it moved.
func move(table *gorm.DB, oldKey sessionstore.Key, oldUserID string, now int64, row *gormRow) *gorm.DB {
	return table.Where("key_hash = ? AND user_id = ? AND expires_at > ?", oldKey.String(), oldUserID, now).
		Updates(map[string]any{
			"key_hash":      row.KeyHash,
			"user_id":       row.UserID,
			"rev":           row.Rev,
			"last_activity": row.LastActivity,
			"expires_at":    row.ExpiresAt,
			"data":          row.Data,
		})
}

func gormErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return sessionstore.ErrNotFound
	}
	return sessionstore.Unavailable(err)
}

// Load implements Store: one SELECT by primary key. Every request runs it,
// so it is a statement prepared once on GORM's connection pool rather than
// a query GORM builds each time (where the pool is not a *sql.DB, or the
// dialect's placeholders are not known, it goes through GORM).
func (s *Store) Load(ctx context.Context, key sessionstore.Key) (*sessionstore.Record, error) {
	s.loadOnce.Do(s.prepareLoad)
	if s.load != nil {
		var row gormRow
		err := s.load.QueryRowContext(ctx, key.String(), ms(s.now())).Scan(&row.Rev, &row.LastActivity, &row.ExpiresAt, &row.Data)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, sessionstore.ErrNotFound
		case err != nil:
			return nil, sessionstore.Unavailable(err)
		}
		return row.record()
	}
	var rows []gormRow
	err := s.q(ctx).Where("key_hash = ? AND expires_at > ?", key.String(), ms(s.now())).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, gormErr(err)
	}
	if len(rows) == 0 {
		return nil, sessionstore.ErrNotFound
	}
	return rows[0].record()
}

// prepareLoad prepares Load's SELECT, in the dialect's quoting and
// placeholders, when the pool and the dialect allow.
func (s *Store) prepareLoad() {
	var ph1, ph2 string
	switch s.db.Dialector.Name() {
	case "postgres":
		ph1, ph2 = "$1", "$2"
	case "mysql", "sqlite":
		ph1, ph2 = "?", "?"
	default:
		return
	}
	pool, err := s.db.DB()
	if err != nil {
		return
	}
	var q strings.Builder
	q.WriteString("SELECT rev, last_activity, expires_at, data FROM ")
	s.db.Dialector.QuoteTo(&q, s.table)
	q.WriteString(" WHERE key_hash = " + ph1 + " AND expires_at > " + ph2)
	if s.load, err = pool.Prepare(q.String()); err != nil {
		s.log.Warn("ginauth: preparing the session load failed; loading through GORM", "table", s.table, "err", err)
		s.load = nil
	}
}

func (row *gormRow) record() (*sessionstore.Record, error) {
	rec := &sessionstore.Record{}
	if err := sessionstore.UnmarshalBody(row.Data, rec); err != nil {
		return nil, err
	}
	rec.Rev = row.Rev
	rec.LastActivity = time.UnixMilli(row.LastActivity).UTC()
	rec.ExpiresAt = time.UnixMilli(row.ExpiresAt).UTC()
	return rec, nil
}

func newGORMRow(key sessionstore.Key, rec *sessionstore.Record) (*gormRow, error) {
	if len(rec.UserID) > MaxUserIDLen {
		return nil, fmt.Errorf("%w: user ID longer than %d bytes", sessionstore.ErrEncode, MaxUserIDLen)
	}
	data, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return nil, err
	}
	return &gormRow{
		KeyHash:      key.String(),
		UserID:       rec.UserID,
		Rev:          1,
		LastActivity: ms(rec.LastActivity),
		ExpiresAt:    ms(rec.ExpiresAt),
		Data:         string(data),
	}, nil
}

// Create implements Store: one INSERT.
func (s *Store) Create(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	return s.insert(s.q(ctx), key, rec)
}

func (s *Store) insert(tx *gorm.DB, key sessionstore.Key, rec *sessionstore.Record) error {
	row, err := newGORMRow(key, rec)
	if err != nil {
		return err
	}
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(row)
	if res.Error != nil {
		return gormErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return errExists
	}
	rec.Rev = row.Rev
	return nil
}

// notBefore is a portable GREATEST(column, value).
func notBefore(col string, v int64) clause.Expr {
	return gorm.Expr("CASE WHEN "+col+" < ? THEN ? ELSE "+col+" END", v, v)
}

// Update implements Store: one conditional UPDATE (and a SELECT to tell a
// conflict from a deleted row when it matches nothing).
func (s *Store) Update(ctx context.Context, key sessionstore.Key, rec *sessionstore.Record) error {
	data, err := sessionstore.MarshalBody(rec)
	if err != nil {
		return err
	}
	now := ms(s.now())
	res := again(ctx, func() *gorm.DB {
		return s.q(ctx).Where("key_hash = ? AND rev = ? AND user_id = ? AND expires_at > ?", key.String(), rec.Rev, rec.UserID, now).
			Updates(map[string]any{
				"data":          string(data),
				"rev":           gorm.Expr("rev + 1"),
				"last_activity": notBefore("last_activity", ms(rec.LastActivity)),
				"expires_at":    notBefore("expires_at", ms(rec.ExpiresAt)),
			})
	})
	if res.Error != nil {
		return gormErr(res.Error)
	}
	if res.RowsAffected == 1 {
		rec.Rev++
		return nil
	}
	var n int64
	if err := s.q(ctx).Where("key_hash = ? AND expires_at > ?", key.String(), now).Count(&n).Error; err != nil {
		return gormErr(err)
	}
	if n == 0 {
		return sessionstore.ErrNotFound
	}
	return sessionstore.ErrConflict
}

// Touch implements Store: one UPDATE of two columns (run again if the
// database aborts it as a deadlock's victim: it changes the expiry index
// that a DestroyUser may hold).
func (s *Store) Touch(ctx context.Context, key sessionstore.Key, lastActivity, expiresAt time.Time) error {
	err := again(ctx, func() *gorm.DB {
		return s.q(ctx).Where("key_hash = ? AND expires_at > ?", key.String(), ms(s.now())).
			Updates(map[string]any{
				"last_activity": notBefore("last_activity", ms(lastActivity)),
				"expires_at":    notBefore("expires_at", ms(expiresAt)),
			})
	}).Error
	return gormErr(err)
}

// Regenerate implements Store: one UPDATE that moves the old row to the new
// key, rewriting it whole, if it is still there, live and of oldUserID;
// when it matches nothing, the old session is gone and Regenerate answers
// ErrNotFound. A DELETE that ends the session (Destroy, DestroyID,
// DestroyUser) and the move lock the same row: whichever comes second
// finds the row moved (a DestroyUser waiting on it deletes it under its
// new key: the user is the same) or gone. One statement, no transaction;
// InnoDB may still abort it or the DELETE as a deadlock (they lock the row
// through different indexes), and the loser runs again.
func (s *Store) Regenerate(ctx context.Context, oldKey sessionstore.Key, oldUserID string, newKey sessionstore.Key, rec *sessionstore.Record) error {
	row, err := newGORMRow(newKey, rec)
	if err != nil {
		return err
	}
	res := again(ctx, func() *gorm.DB { return move(s.q(ctx), oldKey, oldUserID, ms(s.now()), row) })
	if res.Error != nil {
		return gormErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return sessionstore.ErrNotFound
	}
	rec.Rev = row.Rev
	return nil
}

// Destroy implements Store.
func (s *Store) Destroy(ctx context.Context, key sessionstore.Key) error {
	return gormErr(again(ctx, func() *gorm.DB {
		return s.q(ctx).Where("key_hash = ?", key.String()).Delete(&gormRow{})
	}).Error)
}

// List implements UserIndex: one SELECT on the user_id index.
func (s *Store) List(ctx context.Context, userID string) ([]sessionstore.Info, error) {
	if userID == "" {
		return nil, nil // anonymous sessions are not indexed
	}
	var rows []gormRow
	err := s.q(ctx).Where("user_id = ? AND expires_at > ?", userID, ms(s.now())).Find(&rows).Error
	if err != nil {
		return nil, gormErr(err)
	}
	out := make([]sessionstore.Info, 0, len(rows))
	for i := range rows {
		k, err := sessionstore.ParseKey(rows[i].KeyHash)
		if err != nil {
			continue
		}
		rec, err := rows[i].record()
		if err != nil {
			continue
		}
		out = append(out, rec.Info(k))
	}
	sessionstore.SortInfos(out)
	return out, nil
}

// DestroyID implements UserIndex: one DELETE.
func (s *Store) DestroyID(ctx context.Context, userID, handle string) error {
	if !sessionstore.ValidID(handle) || userID == "" {
		return sessionstore.ErrNotFound
	}
	res := again(ctx, func() *gorm.DB {
		return s.q(ctx).Where("user_id = ? AND key_hash LIKE ? AND expires_at > ?", userID, handle+"%", ms(s.now())).
			Delete(&gormRow{})
	})
	if res.Error != nil {
		return gormErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return sessionstore.ErrNotFound
	}
	return nil
}

// DestroyUser implements UserIndex: one DELETE (run again if the
// database aborts it as a deadlock's victim).
func (s *Store) DestroyUser(ctx context.Context, userID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	res := again(ctx, func() *gorm.DB {
		return s.q(ctx).Where("user_id = ? AND expires_at > ?", userID, ms(s.now())).Delete(&gormRow{})
	})
	if res.Error != nil {
		return 0, gormErr(res.Error)
	}
	return int(res.RowsAffected), nil
}
