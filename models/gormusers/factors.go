package gormusers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/models"
)

// totpRow is a row of the TOTP table, the users table's name with "_totp"
// appended ("users_totp" for models.User). Columns:
//
//	user_id     primary key: the user's AuthID; one enrolment per user
//	sealed      the secret as the auth package sealed it (at most 512 bytes)
//	confirmed   whether its owner confirmed it with a correct code
//	last_step   the last time step a code was accepted for (0: none)
//	created_at  Unix ms, when this enrolment was made
//	updated_at  Unix ms, when the row last changed
type totpRow struct {
	UserID    string `gorm:"column:user_id;primaryKey;size:191"`
	Sealed    []byte `gorm:"column:sealed;size:512;not null"`
	Confirmed bool   `gorm:"column:confirmed;not null"`
	LastStep  int64  `gorm:"column:last_step;not null"`
	CreatedAt int64  `gorm:"column:created_at;not null"`
	UpdatedAt int64  `gorm:"column:updated_at;not null"`
}

// recoveryRow is a row of the recovery code table, the users table's name
// with "_recovery_codes" appended. Columns:
//
//	user_id  the user's AuthID
//	hash     the SHA-256 of one unused code (32 bytes), never the code
//
// The primary key is (user_id, hash).
type recoveryRow struct {
	UserID string `gorm:"column:user_id;primaryKey;size:191"`
	Hash   []byte `gorm:"column:hash;primaryKey;size:32"`
}

// ErrFactorField is returned by the models.FactorStore methods for what the
// tables cannot keep as it is: no user ID or one longer than its column, or
// no sealed secret or one longer than its column; and by the
// models.PasskeyStore methods for a passkey's field (see AddPasskey), and
// by the models.IdentityStore methods for an identity's (see
// LinkIdentity).
var ErrFactorField = errors.New("gormusers: factor field empty or too long")

// maxSealed is the size of the sealed column.
const maxSealed = 512

func checkUserID(userID string) error {
	if userID == "" || len(userID) > maxUserID {
		return fmt.Errorf("%w: user ID of %d bytes (1 to %d)", ErrFactorField, len(userID), maxUserID)
	}
	return nil
}

func checkSealed(userID string, sealed []byte) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	if len(sealed) == 0 || len(sealed) > maxSealed {
		return fmt.Errorf("%w: sealed secret of %d bytes (1 to %d)", ErrFactorField, len(sealed), maxSealed)
	}
	return nil
}

// migrateFactors creates or updates the TOTP and recovery code tables; on
// MySQL and MariaDB their user_id columns compare exactly.
func (s *Store[T, P]) migrateFactors(totp, recovery string) error {
	if err := s.db.Table(totp).AutoMigrate(&totpRow{}); err != nil {
		return err
	}
	if err := s.db.Table(recovery).AutoMigrate(&recoveryRow{}); err != nil {
		return err
	}
	if err := exactColumns(s.db, totp, "user_id"); err != nil {
		return err
	}
	return exactColumns(s.db, recovery, "user_id")
}

// factorTables returns the names of the TOTP and recovery code tables.
func (s *Store[T, P]) factorTables() (totp, recovery string, err error) {
	f, err := s.fields()
	if err != nil {
		return "", "", err
	}
	return f.totp, f.recovery, nil
}

// TOTP implements models.FactorStore.
func (s *Store[T, P]) TOTP(ctx context.Context, userID string) (models.TOTP, error) {
	if err := checkUserID(userID); err != nil {
		return models.TOTP{}, err
	}
	table, _, err := s.factorTables()
	if err != nil {
		return models.TOTP{}, err
	}
	var rows []totpRow
	err = s.db.WithContext(ctx).Table(table).
		Where("? = ?", clause.Column{Name: "user_id"}, userID).Limit(1).Find(&rows).Error
	if err != nil {
		return models.TOTP{}, err
	}
	if len(rows) == 0 {
		return models.TOTP{}, models.ErrNoFactor
	}
	return models.TOTP{Sealed: rows[0].Sealed, Confirmed: rows[0].Confirmed, LastStep: rows[0].LastStep}, nil
}

