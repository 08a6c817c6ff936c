package passkey_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/passkey"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// Passkeys for an application served at https://example.org, on the GORM
// user store (which keeps them in users_passkeys). An RP ID that browsers
// would refuse is refused at start.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "passkey-example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		fmt.Println(err)
		return
	}
	sessions, _ := session.New(session.Config{Store: memstore.New(memstore.Options{}), Secrets: [][]byte{[]byte("a-secret-of-32-bytes-or-more-....")}})
	a, _ := auth.New(auth.Config[*models.User]{Sessions: sessions, Users: users})

	keys, err := passkey.New(a, passkey.Config{
		RPID:    "example.org",
		Origins: []string{"https://example.org", "https://www.example.org"},
		Store:   users,
		RPName:  "Example",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := gin.New()
	handlers.Mount(r.Group("/"), a, handlers.WithPasskeys(keys))

	_, err = passkey.New(a, passkey.Config{RPID: "example.org", Origins: []string{"https://example.net"}, Store: users})
	fmt.Println(err)
	// Output: auth: unsafe configuration: passkey: RPID "example.org" is not example.net's domain nor a parent of it: browsers would refuse every ceremony
}
