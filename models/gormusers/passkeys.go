package gormusers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/ginauth/ginauth/internal/sqltable"
	"github.com/ginauth/ginauth/models"
)

// passkeyRow is a row of the passkey table, the users table's name with
// "_passkeys" appended ("users_passkeys" for models.User). Columns:
//
//	id_hash          primary key: the SHA-256 of the credential ID (32 bytes)
//	credential_id    the credential ID itself (1 to 1023 bytes)
//	user_id          the user's AuthID; indexed
//	name             the user's label for it (at most 64 characters, may be empty)
//	public_key       its COSE public key (1 to 4096 bytes)
//	attestation_type the registration's attestation format (at most 64 bytes)
//	aaguid           the authenticator's AAGUID (at most 16 bytes)
//	transports       its transport hints, joined by commas (at most 255 bytes)
//	sign_count       its signature counter at its last use (0 to 2^32-1)
//	backup_eligible  whether it may be synced, as registered
//	backed_up        whether it was synced, at its last use
//	created_at       Unix ms, when it was registered
//	last_used_at     Unix ms, its last sign-in (0: none yet)
//
// The key is the ID's hash rather than the ID: a credential ID may be
// longer than MySQL lets an index key be, and a hash of fixed size keys
// every dialect alike.
type passkeyRow struct {
	IDHash          []byte `gorm:"column:id_hash;primaryKey;size:32"`
	CredentialID    []byte `gorm:"column:credential_id;size:1023;not null"`
	UserID          string `gorm:"column:user_id;size:191;not null"`
	Name            string `gorm:"column:name;size:64;not null"`
	PublicKey       []byte `gorm:"column:public_key;size:4096;not null"`
	AttestationType string `gorm:"column:attestation_type;size:64;not null"`
	AAGUID          []byte `gorm:"column:aaguid;size:16;not null"`
	Transports      string `gorm:"column:transports;size:255;not null"`
	SignCount       int64  `gorm:"column:sign_count;not null"`
	BackupEligible  bool   `gorm:"column:backup_eligible;not null"`
	BackedUp        bool   `gorm:"column:backed_up;not null"`
	CreatedAt       int64  `gorm:"column:created_at;not null"`
	LastUsedAt      int64  `gorm:"column:last_used_at;not null"`
}

// Column sizes of passkeyRow. A COSE public key is about 80 bytes for
// P-256 and 530 for RSA-4096; 4096 leaves room for post-quantum keys
// (ML-DSA-87's is 2592 bytes).
const (
	maxCredentialID    = 1023 // the WebAuthn limit
	maxPasskeyName     = 64   // characters: the column is varchar(64), and names are people's text
	maxPublicKey       = 4096
	maxAttestationType = 64
	maxAAGUID          = 16
	maxTransports      = 255
)

// migratePasskeys creates or updates the passkey table and its index on
// user_id; on MySQL and MariaDB user_id compares exactly.
func (s *Store[T, P]) migratePasskeys(table string) error {
	if err := s.db.Table(table).AutoMigrate(&passkeyRow{}); err != nil {
		return err
	}
	if err := exactColumns(s.db, table, "user_id"); err != nil {
		return err
	}
	return sqltable.CreateIndex(s.db, table, "user_id")
}

// passkeyTable returns the name of the passkey table.
func (s *Store[T, P]) passkeyTable() (string, error) {
	f, err := s.fields()
	if err != nil {
		return "", err
	}
	return f.passkeys, nil
}

// checkPasskeyID refuses an ID the table cannot keep, and returns its hash.
func checkPasskeyID(id []byte) ([]byte, error) {
	if len(id) == 0 || len(id) > maxCredentialID {
		return nil, fmt.Errorf("%w: credential ID of %d bytes (1 to %d)", ErrFactorField, len(id), maxCredentialID)
	}
	h := sha256.Sum256(id)
	return h[:], nil
}

