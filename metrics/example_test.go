package metrics_test

import (
	"bufio"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/metrics"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// An application wires the metrics into every hook of its Auth, and serves
// them on an address of their own, apart from the application's.
func Example() {
	dir, _ := os.MkdirTemp("", "metrics-example")
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		log.Fatal(err)
	}
	sessions := memstore.New(memstore.Options{})
	defer sessions.Close()

	// The metrics, on a registry of their own (the default is
	// prometheus.DefaultRegisterer).
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Options{Registerer: reg})
	if err != nil {
		log.Fatal(err)
	}
	sm, err := session.New(session.Config{
		Store:   m.Store(sessions, "memory"), // every store call timed
		Secrets: [][]byte{[]byte("example-secret-0123456789abcdef-0123")},
	})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config[*models.User]{
		Sessions: sm,
		Users:    users,
		Metrics:  m,              // bcrypt slots and the user cache
		OnEvent:  m.OnEvent(nil), // account events; pass the audit log's handler, if any
	})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	r := gin.New()
	r.Use(sm.Middleware())
	handlers.Mount(r.Group("/"), a, handlers.WithRegister())
	app := httptest.NewServer(r)
	defer app.Close()
	// In production: http.ListenAndServe(metricsAddr, promhttp.HandlerFor(reg, ...)).
	monitoring := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer monitoring.Close()

	post := func(path, body string) {
		res, err := http.Post(app.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		res.Body.Close()
	}
	post("/register", `{"username":"mia","password":"mia's password"}`) // signs mia in
	post("/login", `{"username":"mia","password":"not mia's password"}`)

	res, err := http.Get(monitoring.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "ginauth_logins_total{") {
			fmt.Println(lines.Text())
		}
	}
	// Output:
	// ginauth_logins_total{result="busy"} 0
	// ginauth_logins_total{result="error"} 0
	// ginauth_logins_total{result="https_required"} 0
	// ginauth_logins_total{result="invalid_credentials"} 1
	// ginauth_logins_total{result="locked"} 0
	// ginauth_logins_total{result="success"} 1
}