// SetTOTP implements models.FactorStore with one statement: an INSERT
// that, when the user has a row, overwrites it only while it is
// unconfirmed. On PostgreSQL and SQLite that is INSERT ... ON CONFLICT
// (user_id) DO UPDATE ... WHERE confirmed = false, which updates no row
// when a confirmed one exists; MySQL has no WHERE there, so each
// assignment of its ON DUPLICATE KEY UPDATE keeps the old value when the
// row is confirmed, and updated_at always grows otherwise, so that the
// rows the statement counts tell the cases apart.
func (s *Store[T, P]) SetTOTP(ctx context.Context, userID string, sealed []byte) error {
	if err := checkSealed(userID, sealed); err != nil {
		return err
	}
	table, _, err := s.factorTables()
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	insert := "INSERT INTO ? (user_id, sealed, confirmed, last_step, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?) "
	vars := []any{clause.Table{Name: table}, userID, sealed, false, now, now}
	mysql := s.db.Dialector.Name() == "mysql"
	if mysql {
		insert += `ON DUPLICATE KEY UPDATE
			sealed = IF(confirmed, sealed, VALUES(sealed)),
			last_step = IF(confirmed, last_step, 0),
			created_at = IF(confirmed, created_at, VALUES(created_at)),
			updated_at = IF(confirmed, updated_at, GREATEST(VALUES(updated_at), updated_at + 1))`
	} else {
		insert += `ON CONFLICT (user_id) DO UPDATE SET
			sealed = excluded.sealed, last_step = 0,
			created_at = excluded.created_at, updated_at = excluded.updated_at
			WHERE ? = ?`
		vars = append(vars, clause.Column{Table: table, Name: "confirmed"}, false)
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.db.WithContext(ctx).Exec(insert, vars...)
	})
	switch {
	case err != nil:
		return err
	case n == 0:
		return models.ErrFactorExists
	case !mysql, n == 2:
		return nil // inserted, or an unconfirmed row replaced
	}
	// MySQL's 1 is an insert, or, on a connection with CLIENT_FOUND_ROWS
	// (clientFoundRows=true in the DSN), a confirmed row left as it was:
	// the row tells. (It could also be this insert confirmed since, but no
	// one confirms a secret before it is shown, after SetTOTP returns.)
	t, err := s.TOTP(ctx, userID)
	if err == nil && t.Confirmed {
		return models.ErrFactorExists
	}
	return nil // inserted (and perhaps deleted since)
}

// ConfirmTOTP implements models.FactorStore with one UPDATE of the row
// that is unconfirmed and has this sealed secret.
func (s *Store[T, P]) ConfirmTOTP(ctx context.Context, userID string, sealed []byte, step int64) error {
	if err := checkSealed(userID, sealed); err != nil {
		return err
	}
	table, _, err := s.factorTables()
	if err != nil {
		return err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.db.WithContext(ctx).Table(table).
			Where("? = ? AND ? = ? AND ? = ?",
				clause.Column{Name: "user_id"}, userID,
				clause.Column{Name: "confirmed"}, false,
				clause.Column{Name: "sealed"}, sealed).
			Updates(map[string]any{"confirmed": true, "last_step": step, "updated_at": time.Now().UnixMilli()})
	})
	if err != nil {
		return err
	}
	if n == 0 { // confirmed changes from false: MySQL counts the row too
		return models.ErrNoFactor
	}
	return nil
}

// UseTOTPStep implements models.FactorStore with one UPDATE of the
// confirmed row whose last step is earlier than step: the database lets
// one of concurrent updates match, and the others, which read the row it
// wrote, match none.
func (s *Store[T, P]) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	if err := checkUserID(userID); err != nil {
		return false, err
	}
	table, _, err := s.factorTables()
	if err != nil {
		return false, err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.db.WithContext(ctx).Table(table).
			Where("? = ? AND ? = ? AND ? < ?",
				clause.Column{Name: "user_id"}, userID,
				clause.Column{Name: "confirmed"}, true,
				clause.Column{Name: "last_step"}, step).
			Updates(map[string]any{"last_step": step, "updated_at": time.Now().UnixMilli()})
	})
	if err != nil {
		return false, err
	}
	if n > 0 { // last_step grows: MySQL counts the row too
		return true, nil
	}
	t, err := s.TOTP(ctx, userID)
	if err == nil && !t.Confirmed {
		err = models.ErrNoFactor
	}
	return false, err
}