// checkText refuses a string longer than max bytes, or one that a text
// column of PostgreSQL (no NUL) or MySQL (valid UTF-8) would not keep.
func checkText(what, v string, max int) error {
	switch {
	case len(v) > max:
		return fmt.Errorf("%w: %s of %d bytes (at most %d)", ErrFactorField, what, len(v), max)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return fmt.Errorf("%w: %s is not UTF-8 text without NUL", ErrFactorField, what)
	}
	return nil
}

// checkName refuses a passkey's name the column cannot keep: a varchar(64)
// holds 64 characters, whatever their bytes, on PostgreSQL and MySQL.
func checkName(name string) error {
	if err := checkText("name", name, 4*maxPasskeyName); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(name); n > maxPasskeyName {
		return fmt.Errorf("%w: name of %d characters (at most %d)", ErrFactorField, n, maxPasskeyName)
	}
	return nil
}

// passkeyRowOf checks p and returns its row.
func passkeyRowOf(p models.Passkey) (passkeyRow, error) {
	h, err := checkPasskeyID(p.ID)
	if err != nil {
		return passkeyRow{}, err
	}
	if err := checkUserID(p.UserID); err != nil {
		return passkeyRow{}, err
	}
	if err := checkName(p.Name); err != nil {
		return passkeyRow{}, err
	}
	if err := checkText("attestation type", p.AttestationType, maxAttestationType); err != nil {
		return passkeyRow{}, err
	}
	for _, tr := range p.Transports {
		if tr == "" || strings.Contains(tr, ",") {
			return passkeyRow{}, fmt.Errorf("%w: transport %q (not empty, no comma)", ErrFactorField, tr)
		}
	}
	transports := strings.Join(p.Transports, ",")
	if err := checkText("transports", transports, maxTransports); err != nil {
		return passkeyRow{}, err
	}
	switch {
	case len(p.PublicKey) == 0 || len(p.PublicKey) > maxPublicKey:
		return passkeyRow{}, fmt.Errorf("%w: public key of %d bytes (1 to %d)", ErrFactorField, len(p.PublicKey), maxPublicKey)
	case len(p.AAGUID) > maxAAGUID:
		return passkeyRow{}, fmt.Errorf("%w: AAGUID of %d bytes (at most %d)", ErrFactorField, len(p.AAGUID), maxAAGUID)
	}
	created := p.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	return passkeyRow{
		IDHash:          h,
		CredentialID:    bytes.Clone(p.ID),
		UserID:          p.UserID,
		Name:            p.Name,
		PublicKey:       bytes.Clone(p.PublicKey),
		AttestationType: p.AttestationType,
		AAGUID:          append([]byte{}, p.AAGUID...), // not NULL
		Transports:      transports,
		SignCount:       int64(p.SignCount),
		BackupEligible:  p.BackupEligible,
		BackedUp:        p.BackedUp,
		CreatedAt:       created.UnixMilli(),
		LastUsedAt:      unixMilli(p.LastUsedAt),
	}, nil
}

// unixMilli is t in Unix ms, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (r passkeyRow) passkey() models.Passkey {
	p := models.Passkey{
		ID:              r.CredentialID,
		UserID:          r.UserID,
		Name:            r.Name,
		PublicKey:       r.PublicKey,
		AttestationType: r.AttestationType,
		AAGUID:          r.AAGUID,
		SignCount:       uint32(r.SignCount),
		BackupEligible:  r.BackupEligible,
		BackedUp:        r.BackedUp,
		CreatedAt:       time.UnixMilli(r.CreatedAt),
	}
	if r.Transports != "" {
		p.Transports = strings.Split(r.Transports, ",")
	}
	if r.LastUsedAt != 0 {
		p.LastUsedAt = time.UnixMilli(r.LastUsedAt)
	}
	return p
}

