package gormusers

import (
	"context"
	"errors"
	"reflect"

	"gorm.io/gorm"

	"github.com/ginauth/ginauth/models"
)

// ErrNoEmail is returned by the models.EmailStore methods of a store whose
// user type does not embed models.Email (by value): it has nowhere to keep
// an address. The auth package refuses, when it starts, a configuration
// that needs addresses with a user type that has none, so an application
// meets this error only by calling these methods itself.
var ErrNoEmail = errors.New("gormusers: the user type has no email address (embed models.Email)")

// embeddedEmail returns the index path of the models.Email that t embeds
// by value, or nil when there is none. A path through an embedded pointer
// does not count: the struct it points to may be missing.
func embeddedEmail(t reflect.Type) []int {
	sf, ok := t.FieldByName("Email")
	if !ok || !sf.Anonymous || sf.Type != reflect.TypeFor[models.Email]() {
		return nil // none, or shadowed by a field of T's own
	}
	for i := 1; i < len(sf.Index); i++ {
		if t.FieldByIndex(sf.Index[:i]).Type.Kind() != reflect.Struct {
			return nil
		}
	}
	return sf.Index
}

// emailFields returns the schema's fields, or ErrNoEmail for a T without
// an address.
func (s *Store[T, P]) emailFields() (*fields, error) {
	f, err := s.fields()
	if err != nil {
		return nil, err
	}
	if f.emailErr != nil {
		return nil, f.emailErr
	}
	return f, nil
}

// emailValue is what the email column holds for an address: NULL for none,
// so that the unique index admits any number of users without one.
func emailValue(email string) any {
	if email == "" {
		return nil
	}
	return email
}

// maybeDuplicate reports whether err may be a unique index's refusal: it
// is one, or the dialect cannot tell (then the rows will).
func maybeDuplicate(db *gorm.DB, err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	if t, ok := db.Dialector.(gorm.ErrorTranslator); ok {
		return errors.Is(t.Translate(err), gorm.ErrDuplicatedKey)
	}
	return true
}

// CreateWithEmail implements models.EmailStore: one INSERT of a user with
// an unverified address ("" for none). When a unique index refuses the
// row, the rows tell which one: ErrUsernameTaken when a user has the
// username, else ErrEmailTaken when one has the address.
func (s *Store[T, P]) CreateWithEmail(ctx context.Context, username, passwordHash, email string) (P, error) {
	f, err := s.emailFields()
	if err != nil {
		return nil, err
	}
	u := P(new(T))
	u.SetCredentials(username, passwordHash)
	e := reflect.ValueOf(u).Elem().FieldByIndex(f.emailAt).Addr().Interface().(*models.Email)
	e.Email, e.EmailVerified = nil, false
	if email != "" {
		e.Email = &email
	}
	err = s.db.WithContext(ctx).Create(u).Error
	if err == nil {
		return u, nil
	}
	if !maybeDuplicate(s.db, err) {
		return nil, err
	}
	if _, ferr := s.FindByUsername(ctx, username); ferr == nil {
		return nil, models.ErrUsernameTaken
	}
	if _, ferr := s.FindByEmail(ctx, email); ferr == nil {
		return nil, models.ErrEmailTaken
	}
	return nil, err
}

// FindByEmail implements models.EmailStore. Addresses are compared
// exactly: "Alice@example.org" does not find "alice@example.org" (the
// auth package normalizes them before they reach the store).
func (s *Store[T, P]) FindByEmail(ctx context.Context, email string) (P, error) {
	f, err := s.emailFields()
	if err != nil {
		return nil, err
	}
	if email == "" {
		return nil, models.ErrUserNotFound // no address finds nobody
	}
	return s.find(ctx, f.emailC, email)
}

// SetEmail implements models.EmailStore: it writes the address ("" stores
// NULL: no address) and marks it unverified, even when it is the address
// the user had.
func (s *Store[T, P]) SetEmail(ctx context.Context, id, email string) error {
	f, err := s.emailFields()
	if err != nil {
		return err
	}
	v, ok := pkValue(f.pk, id)
	if !ok {
		return models.ErrUserNotFound
	}
	var zero T
	res := s.db.WithContext(ctx).Model(&zero).Where(map[string]any{f.pk.DBName: v}).
		Updates(map[string]any{f.emailC: emailValue(email), f.verifiedC: false})
	if err := res.Error; err != nil {
		if email != "" && maybeDuplicate(s.db, err) {
			if _, ferr := s.FindByEmail(ctx, email); ferr == nil {
				return models.ErrEmailTaken
			}
		}
		return err
	}
	if res.RowsAffected > 0 {
		return nil
	}
	// MySQL counts changed rows only: tell "unchanged" from "no such user".
	_, err = s.FindByID(ctx, id)
	return err
}

// MarkEmailVerified implements models.EmailStore: one UPDATE of the row
// that has both the ID and the address.
func (s *Store[T, P]) MarkEmailVerified(ctx context.Context, id, email string) error {
	f, err := s.emailFields()
	if err != nil {
		return err
	}
	v, ok := pkValue(f.pk, id)
	if !ok || email == "" {
		return models.ErrUserNotFound
	}
	var zero T
	match := map[string]any{f.pk.DBName: v, f.emailC: email}
	res := s.db.WithContext(ctx).Model(&zero).Where(match).Update(f.verifiedC, true)
	if res.Error != nil || res.RowsAffected > 0 {
		return res.Error
	}
	// MySQL counts changed rows only: an address verified already updates
	// none, and is no error.
	var n int64
	if err := s.db.WithContext(ctx).Model(&zero).Where(match).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return models.ErrUserNotFound
	}
	return nil
}

var _ models.EmailStore[*models.User] = (*Store[models.User, *models.User])(nil)
