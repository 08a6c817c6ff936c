package handlers_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/sessionstore"
)

func TestUserCache(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		cl.register("grace", "grace's password")
		id := cl.do("GET", "/me", nil).json["user"].(map[string]any)["id"]

		// An update behind the cache's back shows only after invalidation.
		db := a.users.DB()
		if err := db.Model(&Account{}).Where("id = ?", id).Update("email", "grace@example.org").Error; err != nil {
			t.Fatal(err)
		}
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "" {
			t.Errorf("email before invalidation = %v; the cache should still hold the old user", got)
		}
		a.a.InvalidateUser(fmt.Sprint(id))
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "grace@example.org" {
			t.Errorf("email after invalidation = %v", got)
		}

		// Without invalidation, an entry lasts UserCacheTTL (5 minutes).
		db.Model(&Account{}).Where("id = ?", id).Update("email", "grace@example.net")
		a.clock.Advance(4 * time.Minute)
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "grace@example.org" {
			t.Errorf("email inside the cache TTL = %v; want the cached one", got)
		}
		a.clock.Advance(time.Minute)
		if got := cl.do("GET", "/me", nil).json["user"].(map[string]any)["email"]; got != "grace@example.net" {
			t.Errorf("email once the cache entry expired = %v", got)
		}

		// A deleted user is logged out at the next request.
		if err := db.Exec("DELETE FROM accounts WHERE id = ?", id).Error; err != nil {
			t.Fatal(err)
		}
		a.a.InvalidateUser(fmt.Sprint(id))
		cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
		if c := cl.sessionCookie(); c != nil {
			t.Errorf("the deleted user's session cookie was not expired: %v", c)
		}
	})
}

func TestDeletedUserWithoutCache(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.UserCacheSize = -1 })
	cl := a.client(t)
	cl.register("heidi", "heidi's password")
	a.users.DB().Exec("DELETE FROM accounts")
	cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
}

// Two instances of an application share one store: a logout-all on one is
// seen by the other at its next request, while both take logins at once.
func TestTwoInstancesLogoutAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		if b.name == "memory" {
			t.Skip("a memory store is one process's: there is nothing to share")
		}
		clock := fakeclock.New(time.Time{})
		store, db := b.open(t, clock)
		one := newApp(t, store, db, clock)
		two := newApp(t, store, db, clock)
		one.client(t).register("ivan", "ivan's password")

		const n = 12
		clients := make([]*client, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := one
				if i%2 == 1 {
					inst = two
				}
				cl := inst.client(t)
				if r := cl.do("POST", "/login", creds("ivan", "ivan's password")); r.status != http.StatusOK {
					t.Errorf("login %d: %d %s", i, r.status, r.body)
					return
				}
				clients[i] = cl
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		// Every session works on the other instance too.
		for i, cl := range clients {
			other := two
			if i%2 == 1 {
				other = one
			}
			cl.on(other).want(cl.on(other).do("GET", "/me", nil), http.StatusOK, "")
		}
		r := clients[0].do("POST", "/logout-all", nil)
		clients[0].want(r, http.StatusOK, "")
		if got := r.json["revoked"].(float64); got != n+1 { // and the registration's
			t.Errorf("revoked %v sessions, want %d", got, n+1)
		}
		// Concurrently, every client on the instance that did not log out.
		var wg2 sync.WaitGroup
		for i, cl := range clients {
			wg2.Add(1)
			go func() {
				defer wg2.Done()
				if r := cl.on(two).do("GET", "/me", nil); r.status != http.StatusUnauthorized {
					t.Errorf("client %d on the other instance after logout-all: %d", i, r.status)
				}
			}()
		}
		wg2.Wait()
	})
}

// A request racing logout-all never leaves a live session behind.
func TestRequestRacingLogoutAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		a.client(t).register("judy", "judy's password")
		for round := range 5 {
			cl := a.client(t)
			cl.login("judy", "judy's password")
			stolen := cl.sessionCookie()
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 0 {
						cl.do("POST", "/logout-all", nil)
						return
					}
					a.withCookie(t, stolen).do("POST", fmt.Sprintf("/cart?item=%d", i), nil)
				}()
			}
			wg.Wait()
			if r := a.withCookie(t, stolen).do("GET", "/me", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("round %d: the session survived logout-all: %d", round, r.status)
			}
			if list, _ := a.store.List(context.Background(), a.userID(t, "judy")); len(list) != 0 {
				t.Fatalf("round %d: %d sessions left after logout-all", round, len(list))
			}
		}
	})
}

