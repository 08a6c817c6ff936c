package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/mongostore"
)

// openMongo connects to MONGODB_URL and keeps sessions in its database (the
// URL's path, or "ginauth").
func openMongo(url string) (sessionstore.IndexedStore, *mongo.Database, func(), error) {
	cs, err := connstring.ParseAndValidate(url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("MONGODB_URL: %w", err)
	}
	dbName := strings.TrimSpace(cs.Database)
	if dbName == "" {
		dbName = "ginauth"
	}
	client, err := mongo.Connect(options.Client().ApplyURI(url).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("MONGODB_URL: %w", err)
	}
	store, err := mongostore.New(client.Database(dbName), mongostore.Options{})
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, nil, nil, err
	}
	return store, client.Database(dbName), func() {
		_ = store.Close()
		_ = client.Disconnect(context.Background())
	}, nil
}
