package gormusers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/internal/sqltable"
	"github.com/ginauth/ginauth/models"
)

// tokenRow is a row of the token table, the users table's name with
// "_tokens" appended ("users_tokens" for models.User): the user IDs it
// holds are that table's. Columns:
//
//	hash        primary key: the SHA-256 of the token (32 bytes), never the token
//	purpose     what the token is for, such as "password_reset"
//	user_id     the user's AuthID; unique with purpose: one token per user and purpose
//	email       the address the token confirms, or ""
//	credential  the fingerprint of the user's password hash when it was made
//	session     the public ID of the session the token ends, or ""
//	expires_at  Unix ms
//	created_at  Unix ms
//
// Times are integers so that every dialect stores and compares them alike.
type tokenRow struct {
	Hash       []byte `gorm:"column:hash;primaryKey;size:32"`
	Purpose    string `gorm:"column:purpose;size:64;not null"`
	UserID     string `gorm:"column:user_id;size:191;not null"`
	Email      string `gorm:"column:email;size:254;not null"`
	Credential string `gorm:"column:credential;size:128;not null"`
	Session    string `gorm:"column:session;size:128;not null;default:''"`
	ExpiresAt  int64  `gorm:"column:expires_at;not null"`
	CreatedAt  int64  `gorm:"column:created_at;not null"`
}

// ErrTokenField is returned by IssueToken for a token that the table
// cannot keep as it is: no purpose, user or expiry, or a field longer than
// its column.
var ErrTokenField = errors.New("gormusers: token field empty or too long")

// Column sizes of tokenRow.
const (
	maxPurpose    = 64
	maxUserID     = 191
	maxEmail      = 254
	maxCredential = 128
	maxSession    = 128
)

func checkToken(t models.Token) error {
	switch {
	case t.Purpose == "" || len(t.Purpose) > maxPurpose:
		return fmt.Errorf("%w: purpose of %d bytes (1 to %d)", ErrTokenField, len(t.Purpose), maxPurpose)
	case t.UserID == "" || len(t.UserID) > maxUserID:
		return fmt.Errorf("%w: user ID of %d bytes (1 to %d)", ErrTokenField, len(t.UserID), maxUserID)
	case len(t.Email) > maxEmail:
		return fmt.Errorf("%w: email of %d bytes (at most %d)", ErrTokenField, len(t.Email), maxEmail)
	case len(t.Credential) > maxCredential:
		return fmt.Errorf("%w: credential of %d bytes (at most %d)", ErrTokenField, len(t.Credential), maxCredential)
	case len(t.Session) > maxSession:
		return fmt.Errorf("%w: session of %d bytes (at most %d)", ErrTokenField, len(t.Session), maxSession)
	case t.ExpiresAt.IsZero():
		return fmt.Errorf("%w: no expiry", ErrTokenField)
	}
	return nil
}

// migrateTokens creates or updates the token table and its unique index on
// (user_id, purpose); on MySQL and MariaDB the two columns compare exactly.
func (s *Store[T, P]) migrateTokens(table string) error {
	if err := s.db.Table(table).AutoMigrate(&tokenRow{}); err != nil {
		return err
	}
	if err := exactColumns(s.db, table, "purpose", "user_id"); err != nil {
		return err
	}
	return sqltable.CreateUniqueIndex(s.db, table, "user_id", "purpose")
}

// tokens returns a query on the token table.
func (s *Store[T, P]) tokens(ctx context.Context) (*gorm.DB, error) {
	f, err := s.fields()
	if err != nil {
		return nil, err
	}
	return s.db.WithContext(ctx).Table(f.tokens), nil
}

// IssueToken implements models.TokenStore: one INSERT that, when the user
// has a token of the purpose already, overwrites it (INSERT ... ON
// CONFLICT (user_id, purpose) DO UPDATE, or ON DUPLICATE KEY UPDATE on
// MySQL), so that a user has one token per purpose even when requests
// race. Expiry is kept to the millisecond.
func (s *Store[T, P]) IssueToken(ctx context.Context, t models.Token) error {
	if err := checkToken(t); err != nil {
		return err
	}
	q, err := s.tokens(ctx)
	if err != nil {
		return err
	}
	row := tokenRow{
		Hash:       append([]byte(nil), t.Hash[:]...),
		Purpose:    t.Purpose,
		UserID:     t.UserID,
		Email:      t.Email,
		Credential: t.Credential,
		Session:    t.Session,
		ExpiresAt:  t.ExpiresAt.UnixMilli(),
		CreatedAt:  time.Now().UnixMilli(),
	}
	upsert := q.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "purpose"}},
		DoUpdates: clause.AssignmentColumns([]string{"hash", "email", "credential", "session", "expires_at", "created_at"}),
	})
	return retryDeadlocks(ctx, func() error { return upsert.Session(&gorm.Session{}).Create(&row).Error })
}

