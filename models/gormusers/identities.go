package gormusers

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/internal/sqltable"
	"github.com/ginauth/ginauth/models"
)

// identityRow is a row of the identity table, the users table's name with
// "_identities" appended ("users_identities" for models.User). Columns:
//
//	key_hash      primary key: the SHA-256 of provider, a NUL and subject
//	provider      the provider's name in the application (1 to 64 bytes)
//	subject       the provider's ID of the user (1 to 255 bytes)
//	user_id       the user's AuthID; indexed
//	email         the address the provider gave last (at most 254 bytes)
//	created_at    Unix ms, when it was linked
//	last_used_at  Unix ms, its last sign-in (0: none yet)
//
// The key is a hash of (provider, subject) rather than the two columns, so
// that it compares byte for byte on every dialect, whatever the columns'
// collation: under MySQL's default collations "ABC" and "abc", or "abc"
// and "abc ", would be one key, where a provider's subjects are
// case-sensitive; and a key of 32 bytes fits every InnoDB row format,
// which (64 + 255) characters of utf8mb4 would not. A provider holds no
// NUL, so the hashed string names one (provider, subject) only.
type identityRow struct {
	KeyHash    []byte `gorm:"column:key_hash;primaryKey;size:32"`
	Provider   string `gorm:"column:provider;size:64;not null"`
	Subject    string `gorm:"column:subject;size:255;not null"`
	UserID     string `gorm:"column:user_id;size:191;not null"`
	Email      string `gorm:"column:email;size:254;not null"`
	CreatedAt  int64  `gorm:"column:created_at;not null"`
	LastUsedAt int64  `gorm:"column:last_used_at;not null"`
}

// Column sizes of identityRow. 254 bytes is the longest address a mail
// path lets through (RFC 5321).
const (
	maxProvider      = 64
	maxSubject       = 255
	maxIdentityEmail = 254
)

// migrateIdentities creates or updates the identity table and its index on
// user_id; on MySQL and MariaDB user_id, provider and subject compare
// exactly.
func (s *Store[T, P]) migrateIdentities(table string) error {
	if err := s.db.Table(table).AutoMigrate(&identityRow{}); err != nil {
		return err
	}
	if err := exactColumns(s.db, table, "user_id", "provider", "subject"); err != nil {
		return err
	}
	return sqltable.CreateIndex(s.db, table, "user_id")
}

// identityTable returns the name of the identity table.
func (s *Store[T, P]) identityTable() (string, error) {
	f, err := s.fields()
	if err != nil {
		return "", err
	}
	return f.identities, nil
}

// identityKey refuses a provider or subject the table cannot keep, and
// returns the hash that keys them.
func identityKey(provider, subject string) ([]byte, error) {
	switch {
	case provider == "":
		return nil, fmt.Errorf("%w: no provider", ErrFactorField)
	case subject == "":
		return nil, fmt.Errorf("%w: no subject", ErrFactorField)
	}
	if err := checkText("provider", provider, maxProvider); err != nil {
		return nil, err
	}
	if err := checkText("subject", subject, maxSubject); err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(provider + "\x00" + subject))
	return h[:], nil
}

// identityRowOf checks id and returns its row.
func identityRowOf(id models.Identity) (identityRow, error) {
	h, err := identityKey(id.Provider, id.Subject)
	if err != nil {
		return identityRow{}, err
	}
	if err := checkUserID(id.UserID); err != nil {
		return identityRow{}, err
	}
	if err := checkText("email", id.Email, maxIdentityEmail); err != nil {
		return identityRow{}, err
	}
	created := id.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	return identityRow{
		KeyHash:    h,
		Provider:   id.Provider,
		Subject:    id.Subject,
		UserID:     id.UserID,
		Email:      id.Email,
		CreatedAt:  created.UnixMilli(),
		LastUsedAt: unixMilli(id.LastUsedAt),
	}, nil
}

func (r identityRow) identity() models.Identity {
	id := models.Identity{
		Provider:  r.Provider,
		Subject:   r.Subject,
		UserID:    r.UserID,
		Email:     r.Email,
		CreatedAt: time.UnixMilli(r.CreatedAt),
	}
	if r.LastUsedAt != 0 {
		id.LastUsedAt = time.UnixMilli(r.LastUsedAt)
	}
	return id
}

// LinkIdentity implements models.IdentityStore with one INSERT: the
// primary key refuses a second row for one (provider, subject), whichever
// user links it, so that of concurrent links of one identity, on any
// instance, one succeeds and the others get models.ErrIdentityExists.
// Provider and subject compare byte for byte: "ABC" and "abc" are two
// identities. A zero CreatedAt is the time of the call.
//
// ErrFactorField is for a field the table cannot keep as it is: no
// provider or one of more than 64 bytes, no subject or one of more than
// 255, no user ID or one of more than 191, an email of more than 254
// bytes, and text that is not UTF-8 or holds a NUL. Nothing is trimmed or
// folded: that is the caller's.
func (s *Store[T, P]) LinkIdentity(ctx context.Context, id models.Identity) error {
	row, err := identityRowOf(id)
	if err != nil {
		return err
	}
	table, err := s.identityTable()
	if err != nil {
		return err
	}
	return s.insertOnce(ctx, table, &row, models.ErrIdentityExists)
}