// DeleteTOTP implements models.FactorStore.
func (s *Store[T, P]) DeleteTOTP(ctx context.Context, userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	table, _, err := s.factorTables()
	if err != nil {
		return err
	}
	return retryDeadlocks(ctx, func() error {
		return s.db.WithContext(ctx).Table(table).
			Where("? = ?", clause.Column{Name: "user_id"}, userID).Delete(&totpRow{}).Error
	})
}

// SetRecoveryCodes implements models.FactorStore: one transaction deletes
// the user's codes and inserts the new ones (a hash given twice is kept
// once). Of concurrent calls for one user, one set is left, never the
// union of several: on PostgreSQL the transaction first takes an advisory
// lock on the user's codes (pg_advisory_xact_lock), so that each DELETE
// sees the rows the transaction before it inserted; MySQL's runs at the
// serializable isolation level, whose DELETE locks the user's range of
// the primary key, and runs again when InnoDB rolled it back to break a
// deadlock; SQLite's transactions are serializable already.
func (s *Store[T, P]) SetRecoveryCodes(ctx context.Context, userID string, hashes [][32]byte) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	_, table, err := s.factorTables()
	if err != nil {
		return err
	}
	rows := make([]recoveryRow, 0, len(hashes))
	seen := make(map[[32]byte]bool, len(hashes))
	for _, h := range hashes {
		if !seen[h] {
			seen[h] = true
			rows = append(rows, recoveryRow{UserID: userID, Hash: append([]byte(nil), h[:]...)})
		}
	}
	var opts []*sql.TxOptions
	dialect := s.db.Dialector.Name()
	if dialect == "mysql" {
		opts = append(opts, &sql.TxOptions{Isolation: sql.LevelSerializable})
	}
	return retryDeadlocksN(ctx, txRetries, func() error {
		return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if dialect == "postgres" {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", advisoryKey(table, userID)).Error; err != nil {
					return err
				}
			}
			err := tx.Table(table).Where("? = ?", clause.Column{Name: "user_id"}, userID).Delete(&recoveryRow{}).Error
			if err != nil || len(rows) == 0 {
				return err
			}
			return tx.Table(table).Create(&rows).Error
		}, opts...)
	})
}

// txRetries is how many times a transaction that lost a deadlock runs
// again: more than a single statement, as concurrent replacements of one
// user's recovery codes on MySQL deadlock more often.
const txRetries = 10

// advisoryKey returns the key of PostgreSQL's advisory lock on the user's
// rows of table: 64 bits of FNV-1a of both, which a lock of another
// purpose is unlikely to share (and sharing one only makes it wait).
func advisoryKey(table, userID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("ginauth\x00" + table + "\x00" + userID))
	return int64(h.Sum64())
}

// UseRecoveryCode implements models.FactorStore with one DELETE: only the
// caller whose DELETE removed the row, on any instance, gets true.
func (s *Store[T, P]) UseRecoveryCode(ctx context.Context, userID string, hash [32]byte) (bool, error) {
	if err := checkUserID(userID); err != nil {
		return false, err
	}
	_, table, err := s.factorTables()
	if err != nil {
		return false, err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.db.WithContext(ctx).Table(table).
			Where("? = ? AND ? = ?", clause.Column{Name: "user_id"}, userID, clause.Column{Name: "hash"}, hash[:]).
			Delete(&recoveryRow{})
	})
	return n == 1 && err == nil, err
}

// RecoveryCodesLeft implements models.FactorStore.
func (s *Store[T, P]) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	if err := checkUserID(userID); err != nil {
		return 0, err
	}
	_, table, err := s.factorTables()
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.db.WithContext(ctx).Table(table).Where("? = ?", clause.Column{Name: "user_id"}, userID).Count(&n).Error
	return int(n), err
}

var _ models.FactorStore = (*Store[models.User, *models.User])(nil)
