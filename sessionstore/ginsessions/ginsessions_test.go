package ginsessions_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/tester"
	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/ginsessions"
	"github.com/ginauth/ginauth/sessionstore/gormstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
	"github.com/ginauth/ginauth/sessionstore/redisstore"
)

func init() {
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard // gin-contrib's tester uses gin.Default's request log
}

var secret = []byte("ginsessions-test-secret-0123456789ab")

// stores opens each kind of store the adapter must work on.
var stores = []struct {
	name string
	open func(t *testing.T, clock *fakeclock.Clock) sessionstore.IndexedStore
}{
	{"memory", func(t *testing.T, clock *fakeclock.Clock) sessionstore.IndexedStore {
		s := memstore.New(memstore.Options{Now: clock.Now, SweepInterval: -1})
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"redis", func(t *testing.T, clock *fakeclock.Clock) sessionstore.IndexedStore {
		c, prefix := testenv.RedisClient(t)
		return redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	}},
	{"sqlite", func(t *testing.T, clock *fakeclock.Clock) sessionstore.IndexedStore {
		db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "s.db")), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		s, err := gormstore.New(db, gormstore.Options{AutoMigrate: true, Now: clock.Now, PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

func newStore(t *testing.T, store sessionstore.IndexedStore, clock *fakeclock.Clock) *ginsessions.Store {
	t.Helper()
	m, err := session.New(session.Config{Store: store, Secrets: [][]byte{secret}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return ginsessions.NewStore(m)
}

// gin-contrib/sessions' own suite, on every kind of store: the adapter is
// a drop-in.
func TestGinContribTester(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			factory := func(t *testing.T) sessions.Store {
				clock := fakeclock.New(time.Time{})
				return newStore(t, st.open(t, clock), clock)
			}
			t.Run("GetSet", func(t *testing.T) { tester.GetSet(t, factory) })
			t.Run("DeleteKey", func(t *testing.T) { tester.DeleteKey(t, factory) })
			t.Run("Flashes", func(t *testing.T) { tester.Flashes(t, factory) })
			t.Run("Clear", func(t *testing.T) { tester.Clear(t, factory) })
			t.Run("Options", func(t *testing.T) { tester.Options(t, factory) })
			t.Run("Many", func(t *testing.T) { tester.Many(t, factory) })
		})
	}
}

// type registered with Register.
type prefs struct {
	Theme string `json:"theme"`
}

func init() { ginsessions.Register(prefs{}) }

func router(store sessions.Store) *gin.Engine {
	r := gin.New()
	r.Use(sessions.Sessions("sid", store))
	r.GET("/count", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("count").(int) // gin-contrib users assert ints: the type must survive
		s.Set("count", n+1)
		s.Set("prefs", prefs{Theme: "dark"})
		s.Set("when", time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "%d", n+1)
	})
	r.GET("/peek", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("count").(int)
		p, _ := s.Get("prefs").(prefs)
		w, _ := s.Get("when").(time.Time)
		c.String(http.StatusOK, "%d %s %d", n, p.Theme, w.Year())
	})
	r.GET("/unregistered", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("x", struct{ A int }{1})
		if err := s.Save(); !errors.Is(err, sessionstore.ErrEncode) {
			c.String(http.StatusInternalServerError, "Save of an unregistered type: %v", err)
			return
		}
		c.String(http.StatusOK, "refused")
	})
	return r
}

func do(r http.Handler, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func cookie(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	t.Fatalf("no cookie: %d %s", w.Code, w.Body)
	return nil
}

// Values keep their Go type through every store: ints stay ints, registered
// types come back as themselves; an unregistered type is refused at Save.
func TestTypedValues(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			clock := fakeclock.New(time.Time{})
			r := router(newStore(t, st.open(t, clock), clock))
			c := cookie(t, do(r, "/count"))
			if got := do(r, "/count", c).Body.String(); got != "2" {
				t.Fatalf("second count = %s", got)
			}
			if got := do(r, "/peek", c).Body.String(); got != "2 dark 2026" {
				t.Errorf("peek = %q", got)
			}
			if w := do(r, "/unregistered", c); w.Code != http.StatusOK {
				t.Error(w.Body)
			}
		})
	}
}

// A request that only reads sends no cookie, and refreshes the session's
// expiry once per touch interval: the session outlives its idle timeout
// (30 minutes) while it is read, within the anonymous one (an hour).
func TestReadOnlyRequests(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	r := router(newStore(t, stores[0].open(t, clock), clock))
	c := cookie(t, do(r, "/count"))
	for range 2 {
		clock.Advance(25 * time.Minute) // under the idle timeout each time, over it in all
		w := do(r, "/peek", c)
		if w.Body.String() != "1 dark 2026" || len(w.Result().Cookies()) != 0 {
			t.Fatalf("peek: %q, cookies %v", w.Body, w.Result().Cookies())
		}
	}
}

// A store that cannot be reached never has its session replaced by an
// empty one: Save refuses.
func TestStoreDown(t *testing.T) {
	c, prefix := testenv.RedisClient(t)
	clock := fakeclock.New(time.Time{})
	store := redisstore.New(c, redisstore.Options{Prefix: prefix, Now: clock.Now})
	r := router(newStore(t, store, clock))
	ck := cookie(t, do(r, "/count"))
	_ = c.Close()
	w := do(r, "/count", ck)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("count with the store down: %d %s", w.Code, w.Body)
	}
}

// Regenerate gives a new ID at sign-in: the values are kept, the planted
// ID is worthless.
func TestRegenerateDropsPlantedID(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	r := router(newStore(t, stores[0].open(t, clock), clock))
	r.GET("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		if err := ginsessions.Regenerate(s); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		s.Set("user", "42")
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
		}
	})
	planted := cookie(t, do(r, "/count"))
	mine := cookie(t, do(r, "/login", planted))
	if mine.Value == planted.Value {
		t.Fatal("the ID did not change")
	}
	if got := do(r, "/peek", mine).Body.String(); got != "1 dark 2026" {
		t.Errorf("values after Regenerate: %q", got)
	}
	if got := do(r, "/peek", planted).Body.String(); got != "0  1" {
		t.Errorf("the planted ID still works: %q", got)
	}
}

// A request that only reads, without a cookie, stores nothing, even on a
// manager that saves uninitialized sessions: a session nobody was sent the
// cookie of would be state an anonymous client makes at will.
func TestReadWithoutCookieStoresNothing(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store := memstore.New(memstore.Options{Now: clock.Now, SweepInterval: -1})
	t.Cleanup(func() { _ = store.Close() })
	m, err := session.New(session.Config{Store: store, Secrets: [][]byte{secret}, Now: clock.Now, SaveUninitialized: true})
	if err != nil {
		t.Fatal(err)
	}
	r := router(ginsessions.NewStore(m))
	for range 5 {
		if w := do(r, "/peek"); w.Body.String() != "0  1" {
			t.Fatalf("peek: %q", w.Body)
		}
	}
	if n := store.Len(); n != 0 {
		t.Errorf("%d sessions stored by requests that only read, without a cookie", n)
	}
}
