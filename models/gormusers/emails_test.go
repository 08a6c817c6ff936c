package gormusers_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// Subscriber is a user type with an address, as recovery needs.
type Subscriber struct {
	models.User
	models.Email
	Plan string `json:"plan"`
}

// TableName gives each test run its own table on shared servers; the
// store's token table is this name with "_tokens" appended.
func (Subscriber) TableName() string { return subscriberTable }

var subscriberTable = "subscribers_" + testenv.Unique()

// Impostor answers models.EmailOwner from a field of its own, which the
// store cannot keep as an address.
type Impostor struct {
	models.User
	Addr string
}

func (Impostor) TableName() string { return "impostors_" + testenv.Unique() }

func (i *Impostor) AuthEmail() string { return i.Addr }

func (i *Impostor) AuthEmailVerified() bool { return false }

// sameDatabase gives, for each database, a function that opens one more
// handle on one database: what two instances of an application share. A
// missing server skips (or, with REQUIRE_SERVICES=1, fails) its subtest.
var sameDatabase = map[string]func(t *testing.T) func() *gorm.DB{
	"SQLite": func(t *testing.T) func() *gorm.DB {
		// A file, not :memory:, so that every handle sees the same database.
		dsn := filepath.Join(t.TempDir(), "users.db") + "?_pragma=busy_timeout(5000)"
		return func() *gorm.DB { return open(t, "SQLite", sqlite.Open(dsn)) }
	},
	"PostgreSQL": func(t *testing.T) func() *gorm.DB {
		url := testenv.PostgresURL(t)
		return func() *gorm.DB { return open(t, "PostgreSQL", postgres.Open(url)) }
	},
	"MySQL": func(t *testing.T) func() *gorm.DB {
		dsn := testenv.MySQLDSN(t)
		return func() *gorm.DB { return open(t, "MySQL", mysql.Open(dsn)) }
	},
}

