package apptest

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/oauth"
	"github.com/ginauth/ginauth/auth/passkey"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// App is one instance of an application: a router with the prebuilt routes
// and a few routes of its own, served over real HTTP.
//
// Its own routes: GET /private (behind RequireAuth) and GET /public greet
// the user; POST /cart?item= and GET /cart keep a typed value in the
// session; POST /set?k=&v= and GET /get?k= a string; POST /profile?nickname=
// changes the user's nickname the README's way; POST /sudo is behind
// RequireRecentAuth (the default window); POST /app-action is behind
// CrossOrigin alone.
type App struct {
	Auth   *auth.Auth[*Account]                // the account service, on its session manager
	Users  *gormusers.Store[Account, *Account] // where Auth finds users
	Store  sessionstore.IndexedStore           // where the manager keeps sessions
	Clock  *fakeclock.Clock                    // the time of the manager, Auth and the store
	Server *httptest.Server                    // the router, over HTTP
	// Passkeys are the passkey ceremonies, with Config.Passkeys.
	Passkeys *passkey.Passkeys[*Account]
	// Providers are the provider sign-ins, with Config.Providers.
	Providers *oauth.Providers[*Account]
}

// Config is what an application instance is built from: its session
// manager's configuration, its Auth's, and the origins it trusts.
type Config struct {
	Session session.Config
	Auth    auth.Config[*Account] // its Sessions is set from Session
	Origins []string              // trusted by CrossOrigin, on the routes and /app-action
	// Passkeys, when set, mounts the passkey routes (its Store and Now
	// are set from the app's).
	Passkeys *passkey.Config
	// Providers, when set, mounts the routes of sign-in with other
	// providers (its Store, Now and, when empty, BaseURL are set from the
	// app's).
	Providers *oauth.Config
}

// Option changes the Config of an App before it is built.
type Option func(*Config)

// NewApp builds an application instance on a session store and user
// database; two apps on the same ones behave as two instances of a
// deployment. Passwords are hashed at bcrypt cost 4.
func NewApp(t testing.TB, store sessionstore.IndexedStore, db *gorm.DB, clock *fakeclock.Clock, opts ...Option) *App {
	t.Helper()
	users := gormusers.New[Account](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Session: session.Config{Store: store, Secrets: [][]byte{testSecret}, Now: clock.Now},
		Auth: auth.Config[*Account]{
			Users: users,
			// speed: the cost is a parameter, not what is tested here
			Passwords: auth.Passwords{BcryptCost: 4, AllowLowCost: true},
			Now:       clock.Now,
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	sm, err := session.New(cfg.Session)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth.Sessions = sm
	a, err := auth.New(cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.Origins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			t.Fatal(err)
		}
	}
	mount := []handlers.Option{handlers.WithRegister(), handlers.WithSecondFactor(), handlers.WithCrossOrigin(cop)}
	var keys *passkey.Passkeys[*Account]
	if cfg.Passkeys != nil {
		pc := *cfg.Passkeys
		pc.Store, pc.Now = users, clock.Now
		if keys, err = passkey.New(a, pc); err != nil {
			t.Fatal(err)
		}
		mount = append(mount, handlers.WithPasskeys(keys))
	}
	r := gin.New()
	srv := httptest.NewUnstartedServer(r)
	var providers *oauth.Providers[*Account]
	if cfg.Providers != nil {
		pc := *cfg.Providers
		pc.Store, pc.Now = users, clock.Now
		if pc.BaseURL == "" {
			pc.BaseURL = "http://" + srv.Listener.Addr().String()
		}
		if providers, err = oauth.New(a, pc); err != nil {
			t.Fatal(err)
		}
		mount = append(mount, handlers.WithProviders(providers))
	}
	r.Use(sm.Middleware())
	handlers.Mount(r.Group("/"), a, mount...)
	r.GET("/private", middleware.RequireAuth(a), func(c *gin.Context) {
		u, _ := a.User(c)
		c.String(http.StatusOK, "hello "+u.Username)
	})
	r.GET("/public", func(c *gin.Context) {
		u, err := a.User(c)
		if err != nil {
			c.String(http.StatusOK, "anonymous")
			return
		}
		c.String(http.StatusOK, "signed in as "+u.Username)
	})
	type cart struct {
		Items []string  `json:"items"`
		At    time.Time `json:"at"`
		N     int       `json:"n"`
	}
	r.POST("/cart", func(c *gin.Context) {
		cur, _ := session.Get[cart](c, "cart")
		cur.Items = append(cur.Items, c.Query("item"))
		cur.N++
		cur.At = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		if err := session.Set(c, "cart", cur); err != nil {
			middleware.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, cur)
	})
	r.GET("/cart", func(c *gin.Context) {
		cur, ok := session.Get[cart](c, "cart")
		c.JSON(http.StatusOK, gin.H{"ok": ok, "cart": cur})
	})
	r.POST("/set", func(c *gin.Context) {
		if err := session.Set(c, c.Query("k"), c.Query("v")); err != nil {
			middleware.WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/get", func(c *gin.Context) {
		v, ok := session.Get[string](c, c.Query("k"))
		c.JSON(http.StatusOK, gin.H{"ok": ok, "v": v})
	})
	// The README's way of changing a field of the user: a copy from the
	// store, written, then the cached copy dropped.
	r.POST("/profile", middleware.RequireAuth(a), func(c *gin.Context) {
		me, _ := a.User(c)
		acct, err := users.FindByID(c, me.AuthID())
		if err != nil {
			middleware.WriteError(c, err)
			return
		}
		acct.Nickname = c.Query("nickname")
		if err := users.Update(c, acct, "Nickname"); err != nil {
			middleware.WriteError(c, err)
			return
		}
		a.InvalidateUser(acct.AuthID())
		c.Status(http.StatusNoContent)
	})
	r.POST("/sudo", middleware.RequireRecentAuth(a, 0), func(c *gin.Context) {
		c.Status(http.StatusNoContent)
	})
	r.POST("/app-action", middleware.CrossOrigin(cop), func(c *gin.Context) {
		c.Status(http.StatusNoContent)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return &App{Auth: a, Users: users, Store: store, Clock: clock, Server: srv, Passkeys: keys, Providers: providers}
}

// NewEnv builds one application on the backend, on a clock of its own.
func NewEnv(t *testing.T, b Backend, opts ...Option) *App {
	clock := fakeclock.New(time.Time{})
	store, db := b.Open(t, clock)
	return NewApp(t, store, db, clock, opts...)
}

// Client returns a new client of the application, with an empty cookie jar.
func (a *App) Client(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, Base: a.Server.URL, Jar: jar, HTTP: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// WithCookie returns a fresh client that carries only the given cookie, as
// an attacker replaying a stolen one would.
func (a *App) WithCookie(t testing.TB, c *http.Cookie) *Client {
	cl := a.Client(t)
	u, _ := url.Parse(a.Server.URL)
	cl.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value}})
	return cl
}

// UserID returns the ID of the user of that name.
func (a *App) UserID(t testing.TB, name string) string {
	u, err := a.Users.FindByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.AuthID()
}

// Events collects an application's account events, from any goroutine:
// give its Add to auth.Config.OnEvent.
type Events struct {
	mu   sync.Mutex
	list []auth.Event
}

// Add records ev.
func (e *Events) Add(ev auth.Event) { e.mu.Lock(); e.list = append(e.list, ev); e.mu.Unlock() }

// Count counts the events of type typ and, unless action is "", of that
// Action.
func (e *Events) Count(typ auth.EventType, action string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Type == typ && (action == "" || ev.Action == action) {
			n++
		}
	}
	return n
}
