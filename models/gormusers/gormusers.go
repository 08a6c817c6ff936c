// Package gormusers is a ginauth user store (models.UserStore) on a GORM
// table, for models.User or any type that embeds it, on SQLite, PostgreSQL
// and MySQL/MariaDB.
//
// For a type that also embeds models.Email, the store keeps addresses
// (models.EmailStore): NULL for a user without one, under a unique index,
// compared exactly (Migrate gives the column a binary collation on MySQL
// and MariaDB). Whatever the type, it keeps the hashes of single-use
// tokens (models.TokenStore) in a table of its own, the users table's name
// with "_tokens" appended, which Migrate creates: one row per user and
// purpose, consumed by a SELECT then a DELETE that only one caller, on any
// instance, sees remove the row.
//
// It also keeps users' second factors (models.FactorStore) in two more
// tables, which Migrate creates: the users table's name with "_totp"
// appended (one authenticator app enrolment per user, its secret sealed by
// the auth package, and the last time step accepted) and with
// "_recovery_codes" appended (the SHA-256 of each unused recovery code).
// Each step and each code is accepted once, by single conditional UPDATE
// and DELETE statements, across instances.
//
// And it keeps users' passkeys (models.PasskeyStore) in one more table,
// which Migrate creates: the users table's name with "_passkeys" appended,
// one row per WebAuthn credential, keyed by the SHA-256 of its credential
// ID (unique across users), with its public key, flags and signature
// counter. A sign-in moves the counter by a single conditional UPDATE, so
// that of concurrent sign-ins that read one counter value, on any
// instances, one wins (an authenticator that keeps no counter, whose
// value stays 0, leaves nothing to tell its sign-ins apart: see
// UsePasskey).
//
// And it keeps the identities users linked at other providers
// (models.IdentityStore) in one more table, which Migrate creates: the
// users table's name with "_identities" appended, one row per (provider,
// subject), keyed by the SHA-256 of the two so that it is unique across
// users and compared byte for byte on every database ("ABC" and "abc" are
// two subjects), with the owner's user ID (indexed), the email the
// provider gave last and the times of the link and of the last sign-in.
// Of concurrent links of one identity, on any instances, one succeeds.
package gormusers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/ginauth/ginauth/models"
)

// Store is a models.UserStore on a GORM table of T (models.User, or your
// type that embeds it); the users it returns are *T.
//
// It is also a models.EmailStore[P], for a T that embeds models.Email (for
// any other T its methods answer ErrNoEmail), and a models.TokenStore, in
// a table of its own (see IssueToken), and a models.FactorStore, in two
// more tables (see SetTOTP), and a models.PasskeyStore, in one more (see
// AddPasskey), and a models.IdentityStore, in one more (see LinkIdentity).
// The auth package finds them by type assertions on the user
// store.
type Store[T any, P interface {
	*T
	models.Authenticatable
}] struct {
	db *gorm.DB

	once sync.Once
	f    fields
	err  error
}

// fields is what the store reads from T's GORM schema, once.
type fields struct {
	table  string
	pk     *schema.Field
	unameC string // column names of Username and PasswordHash
	hashC  string

	// For a T that embeds models.Email: the column names of Email and
	// EmailVerified, and the path to the embedded struct. emailErr says
	// why T has none.
	emailC    string
	verifiedC string
	emailAt   []int
	emailErr  error

	tokens     string // the table of single-use tokens
	totp       string // the tables of second factors
	recovery   string
	passkeys   string // the table of passkeys
	identities string // the table of linked identities
}

// New returns a user store for T on db. Call Migrate to create or update
// the table.
func New[T any, P interface {
	*T
	models.Authenticatable
}](db *gorm.DB) *Store[T, P] {
	return &Store[T, P]{db: db}
}

