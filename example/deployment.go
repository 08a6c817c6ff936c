package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"gorm.io/gorm"
)

// deploymentTable holds one row: the session store the servers on this
// database use, as the last server to start recorded it. The operator's
// commands read it, so that they act on the servers' store or refuse,
// rather than end the sessions of a store nobody uses and say they did.
const deploymentTable = "example_deployment"

// deploymentRecord is the row of deploymentTable.
type deploymentRecord struct {
	ID           uint   `gorm:"primaryKey;autoIncrement:false"`
	SessionStore string `gorm:"size:16;not null"` // SESSION_STORE, as storeKind names it
	// Mark is a random value the servers also leave in their session store
	// (Redis, MongoDB), so that a command can tell that its REDIS_URL or
	// MONGODB_URL reaches the servers' store and not another one.
	Mark      string `gorm:"size:64;not null"`
	StartedAt time.Time
}

func (deploymentRecord) TableName() string { return deploymentTable }

// storeKind is the name of SESSION_STORE's store, one per store.
func storeKind(name string) string {
	if name == "mongodb" {
		return "mongo"
	}
	return name
}

// storeMark leaves and finds a deployment's mark in a session store that
// lives outside the database.
type storeMark interface {
	set(ctx context.Context, mark string) error
	has(ctx context.Context, mark string) (bool, error)
	env() string // the variable that names the store
}

// redisMark is the mark as a Redis key without expiry.
type redisMark struct{ client redis.UniversalClient }

func (m redisMark) key(mark string) string { return "ginauth-example:deployment:" + mark }

func (m redisMark) set(ctx context.Context, mark string) error {
	return m.client.Set(ctx, m.key(mark), "1", 0).Err()
}

func (m redisMark) has(ctx context.Context, mark string) (bool, error) {
	n, err := m.client.Exists(ctx, m.key(mark)).Result()
	return n == 1, err
}

func (redisMark) env() string { return "REDIS_URL" }

// mongoMark is the mark as a document of its own collection.
type mongoMark struct{ db *mongo.Database }

func (m mongoMark) set(ctx context.Context, mark string) error {
	_, err := m.db.Collection(deploymentTable).ReplaceOne(ctx, bson.D{{Key: "_id", Value: mark}},
		bson.D{{Key: "_id", Value: mark}}, options.Replace().SetUpsert(true))
	return err
}

func (m mongoMark) has(ctx context.Context, mark string) (bool, error) {
	n, err := m.db.Collection(deploymentTable).CountDocuments(ctx, bson.D{{Key: "_id", Value: mark}})
	return n == 1, err
}

func (mongoMark) env() string { return "MONGODB_URL" }

// recordDeployment writes down, at a server's start, which session store
// the servers use, and leaves the mark in that store. On PostgreSQL it runs
// under the migration lock, so that instances starting together agree on
// one mark.
func (a *app) recordDeployment(ctx context.Context) error {
	var rec deploymentRecord
	err := a.db.WithContext(ctx).Where("id = ?", 1).Take(&rec).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		rec = deploymentRecord{ID: 1, Mark: rand.Text()}
	case err != nil:
		return err
	}
	rec.SessionStore = storeKind(a.cfg.storeName)
	rec.StartedAt = a.cfg.now().UTC()
	if a.mark != nil {
		if err := a.mark.set(ctx, rec.Mark); err != nil {
			return fmt.Errorf("marking the session store: %w", err)
		}
	}
	return a.db.WithContext(ctx).Save(&rec).Error
}

// readDeployment returns the servers' record, or nil when no server has
// started on this database yet.
func (a *app) readDeployment(ctx context.Context) (*deploymentRecord, error) {
	if !a.db.WithContext(ctx).Migrator().HasTable(deploymentTable) {
		return nil, nil
	}
	var rec deploymentRecord
	err := a.db.WithContext(ctx).Where("id = ?", 1).Take(&rec).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading which session store the servers use: %w", err)
	}
	return &rec, nil
}

// checkStoreKind refuses, for an operator's command, an environment whose
// SESSION_STORE is not the servers' (rec; nil: no server has started on
// this database yet, and there is nothing to disagree with).
func (a *app) checkStoreKind(rec *deploymentRecord) error {
	if kind := storeKind(a.cfg.storeName); rec != nil && kind != rec.SessionStore {
		return &adminError{exitFailed, fmt.Sprintf(
			"the servers on this database keep their sessions in SESSION_STORE=%s (recorded at their last start, %s), "+
				"but this command's environment says SESSION_STORE=%s: run it with the servers' environment",
			rec.SessionStore, rec.StartedAt.UTC().Format(time.RFC3339), kind)}
	}
	return nil
}

// checkStoreMark refuses, for an operator's command, a session store of the
// servers' kind that is not theirs: another Redis or MongoDB server, or
// another database on it.
func (a *app) checkStoreMark(ctx context.Context, rec *deploymentRecord) error {
	if rec == nil || a.mark == nil {
		return nil
	}
	ok, err := a.mark.has(ctx, rec.Mark)
	if err != nil {
		return fmt.Errorf("checking that %s is the servers' session store: %w", a.mark.env(), err)
	}
	if !ok {
		return &adminError{exitFailed, fmt.Sprintf(
			"%s names a session store that is not the servers' (it lacks the mark they leave at start): "+
				"run the command with the servers' %s (a server leaves its mark again when it starts)",
			a.mark.env(), a.mark.env())}
	}
	return nil
}