// deadlockRetries is how many times a statement that lost a deadlock runs
// again.
const deadlockRetries = 4

// retryDeadlocks runs write, a single statement, again when the database
// chose it as a deadlock's victim and rolled it back: InnoDB does so when
// concurrent upserts of one user's token lock the two unique indexes in
// opposite orders, and tells the client to try again.
// affected runs stmt, one INSERT, UPDATE or DELETE, again after a
// deadlock (as retryDeadlocks), and returns how many rows it counted.
func affected(ctx context.Context, stmt func() *gorm.DB) (int64, error) {
	var n int64
	err := retryDeadlocks(ctx, func() error {
		res := stmt()
		n = res.RowsAffected
		return res.Error
	})
	return n, err
}

func retryDeadlocks(ctx context.Context, write func() error) error {
	return retryDeadlocksN(ctx, deadlockRetries, write)
}

// retryDeadlocksN is retryDeadlocks with up to retries runs again.
func retryDeadlocksN(ctx context.Context, retries int, write func() error) error {
	for i := 0; ; i++ {
		err := write()
		if err == nil || i == retries || !deadlocked(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 5 * time.Millisecond):
		}
	}
}

// deadlocked reports whether err says the statement was rolled back to
// break a deadlock (or, on PostgreSQL, a serialization failure): running
// it again is safe. PostgreSQL's driver gives the SQLSTATE; MySQL's gives
// the error number in its message ("Error 1213 (40001): Deadlock found
// ..."), which this package reads rather than import the driver.
func deadlocked(err error) bool {
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		return coded.SQLState() == "40P01" || coded.SQLState() == "40001"
	}
	return strings.HasPrefix(err.Error(), "Error 1213 ")
}

// ConsumeToken implements models.TokenStore with two statements that every
// dialect runs alike: a SELECT of the row by hash and purpose, then a
// DELETE of it. Only the caller whose DELETE removed the row gets the
// token; the others, on this process or another, get ErrTokenNotFound.
func (s *Store[T, P]) ConsumeToken(ctx context.Context, hash [32]byte, purpose string) (models.Token, error) {
	q, err := s.tokens(ctx)
	if err != nil {
		return models.Token{}, err
	}
	match := []any{clause.Column{Name: "hash"}, hash[:], clause.Column{Name: "purpose"}, purpose}
	var rows []tokenRow
	if err := q.Where("? = ? AND ? = ?", match...).Limit(1).Find(&rows).Error; err != nil {
		return models.Token{}, err
	}
	if len(rows) == 0 {
		return models.Token{}, models.ErrTokenNotFound
	}
	var deleted int64
	err = retryDeadlocks(ctx, func() error {
		q, _ := s.tokens(ctx)
		res := q.Where("? = ? AND ? = ?", match...).Delete(&tokenRow{})
		deleted = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return models.Token{}, err
	}
	if deleted != 1 {
		return models.Token{}, models.ErrTokenNotFound // another caller won
	}
	r := rows[0]
	return models.Token{
		Hash:       hash,
		Purpose:    r.Purpose,
		UserID:     r.UserID,
		Email:      r.Email,
		Credential: r.Credential,
		Session:    r.Session,
		ExpiresAt:  time.UnixMilli(r.ExpiresAt),
	}, nil
}

// DeleteTokens implements models.TokenStore.
func (s *Store[T, P]) DeleteTokens(ctx context.Context, userID, purpose string) error {
	q, err := s.tokens(ctx)
	if err != nil {
		return err
	}
	q = q.Where("? = ?", clause.Column{Name: "user_id"}, userID)
	if purpose != "" {
		q = q.Where("? = ?", clause.Column{Name: "purpose"}, purpose)
	}
	return q.Delete(&tokenRow{}).Error
}

var _ models.TokenStore = (*Store[models.User, *models.User])(nil)