func (a *app) userID(t *testing.T, name string) string {
	u, err := a.users.FindByUsername(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.AuthID()
}

func TestListAndRevokeSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		mallory := a.client(t)
		mallory.register("mallory", "mallory's password")
		victim := a.client(t)
		victim.register("victor", "victor's password")
		second := a.client(t)
		second.login("victor", "victor's password")

		r := victim.do("GET", "/sessions", nil)
		victim.want(r, http.StatusOK, "")
		list := r.json["sessions"].([]any)
		if len(list) != 2 {
			t.Fatalf("sessions = %s", r.body)
		}
		var current, otherID string
		for _, s := range list {
			m := s.(map[string]any)
			for _, k := range []string{"id", "current", "createdAt", "lastActivity", "ipAddress", "userAgent"} {
				if _, ok := m[k]; !ok {
					t.Errorf("session entry lacks %s", k)
				}
			}
			if m["current"].(bool) {
				current = m["id"].(string)
			} else {
				otherID = m["id"].(string)
			}
		}
		if current == "" || otherID == "" {
			t.Fatalf("current/other not marked: %s", r.body)
		}
		// The handle is not the cookie, nor in it.
		if c := victim.sessionCookie(); strings.Contains(c.Value, current) {
			t.Error("the cookie contains the listed handle")
		}
		// Another user's handle, and garbage, are 404.
		victim.want(mallory.do("DELETE", "/sessions/"+otherID, nil), http.StatusNotFound, "not_found")
		for _, bad := range []string{"x", strings.Repeat("0", 32), current + "00", "%25"} {
			victim.want(victim.do("DELETE", "/sessions/"+bad, nil), http.StatusNotFound, "not_found")
		}
		second.want(second.do("GET", "/me", nil), http.StatusOK, "")
		victim.want(victim.do("DELETE", "/sessions/"+otherID, nil), http.StatusNoContent, "")
		second.want(second.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		victim.want(victim.do("DELETE", "/sessions/"+otherID, nil), http.StatusNotFound, "not_found")
		// Revoking the current session logs this client out.
		victim.want(victim.do("DELETE", "/sessions/"+current, nil), http.StatusNoContent, "")
		victim.want(victim.do("GET", "/me", nil), http.StatusUnauthorized, "")
	})
}

func TestPasswordChange(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		cl.register("kate", "kate's password")
		others := []*client{a.client(t), a.client(t)}
		for _, o := range others {
			o.login("kate", "kate's password")
		}
		before := cl.sessionCookie()
		for _, tc := range []struct {
			body map[string]any
			code string
			st   int
		}{
			{map[string]any{"currentPassword": "wrong one!", "newPassword": "kate's new password"}, "invalid_credentials", 401},
			{map[string]any{"currentPassword": "kate's password", "newPassword": "short"}, "weak_password", 400},
			{map[string]any{"currentPassword": "kate's password", "newPassword": strings.Repeat("é", 37)}, "password_too_long", 400},
			{map[string]any{"currentPassword": "kate's password"}, "bad_request", 400},
		} {
			cl.want(cl.do("POST", "/password", tc.body), tc.st, tc.code)
		}
		r := cl.do("POST", "/password", map[string]any{"currentPassword": "kate's password", "newPassword": "kate's new password"})
		cl.want(r, http.StatusOK, "")
		if r.json["revoked"].(float64) != 2 {
			t.Errorf("revoked = %v, want 2", r.json["revoked"])
		}
		after := cl.sessionCookie()
		if after == nil || after.Value == before.Value {
			t.Error("the session was not regenerated")
		}
		cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
		for _, o := range others {
			o.want(o.do("GET", "/me", nil), http.StatusUnauthorized, "")
		}
		a.withCookie(t, before).want(a.withCookie(t, before).do("GET", "/me", nil), http.StatusUnauthorized, "")
		n := a.client(t)
		n.want(n.do("POST", "/login", creds("kate", "kate's password")), http.StatusUnauthorized, "invalid_credentials")
		n.login("kate", "kate's new password")
	})
}

