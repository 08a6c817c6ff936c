package gormusers_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// Member extends the base model, as an application does.
type Member struct {
	models.User
	Email string `json:"email"`
}

// TableName gives each test run its own table on shared servers.
func (Member) TableName() string { return memberTable }

var memberTable = "members_" + testenv.Unique()

// databases opens each database the cases run against; a missing server
// skips (or, with REQUIRE_SERVICES=1, fails) its subtest only.
var databases = map[string]func(t *testing.T) *gorm.DB{
	"SQLite": func(t *testing.T) *gorm.DB {
		return open(t, "SQLite", sqlite.Open(filepath.Join(t.TempDir(), "users.db")+"?_pragma=busy_timeout(5000)"))
	},
	"PostgreSQL": func(t *testing.T) *gorm.DB { return open(t, "PostgreSQL", postgres.Open(testenv.PostgresURL(t))) },
	"MySQL":      func(t *testing.T) *gorm.DB { return open(t, "MySQL", mysql.Open(testenv.MySQLDSN(t))) },
}

func open(t *testing.T, name string, d gorm.Dialector) *gorm.DB {
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err == nil {
		sqlDB, _ := db.DB()
		err = sqlDB.Ping()
	}
	if err != nil {
		testenv.Missing(t, name, err.Error())
	}
	t.Cleanup(func() {
		_ = db.Migrator().DropTable(memberTable, memberTable+"_tokens", memberTable+"_totp", memberTable+"_recovery_codes",
			memberTable+"_passkeys", memberTable+"_identities")
		sqlDB, _ := db.DB()
		_ = sqlDB.Close()
	})
	return db
}

func TestGORMStore(t *testing.T) {
	for name, openDB := range databases {
		t.Run(name, func(t *testing.T) {
			db := openDB(t)
			ctx := context.Background()
			s := gormusers.New[Member](db)
			if err := s.Migrate(); err != nil {
				t.Fatal(err)
			}
			u, err := s.Create(ctx, "nora", "$2a$04$hash")
			if err != nil {
				t.Fatal(err)
			}
			if u.ID == 0 || u.AuthID() == "" || u.AuthUsername() != "nora" || u.AuthPasswordHash() != "$2a$04$hash" {
				t.Errorf("created %+v", u)
			}
			if _, err := s.Create(ctx, "nora", "other"); !errors.Is(err, models.ErrUsernameTaken) {
				t.Errorf("duplicate username = %v, want ErrUsernameTaken", err)
			}
			got, err := s.FindByID(ctx, u.AuthID())
			if err != nil || got.Username != "nora" {
				t.Errorf("FindByID = %+v, %v", got, err)
			}
			got, err = s.FindByUsername(ctx, "nora")
			if err != nil || got.ID != u.ID {
				t.Errorf("FindByUsername = %+v, %v", got, err)
			}
			for _, id := range []string{"999999", "not-a-number", "", "-1", "1; DROP TABLE x"} {
				if _, err := s.FindByID(ctx, id); !errors.Is(err, models.ErrUserNotFound) {
					t.Errorf("FindByID(%q) = %v, want ErrUserNotFound", id, err)
				}
			}
			if _, err := s.FindByUsername(ctx, "nobody"); !errors.Is(err, models.ErrUserNotFound) {
				t.Errorf("FindByUsername(nobody) = %v", err)
			}
			// Names are compared exactly, whatever the database's default
			// collation: a look-alike is no match, and an account of its own.
			for _, v := range []string{"nóra", "nora ", "NORA", "nôra"} {
				if got, err := s.FindByUsername(ctx, v); !errors.Is(err, models.ErrUserNotFound) {
					t.Errorf("FindByUsername(%q) = %v, %v; want ErrUserNotFound", v, got, err)
				}
			}
			if _, err := s.Create(ctx, "nóra", "$2a$04$other"); err != nil {
				t.Errorf("creating the look-alike nóra: %v", err)
			}
			if err := s.Migrate(); err != nil {
				t.Errorf("migrating again: %v", err)
			}
			// Update writes the application's fields, never the credentials.
			u.Email = "nora@example.org"
			for range 2 { // the second writes nothing new: still no error
				if err := s.Update(ctx, u, "Email"); err != nil {
					t.Fatalf("Update: %v", err)
				}
			}
			if got, _ := s.FindByID(ctx, u.AuthID()); got.Email != "nora@example.org" {
				t.Errorf("Email after Update = %q", got.Email)
			}
			u.PasswordHash = "$2a$04$stolen"
			if err := s.Update(ctx, u, "Email", "PasswordHash"); !errors.Is(err, gormusers.ErrCredentialField) {
				t.Errorf("Update of the hash = %v, want ErrCredentialField", err)
			}
			ghost := &Member{Email: "x"}
			ghost.ID = 424242
			if err := s.Update(ctx, ghost, "Email"); !errors.Is(err, models.ErrUserNotFound) {
				t.Errorf("Update of an unknown user = %v", err)
			}
			if err := s.SetPasswordHash(ctx, u.AuthID(), "$2a$04$new"); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.FindByID(ctx, u.AuthID()); got.PasswordHash != "$2a$04$new" {
				t.Errorf("hash after SetPasswordHash = %q", got.PasswordHash)
			}
			if err := s.SetPasswordHash(ctx, "424242", "x"); !errors.Is(err, models.ErrUserNotFound) {
				t.Errorf("SetPasswordHash(unknown) = %v", err)
			}
			// The hash never appears in JSON.
			b, _ := json.Marshal(got)
			if strings.Contains(string(b), "$2a$") || strings.Contains(strings.ToLower(string(b)), "hash") {
				t.Errorf("JSON carries the hash: %s", b)
			}
			// Concurrent registrations of one name: one wins, the rest are told.
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, taken := 0, 0
			for range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.Create(ctx, "race", "h")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, models.ErrUsernameTaken):
						taken++
					default:
						t.Errorf("concurrent Create: %v", err)
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