// AddPasskey implements models.PasskeyStore with one INSERT: the primary
// key refuses a second row for one credential ID, whichever user adds it,
// so that of concurrent adds of one ID, on any instance, one succeeds and
// the others get models.ErrFactorExists. A zero CreatedAt is the time of
// the call.
//
// ErrFactorField is for a field the table cannot keep as it is: a
// credential ID of 0 or more than 1023 bytes, no user ID or one of more
// than 191, a public key of 0 or more than 4096 bytes, an AAGUID of more
// than 16, a name of more than 64 characters or an attestation type of
// more than 64 bytes, transports
// of more than 255 bytes joined by commas (or one empty or with a comma),
// and text that is not UTF-8 or holds a NUL. The name is kept as given, ""
// included: trimming it, or naming an unnamed passkey, is the caller's.
func (s *Store[T, P]) AddPasskey(ctx context.Context, p models.Passkey) error {
	row, err := passkeyRowOf(p)
	if err != nil {
		return err
	}
	table, err := s.passkeyTable()
	if err != nil {
		return err
	}
	return s.insertOnce(ctx, table, &row, models.ErrFactorExists)
}

// insertOnce inserts row into table, running it again after a deadlock;
// the database's refusal of a key another row has answers exists.
func (s *Store[T, P]) insertOnce(ctx context.Context, table string, row any, exists error) error {
	err := retryDeadlocks(ctx, func() error {
		return s.db.WithContext(ctx).Table(table).Create(row).Error
	})
	if err != nil && s.duplicate(err) {
		return exists
	}
	return err
}

// duplicate reports whether err is the database refusing a row whose
// unique key another row has.
func (s *Store[T, P]) duplicate(err error) bool {
	if t, ok := s.db.Dialector.(gorm.ErrorTranslator); ok {
		err = t.Translate(err)
	}
	return errors.Is(err, gorm.ErrDuplicatedKey)
}

// passkey returns the row of the credential ID id, which hashes to h, or
// models.ErrNoFactor.
func (s *Store[T, P]) passkey(ctx context.Context, table string, id, h []byte) (passkeyRow, error) {
	var rows []passkeyRow
	err := s.db.WithContext(ctx).Table(table).
		Where("? = ?", clause.Column{Name: "id_hash"}, h).Limit(1).Find(&rows).Error
	if err != nil {
		return passkeyRow{}, err
	}
	if len(rows) == 0 || !bytes.Equal(rows[0].CredentialID, id) {
		return passkeyRow{}, models.ErrNoFactor
	}
	return rows[0], nil
}

// Passkey implements models.PasskeyStore.
func (s *Store[T, P]) Passkey(ctx context.Context, id []byte) (models.Passkey, error) {
	h, err := checkPasskeyID(id)
	if err != nil {
		return models.Passkey{}, err
	}
	table, err := s.passkeyTable()
	if err != nil {
		return models.Passkey{}, err
	}
	row, err := s.passkey(ctx, table, id, h)
	if err != nil {
		return models.Passkey{}, err
	}
	return row.passkey(), nil
}

// Passkeys implements models.PasskeyStore: the user's passkeys by
// registration time, those registered in the same millisecond by
// credential ID; an empty slice for none.
func (s *Store[T, P]) Passkeys(ctx context.Context, userID string) ([]models.Passkey, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	table, err := s.passkeyTable()
	if err != nil {
		return nil, err
	}
	var rows []passkeyRow
	err = s.db.WithContext(ctx).Table(table).
		Where("? = ?", clause.Column{Name: "user_id"}, userID).
		Order(clause.OrderBy{Columns: []clause.OrderByColumn{
			{Column: clause.Column{Name: "created_at"}},
			{Column: clause.Column{Name: "credential_id"}},
		}}).
		Find(&rows).Error
	if err != nil {
		return nil, err
	}
	keys := make([]models.Passkey, len(rows))
	for i, r := range rows {
		keys[i] = r.passkey()
	}
	return keys, nil
}

