package mongostore_test

import (
	"context"
	"log"
	"os"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ginauth/ginauth/sessionstore"
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

	store, err := mongostore.New(ctx, client.Database("myapp"), mongostore.Options{
		Collection: "sessions", // the default
	})
	if err != nil {
		log.Fatal(err) // matches sessionstore.ErrUnavailable when the server cannot be reached
	}
	defer func() { _ = store.Close() }()
	log.Printf("sessions in %s", store) // e.g. "expiry ttl-index" on MongoDB, "expiry sweep" on FerretDB

	codec, err := sessionstore.NewCodec([][]byte{[]byte(os.Getenv("SESSION_SECRET"))}, sessionstore.CodecOptions{})
	if err != nil {
		log.Fatal(err)
	}
	gs, err := sessionstore.NewGinStore(store, codec, sessionstore.GinOptions{})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("sid", gs))
	_ = r.Run("127.0.0.1:8080")
}