// subscribers returns a migrated store of Subscribers on db, whose tables
// are dropped when the test ends.
func subscribers(t *testing.T, db *gorm.DB) *gormusers.Store[Subscriber, *Subscriber] {
	t.Helper()
	s := gormusers.New[Subscriber](db)
	t.Cleanup(func() {
		_ = db.Migrator().DropTable(subscriberTable, subscriberTable+"_tokens",
			subscriberTable+"_totp", subscriberTable+"_recovery_codes", subscriberTable+"_passkeys",
			subscriberTable+"_identities")
	})
	if err := s.Migrate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEmailStore(t *testing.T) {
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := subscribers(t, handles(t)())
			if err := s.Migrate(); err != nil { // again: idempotent, collations kept
				t.Fatalf("migrating again: %v", err)
			}
			alice, err := s.CreateWithEmail(ctx, "alice", "$2a$04$hash", "alice@x.org")
			if err != nil {
				t.Fatal(err)
			}
			if alice.AuthEmail() != "alice@x.org" || alice.AuthEmailVerified() || alice.ID == 0 {
				t.Errorf("created %+v", alice)
			}
			// Addresses are compared exactly: another case is another
			// address, and another user's (normalizing is the auth
			// package's work, never the store's).
			upper, err := s.CreateWithEmail(ctx, "alice2", "$2a$04$hash", "Alice@x.org")
			if err != nil {
				t.Fatalf("Alice@x.org beside alice@x.org: %v", err)
			}
			for _, c := range []struct {
				name, username, email string
				want                  error
			}{
				{"address taken", "bob", "alice@x.org", models.ErrEmailTaken},
				{"username taken", "alice", "bob@x.org", models.ErrUsernameTaken},
				{"both taken: the username is told", "alice", "alice@x.org", models.ErrUsernameTaken},
				{"no address", "nemo", "", nil},
				{"no address again: NULLs are not duplicates", "nemo2", "", nil},
			} {
				u, err := s.CreateWithEmail(ctx, c.username, "$2a$04$hash", c.email)
				if !errors.Is(err, c.want) {
					t.Errorf("%s: CreateWithEmail(%q, %q) = %v, want %v", c.name, c.username, c.email, err, c.want)
				}
				if err == nil && (u.AuthEmail() != c.email || u.Email.Email != nil) {
					t.Errorf("%s: created %+v", c.name, u)
				}
			}
			if _, err := s.Create(ctx, "plain", "$2a$04$hash"); err != nil {
				t.Errorf("Create without an address: %v", err)
			}
			for _, c := range []struct {
				email  string
				wantID uint // 0: ErrUserNotFound
			}{
				{"alice@x.org", alice.ID},
				{"Alice@x.org", upper.ID},
				{"ALICE@X.ORG", 0},
				{"alice@x.org ", 0},
				{"alicé@x.org", 0},
				{"nobody@x.org", 0},
				{"", 0},
			} {
				u, err := s.FindByEmail(ctx, c.email)
				switch {
				case c.wantID == 0 && !errors.Is(err, models.ErrUserNotFound):
					t.Errorf("FindByEmail(%q) = %+v, %v; want ErrUserNotFound", c.email, u, err)
				case c.wantID != 0 && (err != nil || u.ID != c.wantID):
					t.Errorf("FindByEmail(%q) = %+v, %v; want user %d", c.email, u, err, c.wantID)
				}
			}

			// SetEmail.
			id := alice.AuthID()
			if err := s.SetEmail(ctx, id, "new@x.org"); err != nil {
				t.Fatal(err)
			}
			if u, err := s.FindByEmail(ctx, "new@x.org"); err != nil || u.ID != alice.ID {
				t.Errorf("FindByEmail(new) = %+v, %v", u, err)
			}
			if _, err := s.FindByEmail(ctx, "alice@x.org"); !errors.Is(err, models.ErrUserNotFound) {
				t.Errorf("the old address still finds: %v", err)
			}
			for _, c := range []struct {
				name, id, email string
				want            error
			}{
				{"another user's address", upper.AuthID(), "new@x.org", models.ErrEmailTaken},
				{"the same address again", id, "new@x.org", nil},
				{"no such user", "424242", "z@x.org", models.ErrUserNotFound},
				{"not an ID", "not-a-number", "z@x.org", models.ErrUserNotFound},
			} {
				if err := s.SetEmail(ctx, c.id, c.email); !errors.Is(err, c.want) {
					t.Errorf("%s: SetEmail(%q, %q) = %v, want %v", c.name, c.id, c.email, err, c.want)
				}
			}

			// MarkEmailVerified, only for the address the link was sent to.
			for _, c := range []struct {
				name, id, email string
				want            error
			}{
				{"an address changed since", id, "alice@x.org", models.ErrUserNotFound},
				{"the current address", id, "new@x.org", nil},
				{"verified already", id, "new@x.org", nil},
				{"no address", id, "", models.ErrUserNotFound},
				{"no such user", "424242", "new@x.org", models.ErrUserNotFound},
				{"not an ID", "x", "new@x.org", models.ErrUserNotFound},
			} {
				if err := s.MarkEmailVerified(ctx, c.id, c.email); !errors.Is(err, c.want) {
					t.Errorf("%s: MarkEmailVerified(%q, %q) = %v, want %v", c.name, c.id, c.email, err, c.want)
				}
			}
			if u, _ := s.FindByID(ctx, id); !u.AuthEmailVerified() {
				t.Errorf("not verified: %+v", u.Email)
			}
			if u, _ := s.FindByID(ctx, upper.AuthID()); u.AuthEmailVerified() {
				t.Errorf("another user verified: %+v", u.Email)
			}
			// A new address is unverified; "" removes it.
			if err := s.SetEmail(ctx, id, "newer@x.org"); err != nil {
				t.Fatal(err)
			}
			if u, _ := s.FindByID(ctx, id); u.AuthEmail() != "newer@x.org" || u.EmailVerified {
				t.Errorf("after a change: %+v", u.Email)
			}
			if err := s.SetEmail(ctx, id, ""); err != nil {
				t.Fatal(err)
			}
			if u, _ := s.FindByID(ctx, id); u.Email.Email != nil || u.EmailVerified {
				t.Errorf("after removal: %+v", u.Email)
			}
			if _, err := s.FindByEmail(ctx, "newer@x.org"); !errors.Is(err, models.ErrUserNotFound) {
				t.Errorf("a removed address finds: %v", err)
			}

			// Concurrent registrations with one address: one wins, the
			// rest are told the address is taken.
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, taken := 0, 0
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.CreateWithEmail(ctx, fmt.Sprintf("race%d", i), "h", "race@x.org")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, models.ErrEmailTaken):
						taken++
					default:
						t.Errorf("concurrent CreateWithEmail: %v", err)
					}
				}()
			}
			wg.Wait()
			if wins != 1 || taken != 5 {
				t.Errorf("concurrent registrations: %d won, %d taken", wins, taken)
			}
		})
	}
}

// A user type without models.Email gets ErrNoEmail from every address
// method, and a store that cannot keep the address of an EmailOwner
// refuses to migrate.
func TestNoEmail(t *testing.T) {
	ctx := context.Background()
	db := open(t, "SQLite", sqlite.Open(filepath.Join(t.TempDir(), "users.db")))
	s := gormusers.New[Member](db) // its Email is a string of its own
	if err := s.Migrate(); err != nil {
		t.Fatal(err)
	}
	u, err := s.Create(ctx, "nora", "h")
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"SetEmail":          s.SetEmail(ctx, u.AuthID(), "nora@x.org"),
		"MarkEmailVerified": s.MarkEmailVerified(ctx, u.AuthID(), "nora@x.org"),
		"CreateWithEmail":   second(s.CreateWithEmail(ctx, "nina", "h", "nina@x.org")),
		"FindByEmail":       second(s.FindByEmail(ctx, "nora@x.org")),
	} {
		if !errors.Is(err, gormusers.ErrNoEmail) {
			t.Errorf("%s = %v, want ErrNoEmail", name, err)
		}
	}
	if err := gormusers.New[Impostor](db).Migrate(); !errors.Is(err, gormusers.ErrNoEmail) {
		t.Errorf("Migrate of an EmailOwner without models.Email = %v, want ErrNoEmail", err)
	}
	// Tokens need no address.
	tok := token(1, "1", "verify")
	if err := s.IssueToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeToken(ctx, tok.Hash, tok.Purpose); err != nil {
		t.Error(err)
	}
	_ = db.Migrator().DropTable(memberTable+"_tokens", memberTable+"_totp", memberTable+"_recovery_codes", memberTable+"_passkeys",
		memberTable+"_identities")
}

func second[T any](_ T, err error) error { return err }
