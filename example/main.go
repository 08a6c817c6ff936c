// Command example is a small Gin app that counts visits in a session kept in
// the GORM session store on SQLite (pure Go: nothing to install).
//
//	go run ./example
package main

import (
	"crypto/rand"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/sessionstore"
)

func main() {
	addr := envOr("ADDR", "127.0.0.1:8080")
	db, err := gorm.Open(sqlite.Open(envOr("DATABASE_URL", "ginauth-example.db")), &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	store, err := sessionstore.NewGORMStore(db, sessionstore.GORMOptions{AutoMigrate: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	var secrets [][]byte
	for _, s := range strings.Split(os.Getenv("SESSION_SECRET"), ",") {
		if s != "" {
			secrets = append(secrets, []byte(s))
		}
	}
	if len(secrets) == 0 {
		secrets = [][]byte{[]byte(rand.Text() + rand.Text())}
		log.Print("SESSION_SECRET is not set: using a random secret, so sessions end when the app stops")
	}
	codec, err := sessionstore.NewCodec(secrets, sessionstore.CodecOptions{})
	if err != nil {
		log.Fatal(err)
	}
	gs, err := sessionstore.NewGinStore(store, codec, sessionstore.GinOptions{})
	if err != nil {
		log.Fatal(err)
	}

	r := gin.Default()
	r.Use(sessions.Sessions("sid", gs))
	r.GET("/", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("visits").(int)
		s.Set("visits", n+1)
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, "session store unavailable")
			return
		}
		c.String(http.StatusOK, "visits: %d\n", n+1)
	})
	log.Printf("listening on http://%s", addr)
	log.Fatal(r.Run(addr))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
