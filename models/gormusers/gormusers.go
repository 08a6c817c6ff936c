// Package gormusers is a ginauth user store (models.UserStore) on a GORM
// table, for models.User or any type that embeds it, on SQLite, PostgreSQL
// and MySQL/MariaDB.
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
type Store[T any, P interface {
	*T
	models.Authenticatable
}] struct {
	db *gorm.DB

	once   sync.Once
	pk     *schema.Field
	pkErr  error
	unameC string // column names of Username and PasswordHash
	hashC  string
}

// New returns a user store for T on db. Call Migrate to create or update
// the table.
func New[T any, P interface {
	*T
	models.Authenticatable
}](db *gorm.DB) *Store[T, P] {
	return &Store[T, P]{db: db}
}

// Migrate creates or updates the table of T (GORM's AutoMigrate). On
// MySQL and MariaDB it also gives the username column a binary collation
// without padding (utf8mb4_nopad_bin on MariaDB, utf8mb4_0900_bin on MySQL
// 8, utf8mb4_bin where neither exists): under the default,
// utf8mb4_general_ci, "âlice" and "alice" are equal, so a lookup by one
// name would find the other's user and a unique index would refuse a
// look-alike as taken. PostgreSQL's and SQLite's default comparisons are
// exact already.
func (s *Store[T, P]) Migrate() error {
	if err := s.db.AutoMigrate(new(T)); err != nil {
		return err
	}
	if s.db.Dialector.Name() != "mysql" {
		return nil
	}
	stmt := &gorm.Statement{DB: s.db}
	if err := stmt.Parse(new(T)); err != nil {
		return err
	}
	_, col, err := s.schema()
	if err != nil {
		return err
	}
	var info struct {
		Collation string `gorm:"column:COLLATION_NAME"`
		Type      string `gorm:"column:COLUMN_TYPE"`
	}
	err = s.db.Raw(`SELECT COLLATION_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`, stmt.Schema.Table, col).Scan(&info).Error
	if err != nil || !strings.HasPrefix(info.Type, "varchar(") {
		return err
	}
	var have []string
	err = s.db.Raw(`SELECT COLLATION_NAME FROM information_schema.COLLATIONS
		WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`).Scan(&have).Error
	if err != nil {
		return err
	}
	want := "utf8mb4_bin"
	if len(have) > 0 {
		slices.Sort(have)
		want = have[len(have)-1] // utf8mb4_nopad_bin, else utf8mb4_0900_bin
	}
	if info.Collation == want {
		return nil
	}
	// The column's own type (varchar(191) for User), with the collation.
	return s.db.Exec("ALTER TABLE ? MODIFY ? "+info.Type+" CHARACTER SET utf8mb4 COLLATE "+want+" NOT NULL",
		clause.Table{Name: stmt.Schema.Table}, clause.Column{Name: col}).Error
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
	s.once.Do(func() {
		stmt := &gorm.Statement{DB: s.db}
		if err := stmt.Parse(new(T)); err != nil {
			s.pkErr = err
			return
		}
		s.pk = stmt.Schema.PrioritizedPrimaryField
		if s.pk == nil {
			s.pkErr = fmt.Errorf("gormusers: %T has no primary key", new(T))
			return
		}
		uf, hf := stmt.Schema.LookUpField("Username"), stmt.Schema.LookUpField("PasswordHash")
		if uf == nil || hf == nil {
			s.pkErr = fmt.Errorf("gormusers: %T needs Username and PasswordHash fields (embed models.User)", new(T))
			return
		}
		s.unameC, s.hashC = uf.DBName, hf.DBName
	})
	return s.pk, s.unameC, s.pkErr
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
	res := s.db.WithContext(ctx).Model(&zero).Where(map[string]any{pk.DBName: v}).Update(s.hashC, passwordHash)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return models.ErrUserNotFound
	}
	return nil
}
