package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/middleware"
)

// A commit that fails never reports success: the handler's 200 becomes 503
// store_unavailable, and nothing the handler set (its cookie, its body) goes
// out.
func TestFailedCommitReplacesTheResponse(t *testing.T) {
	clock := fakeclock.New(time.Time{})
	db := sqliteDB(t)
	store := gormStore(t, db, clock)
	a := newApp(t, store, db, clock)
	cl := a.client(t)
	cl.register("quinn", "quinn's password")

	r := gin.New()
	r.Use(middleware.Session(a.a))
	r.POST("/save", func(c *gin.Context) {
		if err := auth.Set(c, "k", "v"); err != nil {
			t.Error(err)
		}
		// The database goes away between load and commit.
		sqlDB, _ := db.DB()
		_ = sqlDB.Close()
		c.Header("X-Handler", "ran")
		c.SetCookie("app", "x", 0, "/", "", false, true)
		c.String(http.StatusOK, "saved!")
	})
	w := cl.serve(r, "POST", "/save")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"code":"store_unavailable"`) {
		t.Fatalf("commit failure answered %d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "saved!") || w.Header().Get("X-Handler") != "" || len(w.Result().Cookies()) != 0 {
		t.Errorf("the handler's response leaked out: %v %s", w.Header(), w.Body)
	}
	// And with the database still gone, loading answers 503 too: an outage
	// never looks like a logout.
	w = cl.serve(a.srv.Config.Handler, "GET", "/me")
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("load during an outage: %d %s", w.Code, w.Body)
	}
}

func TestRequireAuthWithoutSessionMiddleware(t *testing.T) {
	a := newEnv(t, backends[0])
	r := gin.New()
	r.GET("/x", middleware.RequireAuth(a.a), func(c *gin.Context) { c.String(200, "no") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("RequireAuth without the session middleware: %d", w.Code)
	}
}

// A session destroyed by another request (logout elsewhere) while this one
// changed it: the change is not written, the client is told its session
// ended, and its cookie is expired.
func TestCommitOnADestroyedSession(t *testing.T) {
	a := newEnv(t, backends[0])
	cl := a.client(t)
	cl.register("sara", "sara's password")
	r := gin.New()
	r.Use(middleware.Session(a.a))
	r.POST("/write", func(c *gin.Context) {
		u, _ := a.a.User(c)
		if _, err := a.store.DestroyUser(c.Request.Context(), u.AuthID()); err != nil { // elsewhere, meanwhile
			t.Error(err)
		}
		if err := auth.Set(c, "k", "v"); err != nil {
			t.Error(err)
		}
		c.Header("X-Handler", "ran")
		c.String(http.StatusOK, "written!")
	})
	w := cl.serve(r, "POST", "/write")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"code":"session_expired"`) {
		t.Fatalf("write to a destroyed session answered %d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Handler") != "" || strings.Contains(w.Body.String(), "written!") {
		t.Error("the handler's response leaked out")
	}
	var expired bool
	for _, c := range w.Result().Cookies() {
		expired = expired || (c.Name == "sid" && c.MaxAge < 0)
	}
	if !expired {
		t.Errorf("the session cookie was not expired: %v", w.Header().Values("Set-Cookie"))
	}
	cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "")
}