func TestRehashOnCostChange(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := backends[0].open(t, clock)
	old := newApp(t, store, db, clock)
	old.client(t).register("leo", "leo's password")
	newer := newApp(t, store, db, clock, func(c *authConfig) { c.BcryptCost = 5 })
	hash := func() string {
		u, err := newer.users.FindByUsername(context.Background(), "leo")
		if err != nil {
			t.Fatal(err)
		}
		return u.PasswordHash
	}
	if c, _ := bcrypt.Cost([]byte(hash())); c != 4 {
		t.Fatalf("registered at cost %d", c)
	}
	newer.client(t).login("leo", "leo's password")
	if c, _ := bcrypt.Cost([]byte(hash())); c != 5 {
		t.Errorf("after login the hash has cost %d, want 5", c)
	}
	newer.client(t).login("leo", "leo's password")
}

func TestHostileBodies(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("mia", "mia's password")
	big := `{"username":"mia","password":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"empty JSON", "application/json", "", 400, "bad_request"},
		{"not JSON", "application/json", "{not json", 400, "bad_request"},
		{"array", "application/json", `["mia","pw"]`, 400, "bad_request"},
		{"wrong type", "application/json", `{"username":5,"password":"mia's password"}`, 400, "bad_request"},
		{"null", "application/json", `{"username":null,"password":"mia's password"}`, 400, "bad_request"},
		{"bool as string", "application/json", `{"username":"mia","password":"mia's password","remember":"yes"}`, 400, "bad_request"},
		{"duplicate key", "application/json", `{"username":"x","username":"mia","password":"mia's password"}`, 400, "bad_request"},
		{"trailing garbage", "application/json", `{"username":"mia","password":"mia's password"} x`, 400, "bad_request"},
		{"two objects", "application/json", `{"username":"mia","password":"mia's password"}{}`, 400, "bad_request"},
		{"missing password", "application/json", `{"username":"mia"}`, 400, "bad_request"},
		{"oversized", "application/json", big, 413, "payload_too_large"},
		{"oversized form", "application/x-www-form-urlencoded", "username=mia&password=" + strings.Repeat("x", 70<<10), 413, "payload_too_large"},
		{"xml", "application/xml", "<login/>", 415, "unsupported_media_type"},
		{"malformed form", "application/x-www-form-urlencoded", "username=%zz&password=x", 303, ""},
		{"repeated form field", "application/x-www-form-urlencoded", "username=a&username=mia&password=mia%27s+password", 303, ""},
		{"NUL in username", "application/json", `{"username":"mi\u0000a","password":"mia's password"}`, 401, "invalid_credentials"},
		{"very long username", "application/json", `{"username":"` + strings.Repeat("m", 5000) + `","password":"x"}`, 401, "invalid_credentials"},
		{"long password", "application/json", `{"username":"mia","password":"` + strings.Repeat("p", 5000) + `"}`, 401, "invalid_credentials"},
		{"extra fields", "application/json", `{"username":"mia","password":"mia's password","x":[1,{"y":2}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.client(t)
			r := cl.do("POST", "/login", tt.body, "Content-Type", tt.ct)
			if r.status != tt.status || (tt.code != "" && r.code() != tt.code) {
				t.Errorf("%d %.200s; want %d %s", r.status, r.body, tt.status, tt.code)
			}
			if r.status >= 400 && r.json["error"] == nil {
				t.Errorf("error body is not the JSON contract: %.200s", r.body)
			}
		})
	}
}

// The budget of an authenticated read-only request inside the touch
// interval on Redis: exactly one command (the load), no write.
func TestRedisCommandsPerRequest(t *testing.T) {
	c, prefix := redisClient(t)
	counter := &testenv.CommandCounter{}
	c.AddHook(counter)
	clock := fakeclock.New(time.Time{})
	store := sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix, Now: clock.Now})
	a := newApp(t, store, sqliteDB(t), clock)
	cl := a.client(t)
	cl.register("nina", "nina's password")
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")

	counter.Take()
	clock.Advance(10 * time.Second)
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	if got := counter.Take(); strings.Join(got, " ") != "HGETALL" {
		t.Errorf("a read-only request inside the touch interval sent %v; want [HGETALL]", got)
	}
	clock.Advance(2 * time.Minute)
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	if got := counter.Take(); strings.Join(got, " ") != "HGETALL EVALSHA" {
		t.Errorf("a read-only request after the touch interval sent %v; want [HGETALL EVALSHA]", got)
	}
}

