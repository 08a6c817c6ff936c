package redisstore_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

// A Redis at its maxmemory with maxmemory-policy noeviction (as
// deploy/compose.yaml runs it) refuses writes. DEPLOYING.md promises what
// users then see: sign-ins and session writes answer 503 store_unavailable,
// signed-in reads and sign-outs go on, nothing crashes, and everything
// works again once there is room.
func TestRedisFullAnswers503(t *testing.T) {
	srv := testenv.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()

	base := fullServer(t, redisstore.New(c, redisstore.Options{}))
	ada, bob := newBrowser(t, base), newBrowser(t, base)
	ada.want(ada.post("/register", `{"username":"ada","password":"ada's long password"}`), 201, "")
	bob.want(bob.post("/register", `{"username":"bob","password":"bob's long password"}`), 201, "")
	bob.want(bob.post("/logout", ""), 204, "")

	// A tiny maxmemory, just above what Redis holds now, then filled.
	used := func() int64 {
		info, err := c.InfoMap(ctx, "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
		return n
	}
	limit := used() + 2<<20
	for _, kv := range [][2]string{{"maxmemory", strconv.FormatInt(limit, 10)}, {"maxmemory-policy", "noeviction"}} {
		if err := c.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Large values first, then small ones: a large write can be refused
	// for the room its own request takes while in Redis's input buffer,
	// leaving room for small ones. Full means a 64-byte write is refused.
	n := 0
	for _, size := range []int{64 << 10, 1 << 10, 64} {
		value := strings.Repeat("x", size)
		for ; ; n++ {
			err := c.Set(ctx, "filler:"+strconv.Itoa(n), value, 0).Err()
			if err != nil && strings.HasPrefix(err.Error(), "OOM") {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n > 100000 {
				t.Fatalf("Redis took %d values under a maxmemory of %d bytes", n, limit)
			}
		}
	}
	// Redis's own buffers come and go by some kilobytes: hold it past its
	// limit, not at it, so that no write slips into a freed corner.
	over := used() - 256<<10
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(over, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Redis is full: maxmemory %d bytes, used_memory %d, after %d values", over, used(), n)

	// Full: a sign-in cannot store its session, a session write cannot be
	// stored; both answer 503 store_unavailable.
	bob.want(bob.post("/login", `{"username":"bob","password":"bob's long password"}`), 503, "store_unavailable")
	ada.want(ada.post("/set?v=1", ""), 503, "store_unavailable")
	// Reads of existing sessions go on.
	if r := ada.get("/me"); r.status != 200 || !strings.Contains(string(r.body), `"username":"ada"`) {
		t.Fatalf("GET /me on a full Redis: %d %s", r.status, r.body)
	}
	ada.want(ada.get("/sessions"), 200, "")
	// Signing out frees memory, and Redis allows it.
	ada.want(ada.post("/logout", ""), 204, "")
	ada.want(ada.get("/me"), 401, "unauthenticated")
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis after the 503s: %v", err)
	}

	// Room again: everything works.
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(limit+16<<20, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	bob.want(bob.post("/login", `{"username":"bob","password":"bob's long password"}`), 200, "")
	bob.want(bob.post("/set?v=2", ""), 204, "")
	bob.want(bob.get("/me"), 200, "")
}

// fullServer serves the prebuilt routes on the store, with users in a
// SQLite file, and POST /set, which writes a value into the session.
func fullServer(t *testing.T, store *redisstore.Store) string {
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "users.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = sqlDB.Close() })
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New(session.Config{Store: store, Secrets: [][]byte{[]byte("redis-full-test-secret-0123456789abcdef")}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config[*models.User]{
		Sessions:  sessions,
		Users:     users,
		Passwords: auth.Passwords{BcryptCost: 4, AllowLowCost: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.Middleware())
	handlers.Mount(r.Group("/"), a, handlers.WithRegister())
	r.POST("/set", middleware.RequireAuth(a), func(c *gin.Context) {
		if err := session.Set(c, "v", c.Query("v")); err != nil {
			middleware.WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	return s.URL
}

// browser is an HTTP client with a cookie jar.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

type answer struct {
	status int
	body   []byte
	code   string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (b *browser) do(method, path, body string) answer {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode}
	a.body, _ = io.ReadAll(res.Body)
	var e struct{ Code string }
	_ = json.Unmarshal(a.body, &e)
	a.code = e.Code
	return a
}

func (b *browser) get(path string) answer        { return b.do("GET", path, "") }
func (b *browser) post(path, body string) answer { return b.do("POST", path, body) }

func (b *browser) want(a answer, status int, code string) {
	b.t.Helper()
	if a.status != status || a.code != code {
		b.t.Fatalf("got %d %s, want %d %s", a.status, a.body, status, code)
	}
}
