package mongostore_test

import (
	"context"
	"log"
	"os"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/ginsessions"
	"github.com/ginauth/ginauth/sessionstore/mongostore"
)

// A session store on the database named in MONGODB_URL, used as a
// gin-contrib/sessions store.
func Example() {
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI(os.Getenv("MONGODB_URL")))
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()

	store, err := mongostore.New(client.Database("myapp"), mongostore.Options{
		Collection: "sessions", // the default
	})
	if err != nil {
		log.Fatal(err) // matches sessionstore.ErrUnavailable when the server cannot be reached
	}
	defer func() { _ = store.Close() }()
	log.Printf("sessions in %s", store) // e.g. "expiry ttl-index" on MongoDB, "expiry sweep" on FerretDB

	m, err := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte(os.Getenv("SESSION_SECRET"))}})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("sid", ginsessions.NewStore(m)))
	_ = r.Run("127.0.0.1:8080")
}