// Migrate creates or updates the table of T (GORM's AutoMigrate), the
// table of single-use tokens (see IssueToken), the tables of second
// factors (see SetTOTP and SetRecoveryCodes), the table of passkeys (see
// AddPasskey) and the table of linked identities (see LinkIdentity),
// whatever T is. On MySQL and MariaDB it also gives the
// username column (and the email column, for a T that embeds
// models.Email) a binary collation without padding (utf8mb4_nopad_bin on
// MariaDB, utf8mb4_0900_bin on MySQL 8, utf8mb4_bin where neither exists):
// under the default, utf8mb4_general_ci, "âlice" and "alice" are equal, so
// a lookup by one name would find the other's user and a unique index
// would refuse a look-alike as taken. The user_id columns of the other
// tables (and the tokens' purpose column, and the identities' provider
// and subject columns) get the same collation.
// PostgreSQL's and SQLite's default comparisons are exact already.
//
// Migrate answers an error for a T whose pointer implements
// models.EmailOwner without embedding models.Email: the store could not
// keep its address.
func (s *Store[T, P]) Migrate() error {
	f, err := s.fields()
	if err != nil {
		return err
	}
	if f.emailErr != nil {
		if _, ok := any(P(new(T))).(models.EmailOwner); ok {
			return f.emailErr
		}
	}
	if err := s.db.AutoMigrate(new(T)); err != nil {
		return err
	}
	exact := []string{f.unameC}
	if f.emailErr == nil {
		exact = append(exact, f.emailC)
	}
	if err := exactColumns(s.db, f.table, exact...); err != nil {
		return err
	}
	if err := s.migrateTokens(f.tokens); err != nil {
		return err
	}
	if err := s.migrateFactors(f.totp, f.recovery); err != nil {
		return err
	}
	if err := s.migratePasskeys(f.passkeys); err != nil {
		return err
	}
	return s.migrateIdentities(f.identities)
}

// exactColumns gives the varchar columns of table a binary collation on
// MySQL and MariaDB, keeping their type and nullability; on other
// databases it does nothing.
func exactColumns(db *gorm.DB, table string, cols ...string) error {
	if db.Dialector.Name() != "mysql" {
		return nil
	}
	var have []string
	err := db.Raw(`SELECT COLLATION_NAME FROM information_schema.COLLATIONS
		WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`).Scan(&have).Error
	if err != nil {
		return err
	}
	want := "utf8mb4_bin"
	if len(have) > 0 {
		slices.Sort(have)
		want = have[len(have)-1] // utf8mb4_nopad_bin, else utf8mb4_0900_bin
	}
	for _, col := range cols {
		var info struct {
			Collation string `gorm:"column:COLLATION_NAME"`
			Type      string `gorm:"column:COLUMN_TYPE"`
			Nullable  string `gorm:"column:IS_NULLABLE"`
		}
		err := db.Raw(`SELECT COLLATION_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`, table, col).Scan(&info).Error
		if err != nil {
			return err
		}
		if !strings.HasPrefix(info.Type, "varchar(") || info.Collation == want {
			continue
		}
		null := " NOT NULL"
		if info.Nullable == "YES" {
			null = " NULL" // the email column: NULL is "no address"
		}
		// The column's own type (varchar(191) for User), with the collation.
		err = db.Exec("ALTER TABLE ? MODIFY ? "+info.Type+" CHARACTER SET utf8mb4 COLLATE "+want+null,
			clause.Table{Name: table}, clause.Column{Name: col}).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// DB returns the store's database handle.
func (s *Store[T, P]) DB() *gorm.DB { return s.db }

// ErrCredentialField is returned by Update for the username or password
// hash: those change through the auth package (auth.SetPassword), which
// normalizes, hashes and ends the sessions they no longer match.
var ErrCredentialField = errors.New("gormusers: Update does not change the username or password hash")

// Update writes the named fields of u (Go field names, such as
// "DisplayName") to its row. Call the Auth's InvalidateUser(u.AuthID())
// after it, so that the next request of every instance reads the user
// again rather than its cached copy.
func (s *Store[T, P]) Update(ctx context.Context, u P, fields ...string) error {
	if len(fields) == 0 {
		return errors.New("gormusers: Update needs the fields to write")
	}
	if slices.Contains(fields, "Username") || slices.Contains(fields, "PasswordHash") {
		return ErrCredentialField
	}
	pk, _, err := s.schema()
	if err != nil {
		return err
	}
	v, ok := pkValue(pk, u.AuthID())
	if !ok {
		return models.ErrUserNotFound
	}
	res := s.db.WithContext(ctx).Model(u).Where(map[string]any{pk.DBName: v}).Select(fields).Updates(u)
	if res.Error != nil || res.RowsAffected > 0 {
		return res.Error
	}
	// MySQL counts changed rows only: tell "unchanged" from "no such user".
	_, err = s.FindByID(ctx, u.AuthID())
	return err
}

func (s *Store[T, P]) schema() (*schema.Field, string, error) {
	f, err := s.fields()
	return f.pk, f.unameC, err
}

func (s *Store[T, P]) fields() (*fields, error) {
	s.once.Do(func() {
		stmt := &gorm.Statement{DB: s.db}
		if err := stmt.Parse(new(T)); err != nil {
			s.err = err
			return
		}
		f := &s.f
		f.table, f.tokens = stmt.Schema.Table, stmt.Schema.Table+"_tokens"
		f.totp, f.recovery = f.table+"_totp", f.table+"_recovery_codes"
		f.passkeys, f.identities = f.table+"_passkeys", f.table+"_identities"
		f.pk = stmt.Schema.PrioritizedPrimaryField
		if f.pk == nil {
			s.err = fmt.Errorf("gormusers: %T has no primary key", new(T))
			return
		}
		uf, hf := stmt.Schema.LookUpField("Username"), stmt.Schema.LookUpField("PasswordHash")
		if uf == nil || hf == nil {
			s.err = fmt.Errorf("gormusers: %T needs Username and PasswordHash fields (embed models.User)", new(T))
			return
		}
		f.unameC, f.hashC = uf.DBName, hf.DBName
		f.emailAt = embeddedEmail(reflect.TypeFor[T]())
		ef, vf := stmt.Schema.LookUpField("Email"), stmt.Schema.LookUpField("EmailVerified")
		switch {
		case f.emailAt == nil:
			f.emailErr = fmt.Errorf("%w: %T does not embed it", ErrNoEmail, new(T))
		case ef == nil || vf == nil || ef.DBName == "" || vf.DBName == "":
			f.emailErr = fmt.Errorf("%w: the Email and EmailVerified of %T are not columns", ErrNoEmail, new(T))
		default:
			f.emailC, f.verifiedC = ef.DBName, vf.DBName
		}
	})
	return &s.f, s.err
}

// pkValue converts an AuthID back to the primary key's type; ok is false for a
// string that cannot be one.
func pkValue(f *schema.Field, id string) (any, bool) {
	switch f.FieldType.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(id, 10, 64)
		return n, err == nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(id, 10, 64)
		return n, err == nil
	}
	return id, true
}

// FindByID implements models.UserStore.
func (s *Store[T, P]) FindByID(ctx context.Context, id string) (P, error) {
	pk, _, err := s.schema()
	if err != nil {
		return nil, err
	}
	v, ok := pkValue(pk, id)
	if !ok {
		return nil, models.ErrUserNotFound
	}
	return s.find(ctx, pk.DBName, v)
}

// FindByUsername implements models.UserStore.
func (s *Store[T, P]) FindByUsername(ctx context.Context, username string) (P, error) {
	_, col, err := s.schema()
	if err != nil {
		return nil, err
	}
	return s.find(ctx, col, username)
}

func (s *Store[T, P]) find(ctx context.Context, col string, v any) (P, error) {
	var rows []T
	if err := s.db.WithContext(ctx).Where(map[string]any{col: v}).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, models.ErrUserNotFound
	}
	return P(&rows[0]), nil
}