// identity returns the row of (provider, subject), which hash to h, or
// models.ErrNoFactor.
func (s *Store[T, P]) identity(ctx context.Context, table, provider, subject string, h []byte) (identityRow, error) {
	var rows []identityRow
	err := s.db.WithContext(ctx).Table(table).
		Where("? = ?", clause.Column{Name: "key_hash"}, h).Limit(1).Find(&rows).Error
	if err != nil {
		return identityRow{}, err
	}
	if len(rows) == 0 || rows[0].Provider != provider || rows[0].Subject != subject {
		return identityRow{}, models.ErrNoFactor
	}
	return rows[0], nil
}

// Identity implements models.IdentityStore.
func (s *Store[T, P]) Identity(ctx context.Context, provider, subject string) (models.Identity, error) {
	h, err := identityKey(provider, subject)
	if err != nil {
		return models.Identity{}, err
	}
	table, err := s.identityTable()
	if err != nil {
		return models.Identity{}, err
	}
	row, err := s.identity(ctx, table, provider, subject, h)
	if err != nil {
		return models.Identity{}, err
	}
	return row.identity(), nil
}

// Identities implements models.IdentityStore: the user's identities by
// link time, those linked in the same millisecond by provider then
// subject, compared byte for byte whatever the database's collation; an
// empty slice for none.
func (s *Store[T, P]) Identities(ctx context.Context, userID string) ([]models.Identity, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	table, err := s.identityTable()
	if err != nil {
		return nil, err
	}
	var rows []identityRow
	err = s.db.WithContext(ctx).Table(table).
		Where("? = ?", clause.Column{Name: "user_id"}, userID).
		Find(&rows).Error
	if err != nil {
		return nil, err
	}
	// Sorted here rather than by ORDER BY: PostgreSQL orders text by the
	// database's locale, which need not be byte order.
	slices.SortFunc(rows, func(a, b identityRow) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt),
			strings.Compare(a.Provider, b.Provider), strings.Compare(a.Subject, b.Subject))
	})
	ids := make([]models.Identity, len(rows))
	for i, r := range rows {
		ids[i] = r.identity()
	}
	return ids, nil
}

// UseIdentity implements models.IdentityStore with one UPDATE of the row.
// The email is kept as given, at most 254 bytes of UTF-8, "" included; a
// zero at is ErrFactorField.
func (s *Store[T, P]) UseIdentity(ctx context.Context, provider, subject, email string, at time.Time) error {
	h, err := identityKey(provider, subject)
	if err != nil {
		return err
	}
	if err := checkText("email", email, maxIdentityEmail); err != nil {
		return err
	}
	if at.IsZero() {
		return fmt.Errorf("%w: no time of use", ErrFactorField)
	}
	table, err := s.identityTable()
	if err != nil {
		return err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.db.WithContext(ctx).Table(table).
			Where("? = ? AND ? = ? AND ? = ?",
				clause.Column{Name: "key_hash"}, h,
				clause.Column{Name: "provider"}, provider,
				clause.Column{Name: "subject"}, subject).
			Updates(map[string]any{"email": email, "last_used_at": at.UnixMilli()})
	})
	if err != nil || n > 0 {
		return err
	}
	// No row counted: the identity is gone, or (MySQL counts changed rows
	// only) the update matched a row that had these values already.
	_, err = s.identity(ctx, table, provider, subject, h)
	return err
}

// UnlinkIdentity implements models.IdentityStore with one DELETE of the
// row with this provider, subject and user, so that another user's
// identity is never unlinked: of concurrent unlinks, one succeeds and the
// others get models.ErrNoFactor.
func (s *Store[T, P]) UnlinkIdentity(ctx context.Context, userID, provider, subject string) error {
	h, err := identityKey(provider, subject)
	if err != nil {
		return err
	}
	if err := checkUserID(userID); err != nil {
		return err
	}
	table, err := s.identityTable()
	if err != nil {
		return err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.db.WithContext(ctx).Table(table).
			Where("? = ? AND ? = ? AND ? = ? AND ? = ?",
				clause.Column{Name: "key_hash"}, h,
				clause.Column{Name: "provider"}, provider,
				clause.Column{Name: "subject"}, subject,
				clause.Column{Name: "user_id"}, userID).
			Delete(&identityRow{})
	})
	if err == nil && n == 0 {
		err = models.ErrNoFactor
	}
	return err
}

var _ models.IdentityStore = (*Store[models.User, *models.User])(nil)
