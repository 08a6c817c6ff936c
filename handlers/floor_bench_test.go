package handlers_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
)

// BenchmarkMeFloor is what BenchmarkMe is measured against: for each
// backend, bare Gin answering GET /me with the same user's JSON after one
// read of a session-sized value from the same kind of store (a map behind a
// lock; one Redis GET; one prepared SELECT by primary key), with no cookie,
// no signature and no session. Both report cpu-µs/op, the process's CPU time
// per request (user and system, every goroutine), which unlike ns/op does
// not count the time spent waiting for Redis or the database.
//
//	go test -run '^$' -bench 'BenchmarkMe(Floor)?$' -benchmem ./handlers
func BenchmarkMeFloor(b *testing.B) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	user := &apptest.Account{User: models.User{ID: 1, Username: "bench", CreatedAt: now, UpdatedAt: now}}
	value := strings.Repeat("x", 320) // about a signed-in session record
	for _, be := range apptest.Backends {
		b.Run(be.Name, func(b *testing.B) {
			read := floorRead(b, be, value)
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			r.GET("/me", func(c *gin.Context) {
				v, err := read(c.Request.Context())
				if err != nil || len(v) != len(value) {
					c.JSON(http.StatusServiceUnavailable, gin.H{"error": "store unavailable"})
					return
				}
				c.JSON(http.StatusOK, gin.H{"user": user})
			})
			req := httptest.NewRequest("GET", "/me", nil)
			testenv.BenchRequest(b, r, req)
		})
	}
}

// floorRead stores value in the backend's kind of store, and returns the
// one read that the floor does per request.
func floorRead(b *testing.B, be apptest.Backend, value string) func(context.Context) (string, error) {
	switch be.Name {
	case "memory":
		var mu sync.RWMutex
		m := map[string]string{"k": value}
		return func(context.Context) (string, error) {
			mu.RLock()
			defer mu.RUnlock()
			return m["k"], nil
		}
	case "redis":
		c, prefix := testenv.RedisClient(b)
		if err := c.Set(context.Background(), prefix+"floor", value, 0).Err(); err != nil {
			b.Fatal(err)
		}
		return func(ctx context.Context) (string, error) { return c.Get(ctx, prefix+"floor").Result() }
	default: // a GORM database: one prepared statement on its connection pool
		_, db := be.Open(b, fakeclock.New(time.Time{}))
		return floorSQL(b, db, value)
	}
}

func floorSQL(b *testing.B, db *gorm.DB, value string) func(context.Context) (string, error) {
	if err := db.Exec("CREATE TABLE floor_rows (id VARCHAR(64) PRIMARY KEY, data TEXT NOT NULL)").Error; err != nil {
		b.Fatal(err)
	}
	if err := db.Exec("INSERT INTO floor_rows (id, data) VALUES (?, ?)", "k", value).Error; err != nil {
		b.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		b.Fatal(err)
	}
	q := "SELECT data FROM floor_rows WHERE id = ?"
	if db.Dialector.Name() == "postgres" {
		q = "SELECT data FROM floor_rows WHERE id = $1"
	}
	stmt, err := sqlDB.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stmt.Close() })
	return func(ctx context.Context) (string, error) {
		var v string
		err := stmt.QueryRowContext(ctx, "k").Scan(&v)
		if err == sql.ErrNoRows {
			return "", nil
		}
		return v, err
	}
}
