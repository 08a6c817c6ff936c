package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/redis/go-redis/v9"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

type config struct {
	addr, databaseURL, storeName, redisURL string
	mongoURL                               string
	secrets                                [][]byte
	randomSecret                           bool
	idle, absolute, touch                  time.Duration
	secure                                 bool
	proxies                                []string
}

func loadConfig(getenv func(string) string) (config, error) {
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	c := config{
		addr:        or("ADDR", "127.0.0.1:8080"),
		databaseURL: or("DATABASE_URL", "ginauth-example.db"),
		storeName:   or("SESSION_STORE", "gorm"),
		redisURL:    or("REDIS_URL", "redis://127.0.0.1:6379/0"),
		mongoURL:    or("MONGODB_URL", "mongodb://127.0.0.1:27017/ginauth"),
	}
	for _, s := range strings.Split(getenv("SESSION_SECRET"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.secrets = append(c.secrets, []byte(s))
		}
	}
	if len(c.secrets) == 0 {
		c.secrets = [][]byte{[]byte(rand.Text() + rand.Text())}
		c.randomSecret = true
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{{"IDLE_TIMEOUT", &c.idle}, {"ABSOLUTE_TIMEOUT", &c.absolute}, {"TOUCH_INTERVAL", &c.touch}}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			var err error
			if *d.dst, err = time.ParseDuration(v); err != nil {
				return c, fmt.Errorf("%s: %w", d.name, err)
			}
		}
	}
	if v := getenv("COOKIE_SECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("COOKIE_SECURE: %w", err)
		}
		c.secure = b
	}
	for _, p := range strings.Split(getenv("TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.proxies = append(c.proxies, p)
		}
	}
	return c, nil
}

// openDatabase opens PostgreSQL for a postgres:// URL and SQLite otherwise.
func openDatabase(url string, logw io.Writer) (*gorm.DB, error) {
	// Statements are logged with placeholders, never their values: a
	// failed INSERT of a user would otherwise print the password hash.
	gcfg := &gorm.Config{Logger: logger.New(log.New(logw, "", log.LstdFlags), logger.Config{
		SlowThreshold: 200 * time.Millisecond, LogLevel: logger.Warn, ParameterizedQueries: true,
	})}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return gorm.Open(postgres.Open(url), gcfg)
	}
	db, err := gorm.Open(sqlite.Open(url+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"), gcfg)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1) // SQLite has one writer
	return db, nil
}

func openSessionStore(c config, db *gorm.DB) (sessionstore.IndexedStore, func(), error) {
	switch c.storeName {
	case "gorm":
		s, err := gormstore.New(db, gormstore.Options{AutoMigrate: true})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close() }, nil
	case "redis":
		opts, err := redis.ParseURL(c.redisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		client := redis.NewClient(opts)
		return redisstore.New(client, redisstore.Options{}), func() { _ = client.Close() }, nil
	case "memory":
		s := memstore.New(memstore.Options{})
		return s, func() { _ = s.Close() }, nil
	case "mongo", "mongodb":
		return openMongo(c.mongoURL)
	}
	return nil, nil, fmt.Errorf("SESSION_STORE %q: want gorm, redis, mongo or memory", c.storeName)
}
