package sqlauth_test

import (
	"log"
	"os"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/sqlauth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
)

// Several instances of an application whose only shared service is
// PostgreSQL: sessions, users, the login throttle and the invalidation of
// cached users all go through it.
func Example() {
	dsn := os.Getenv("DATABASE_URL") // postgres://user:password@host:5432/app
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	sessions, err := gormstore.New(db, gormstore.Options{AutoMigrate: true})
	if err != nil {
		log.Fatal(err)
	}
	defer sessions.Close()
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		log.Fatal(err)
	}

	// Login failures counted once for every instance; the table is pruned
	// in the background until Close.
	throttle, err := sqlauth.NewThrottleStore(db, sqlauth.ThrottleStoreOptions{AutoMigrate: true})
	if err != nil {
		log.Fatal(err)
	}
	defer throttle.Close()

	// a.InvalidateUser(id) on any instance drops the user from every
	// instance's cache, over LISTEN/NOTIFY.
	invalidation, err := sqlauth.NewUserInvalidation(dsn, sqlauth.InvalidationOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer invalidation.Close() // after a.Close, which ends the subscription

	sm, err := session.New(session.Config{
		Store:   sessions,
		Secrets: [][]byte{[]byte(os.Getenv("SESSION_SECRET"))},
	})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config[*models.User]{
		Sessions:  sm,
		Users:     users,
		Throttle:  auth.ThrottlePolicy{Store: throttle},
		UserCache: auth.UserCache{Invalidation: invalidation},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	// ... r.Use(sm.Middleware()); handlers.Mount(r.Group("/"), a) ...
}