// Code written for gin-contrib/sessions runs unchanged on ginauth's
// session.
func TestGinContribSessionsDefault(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := backends[0].open(t, clock)
	a := newApp(t, store, db, clock)
	r := gin.New()
	r.Use(middleware.Session(a.a))
	r.GET("/visit", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("visits").(int)
		s.Set("visits", n+1)
		s.AddFlash("hello")
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "%d", n+1)
	})
	r.GET("/flash", func(c *gin.Context) {
		c.String(http.StatusOK, "%v", sessions.Default(c).Flashes())
	})
	a.srv.Config.Handler = r
	cl := a.client(t)
	for i := 1; i <= 3; i++ {
		if got := cl.do("GET", "/visit", nil); string(got.body) != fmt.Sprint(i) {
			t.Fatalf("visit %d: %s", i, got.body)
		}
	}
	if got := cl.do("GET", "/flash", nil); string(got.body) != "[hello hello hello]" {
		t.Errorf("flashes = %s", got.body)
	}
	if got := cl.do("GET", "/flash", nil); string(got.body) != "[]" {
		t.Errorf("flashes after reading = %s", got.body)
	}
}

// sessionstore.Regenerate works on ginauth's own session too: a new ID, the
// values and the signed-in user kept, the planted ID dead.
func TestGinContribRegenerate(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	store, db := backends[0].open(t, clock)
	a := newApp(t, store, db, clock)
	r := gin.New()
	r.Use(middleware.Session(a.a))
	handlers.Mount(r.Group("/"), a.a, handlers.WithRegister())
	r.GET("/visit", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("theme", "dark")
		_ = s.Save()
	})
	r.GET("/regenerate", func(c *gin.Context) {
		if err := sessionstore.Regenerate(sessions.Default(c)); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
		}
	})
	r.GET("/whoami", func(c *gin.Context) {
		u, _ := a.a.User(c)
		name := "anonymous"
		if u != nil {
			name = u.Username
		}
		c.String(http.StatusOK, "%s %v", name, sessions.Default(c).Get("theme"))
	})
	a.srv.Config.Handler = r
	cl := a.client(t)
	cl.do("GET", "/visit", nil)
	planted := cl.sessionCookie()
	cl.do("GET", "/regenerate", nil)
	if c := cl.sessionCookie(); c == nil || c.Value == planted.Value {
		t.Fatal("Regenerate kept the session ID")
	}
	if got := cl.do("GET", "/whoami", nil); string(got.body) != "anonymous dark" {
		t.Errorf("after Regenerate: %s", got.body)
	}
	if got := a.withCookie(t, planted).do("GET", "/whoami", nil); string(got.body) != "anonymous <nil>" {
		t.Errorf("the old cookie after Regenerate: %s", got.body)
	}
	cl.register("gina", "gina's password")
	before := cl.sessionCookie()
	cl.do("GET", "/regenerate", nil)
	if c := cl.sessionCookie(); c == nil || c.Value == before.Value {
		t.Fatal("Regenerate kept the signed-in session's ID")
	}
	if got := cl.do("GET", "/whoami", nil); string(got.body) != "gina <nil>" {
		t.Errorf("signed-in session after Regenerate: %s", got.body)
	}
}