// Create implements models.UserStore.
func (s *Store[T, P]) Create(ctx context.Context, username, passwordHash string) (P, error) {
	u := P(new(T))
	u.SetCredentials(username, passwordHash)
	err := s.db.WithContext(ctx).Create(u).Error
	if err == nil {
		return u, nil
	}
	if t, ok := s.db.Dialector.(gorm.ErrorTranslator); ok && errors.Is(t.Translate(err), gorm.ErrDuplicatedKey) {
		return nil, models.ErrUsernameTaken
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, models.ErrUsernameTaken
	}
	// Dialects without a translator: a user that exists now means the insert
	// lost to a concurrent registration of the same name.
	if _, ferr := s.FindByUsername(ctx, username); ferr == nil {
		return nil, models.ErrUsernameTaken
	}
	return nil, err
}

// SetPasswordHash implements models.UserStore.
func (s *Store[T, P]) SetPasswordHash(ctx context.Context, id, passwordHash string) error {
	pk, _, err := s.schema()
	if err != nil {
		return err
	}
	v, ok := pkValue(pk, id)
	if !ok {
		return models.ErrUserNotFound
	}
	var zero T
	res := s.db.WithContext(ctx).Model(&zero).Where(map[string]any{pk.DBName: v}).Update(s.f.hashC, passwordHash)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return models.ErrUserNotFound
	}
	return nil
}