// UsePasskey implements models.PasskeyStore with one UPDATE of the row
// whose counter is still was: the database lets one of concurrent updates
// match, and the others, which read the row it wrote, match none. That
// makes one caller the winner when the counter moves (now differs from
// was); an authenticator that keeps no counter reports 0 every time, so
// every call with was and now both 0 matches, and gets true: there is no
// counter to tell its sign-ins apart (the single-use challenge of each is
// what refuses a replay). Checking that now is later than was is the
// caller's. A zero at is ErrFactorField.
func (s *Store[T, P]) UsePasskey(ctx context.Context, id []byte, was, now uint32, backedUp bool, at time.Time) (bool, error) {
	h, err := checkPasskeyID(id)
	if err != nil {
		return false, err
	}
	if at.IsZero() {
		return false, fmt.Errorf("%w: no time of use", ErrFactorField)
	}
	table, err := s.passkeyTable()
	if err != nil {
		return false, err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.db.WithContext(ctx).Table(table).
			Where("? = ? AND ? = ? AND ? = ?",
				clause.Column{Name: "id_hash"}, h,
				clause.Column{Name: "credential_id"}, id,
				clause.Column{Name: "sign_count"}, int64(was)).
			Updates(map[string]any{"sign_count": int64(now), "backed_up": backedUp, "last_used_at": at.UnixMilli()})
	})
	if err != nil {
		return false, err
	}
	if n > 0 {
		return true, nil
	}
	// No row counted: the passkey is gone, its counter moved, or (MySQL
	// counts changed rows only) the update matched and changed nothing.
	row, err := s.passkey(ctx, table, id, h)
	if err != nil {
		return false, err
	}
	return was == now && row.SignCount == int64(was), nil
}

// RenamePasskey implements models.PasskeyStore with one UPDATE of the row
// with this ID and user, so that another user's passkey is never renamed.
// The name is kept as given, at most 64 characters of UTF-8 (ErrFactorField
// otherwise).
func (s *Store[T, P]) RenamePasskey(ctx context.Context, userID string, id []byte, name string) error {
	h, err := checkPasskeyID(id)
	if err != nil {
		return err
	}
	if err := checkUserID(userID); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	table, err := s.passkeyTable()
	if err != nil {
		return err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.userPasskey(ctx, table, userID, id, h).Updates(map[string]any{"name": name})
	})
	if err != nil || n > 0 {
		return err
	}
	// MySQL counts changed rows only: the name may have been this already.
	row, err := s.passkey(ctx, table, id, h)
	if err == nil && row.UserID != userID {
		err = models.ErrNoFactor
	}
	return err
}

// userPasskey is a query on the row of the passkey id (whose hash is h)
// when userID owns it, so that no other user's passkey is touched.
func (s *Store[T, P]) userPasskey(ctx context.Context, table, userID string, id, h []byte) *gorm.DB {
	return s.db.WithContext(ctx).Table(table).
		Where("? = ? AND ? = ? AND ? = ?",
			clause.Column{Name: "id_hash"}, h,
			clause.Column{Name: "credential_id"}, id,
			clause.Column{Name: "user_id"}, userID)
}

// DeletePasskey implements models.PasskeyStore with one DELETE of the row
// with this ID and user: of concurrent deletes, one succeeds and the
// others get models.ErrNoFactor.
func (s *Store[T, P]) DeletePasskey(ctx context.Context, userID string, id []byte) error {
	h, err := checkPasskeyID(id)
	if err != nil {
		return err
	}
	if err := checkUserID(userID); err != nil {
		return err
	}
	table, err := s.passkeyTable()
	if err != nil {
		return err
	}
	n, err := affected(ctx, func() *gorm.DB {
		return s.userPasskey(ctx, table, userID, id, h).Delete(&passkeyRow{})
	})
	if err == nil && n == 0 {
		err = models.ErrNoFactor
	}
	return err
}

var _ models.PasskeyStore = (*Store[models.User, *models.User])(nil)