func TestFormLoginRedirects(t *testing.T) {
	a := newEnv(t, backends[0])
	a.client(t).register("olga", "olga's password")
	cl := a.client(t)
	r := cl.do("POST", "/login", url.Values{"username": {"olga"}, "password": {"nope"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?error=1" {
		t.Errorf("failed form login: %d to %q", r.status, r.header.Get("Location"))
	}
	r = cl.do("POST", "/login", url.Values{"username": {"olga"}, "password": {"olga's password"}, "remember": {"on"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Errorf("form login: %d to %q", r.status, r.header.Get("Location"))
	}
	if c := r.cookie("sid"); c == nil || c.MaxAge <= 0 {
		t.Errorf("remember=on did not give a persistent cookie: %v", r.header.Get("Set-Cookie"))
	}
	r = cl.do("POST", "/logout", url.Values{})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Errorf("form logout: %d to %q", r.status, r.header.Get("Location"))
	}
	// A saved return address that leaves the site is ignored.
	for _, bad := range []string{"//evil.example/", "/\\evil.example", "https://evil.example/", "/ok\r\nX: y"} {
		if auth.LocalPath(bad) {
			t.Errorf("LocalPath(%q) = true", bad)
		}
	}
}

func TestSaveUninitialized(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.SaveUninitialized = true })
	cl := a.client(t)
	r := cl.do("GET", "/public", nil)
	if r.cookie("sid") == nil {
		t.Fatal("SaveUninitialized: an anonymous visit got no cookie")
	}
	if n := a.store.(*sessionstore.MemoryStore).Len(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
	// The same visitor keeps that one session.
	cl.do("GET", "/public", nil)
	if n := a.store.(*sessionstore.MemoryStore).Len(); n != 1 {
		t.Errorf("%d records after a second visit, want 1", n)
	}
}

// The debug log names sessions by a short hash, never by the cookie or ID.
func TestDebugLog(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := newEnv(t, backends[0], func(c *authConfig) { c.Logger = logger })
	r := gin.New()
	r.Use(middleware.Debug(a.a, logger), middleware.Session(a.a))
	handlers.Mount(r.Group("/"), a.a, handlers.WithRegister())
	a.srv.Config.Handler = r
	cl := a.client(t)
	cl.register("dora", "dora's password")
	cookie := cl.sessionCookie().Value
	cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
	cl.want(cl.do("POST", "/logout", nil), http.StatusNoContent, "")
	out := logs.String()
	for _, want := range []string{"route=/me", "status=200", "signedIn=true", "session=session(", "session created", "session destroyed"} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %q:\n%s", want, out)
		}
	}
	codec, _ := sessionstore.NewCodec([][]byte{testSecret}, sessionstore.CodecOptions{})
	id, _, _, _ := codec.Decode("sid", cookie)
	if !strings.Contains(out, id.Key().Short()) {
		t.Errorf("debug log does not name the session by its short hash %s", id.Key().Short())
	}
	for _, secret := range []string{cookie, id.Key().String(), "dora's password"} {
		if strings.Contains(out, secret) {
			t.Errorf("debug log carries a secret: %.20s…", secret)
		}
	}
}

// InvalidateUser on one instance reaches the caches of the others.
func TestUserInvalidationAcrossInstances(t *testing.T) {
	noLeaks(t)
	c, prefix := redisClient(t)
	clock := fakeclock.New(time.Time{})
	store := sessionstore.NewRedisStore(c, sessionstore.RedisOptions{Prefix: prefix, Now: clock.Now})
	db := sqliteDB(t)
	bus := func(cfg *authConfig) { cfg.UserInvalidation = auth.NewRedisUserInvalidation(c, prefix+"invalidate") }
	one, two := newApp(t, store, db, clock, bus), newApp(t, store, db, clock, bus)
	cl := one.client(t)
	cl.register("tess", "tess's password")
	other := cl.on(two)
	email := func() any { return other.do("GET", "/me", nil).json["user"].(map[string]any)["email"] }
	if got := email(); got != "" {
		t.Fatalf("email = %v", got)
	}
	id := one.userID(t, "tess")
	db.Model(&Account{}).Where("id = ?", id).Update("email", "tess@example.org")
	if got := email(); got != "" {
		t.Fatalf("the other instance did not cache the user: %v", got)
	}
	// Invalidate on instance one; instance two drops its copy. The message
	// travels through Redis (and may precede the subscription), so publish
	// until it arrives.
	testenv.Eventually(t, "the invalidation reaches the other instance", func() bool {
		one.a.InvalidateUser(id)
		return email() == "tess@example.org"
	})
	_ = one.a.Close()
	_ = two.a.Close()
	one.srv.Close()
	two.srv.Close()
}
