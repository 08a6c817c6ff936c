package storetest

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/tester"
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/ginsessions"
)

// Secrets the suite signs cookies with: the current one and a retired one.
var (
	SecretNew = []byte("storetest-secret-new-0123456789abcdef")
	SecretOld = []byte("storetest-secret-old-0123456789abcdef")
)

const cookieName = "sid"

func init() {
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard // gin-contrib's tester uses gin.Default's request log
}

// secrets lists secrets, newest first.
func secrets(s ...[]byte) [][]byte { return s }

// codec is what reads the cookies that a store with the secrets issues.
func codec(t testing.TB, secrets ...[]byte) *session.Codec {
	t.Helper()
	c, err := session.NewCodec(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ginStore(t testing.TB, h *Harness, secrets [][]byte, log *slog.Logger) *ginsessions.Store {
	t.Helper()
	g, err := ginsessions.NewStore(h.Store, ginsessions.Options{Secrets: secrets, Now: h.Clock.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func runGin(t *testing.T, newHarness Factory) {
	factory := func(t *testing.T) sessions.Store {
		return ginStore(t, newHarness(t), secrets(SecretNew), nil)
	}
	// gin-contrib/sessions' own suite: the store is a drop-in.
	t.Run("tester/GetSet", func(t *testing.T) { tester.GetSet(t, factory) })
	t.Run("tester/DeleteKey", func(t *testing.T) { tester.DeleteKey(t, factory) })
	t.Run("tester/Flashes", func(t *testing.T) { tester.Flashes(t, factory) })
	t.Run("tester/Clear", func(t *testing.T) { tester.Clear(t, factory) })
	t.Run("tester/Options", func(t *testing.T) { tester.Options(t, factory) })
	t.Run("tester/Many", func(t *testing.T) { tester.Many(t, factory) })

	t.Run("TypedValues", func(t *testing.T) { testGinTyped(t, newHarness(t)) })
	t.Run("TamperedCookie", func(t *testing.T) { testGinTampered(t, newHarness(t)) })
	t.Run("DuplicateCookies", func(t *testing.T) { testGinDuplicates(t, newHarness(t)) })
	t.Run("OldSecret", func(t *testing.T) { testGinOldSecret(t, newHarness(t)) })
	t.Run("Corrupt", func(t *testing.T) { testGinCorrupt(t, newHarness(t)) })
	t.Run("Down", func(t *testing.T) { testGinDown(t, newHarness(t)) })
	t.Run("ReadOnlyNoCookie", func(t *testing.T) { testGinReadOnly(t, newHarness(t)) })
	t.Run("RegenerateDropsPlantedID", func(t *testing.T) { testGinRegenerate(t, newHarness(t)) })
}

// router has /set (stores the values of roundTripValues), /get (checks
// them), /count (increments an int) and /peek (reads "count", never saves).
func router(t *testing.T, store sessions.Store) *gin.Engine {
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, store))
	r.GET("/set", func(c *gin.Context) {
		s := sessions.Default(c)
		for k, v := range roundTripValues() {
			s.Set(k, v)
		}
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/get", func(c *gin.Context) {
		s := sessions.Default(c)
		for k, want := range roundTripValues() {
			if got := s.Get(k); !equalValue(got, want) {
				t.Errorf("through gin-contrib, %q = %#v (%T), want %#v (%T)", k, got, got, want, want)
			}
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/count", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("count").(int) // gin-contrib users assert ints: the type must survive
		s.Set("count", n+1)
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "%d", n+1)
	})
	r.GET("/peek", func(c *gin.Context) {
		n, _ := sessions.Default(c).Get("count").(int)
		c.String(http.StatusOK, "%d", n)
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

func sessionCookie(t testing.TB, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in response (status %d, body %q)", cookieName, w.Code, w.Body.String())
	return nil
}

func testGinTyped(t *testing.T, h *Harness) {
	r := router(t, ginStore(t, h, secrets(SecretNew), nil))
	w := do(r, "/set")
	if w.Code != http.StatusOK {
		t.Fatalf("/set: %d %s", w.Code, w.Body)
	}
	do(r, "/get", sessionCookie(t, w))
}

func testGinTampered(t *testing.T, h *Harness) {
	r := router(t, ginStore(t, h, secrets(SecretNew), nil))
	w := do(r, "/count")
	good := sessionCookie(t, w)
	do(r, "/count", good) // count = 2

	v := good.Value
	tampered := []string{
		"",
		"garbage",
		v[:len(v)/2],
		v[:len(v)-2] + "AA",
		strings.Repeat("A", 5000),
		v + v,
		v + "=",
	}
	flip := []byte(v)
	flip[len(flip)/3] ^= 0x01
	tampered = append(tampered, string(flip))
	for _, bad := range tampered {
		w := do(r, "/count", &http.Cookie{Name: cookieName, Value: bad})
		if w.Code != http.StatusOK || w.Body.String() != "1" {
			t.Errorf("tampered cookie %.20q: %d %q; want a fresh session (count 1)", bad, w.Code, w.Body)
		}
	}
	// Bytes no browser would send, in a raw header.
	for _, raw := range []string{cookieName + "=\x00\xff", cookieName + "=" + v + "; " + cookieName + "=garbage", cookieName + "=\"" + v + "\""} {
		req := httptest.NewRequest(http.MethodGet, "/peek", nil)
		req.Header.Set("Cookie", raw)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Errorf("raw cookie header %.30q: status %d", raw, w.Code)
		}
	}
	// A cookie signed with a secret that is not configured is not accepted.
	foreign := ginStore(t, h, secrets([]byte("some-other-secret-0123456789abcdefgh")), nil)
	fw := do(router(t, foreign), "/count")
	if w := do(r, "/count", sessionCookie(t, fw)); w.Body.String() != "1" {
		t.Errorf("cookie signed with an unknown secret was accepted: count %s", w.Body)
	}
	// The genuine session is untouched.
	if w := do(r, "/peek", good); w.Body.String() != "2" {
		t.Errorf("genuine session after tampering attempts: count %s, want 2", w.Body)
	}
}

// testGinDuplicates sends the cookies of two sessions under the one name,
// as a browser does when a sibling subdomain set one for the parent
// domain: neither session is used. A duplicate that does not verify is
// noise, and the genuine session is used.
func testGinDuplicates(t *testing.T, h *Harness) {
	r := router(t, ginStore(t, h, secrets(SecretNew), nil))
	victim := sessionCookie(t, do(r, "/count"))
	do(r, "/count", victim) // count = 2
	planted := sessionCookie(t, do(r, "/count"))
	v, p := victim.Value, planted.Value
	peek := func(raw string) string {
		req := httptest.NewRequest(http.MethodGet, "/peek", nil)
		req.Header.Set("Cookie", raw)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Body.String()
	}
	for _, raw := range []string{
		cookieName + "=" + p + "; " + cookieName + "=" + v,
		cookieName + "=" + v + "; " + cookieName + "=" + p,
	} {
		if got := peek(raw); got != "0" {
			t.Errorf("two sessions' cookies %.40q...: count %s, want a fresh session (0)", raw, got)
		}
	}
	for _, raw := range []string{
		cookieName + "=garbage; " + cookieName + "=" + v,
		cookieName + "=" + v + "; " + cookieName + "=" + p[:len(p)-2] + "AA",
		cookieName + "=" + v + "; " + cookieName + "=" + v,
	} {
		if got := peek(raw); got != "2" {
			t.Errorf("a genuine cookie and noise %.40q...: count %s, want the genuine session's 2", raw, got)
		}
	}
}

func testGinOldSecret(t *testing.T, h *Harness) {
	old := router(t, ginStore(t, h, secrets(SecretOld), nil))
	w := do(old, "/count")
	oldCookie := sessionCookie(t, w)

	rotated := router(t, ginStore(t, h, secrets(SecretNew, SecretOld), nil))
	w = do(rotated, "/count", oldCookie)
	if w.Body.String() != "2" {
		t.Fatalf("old-secret cookie after rotation: count %s, want 2", w.Body)
	}
	reissued := sessionCookie(t, w)
	if reissued.Value == oldCookie.Value {
		t.Fatal("the cookie was not re-issued")
	}
	// The re-issued cookie verifies with the new secret alone.
	if _, _, _, err := codec(t, SecretNew).Decode(cookieName, reissued.Value); err != nil {
		t.Errorf("re-issued cookie does not verify with the newest secret: %v", err)
	}
	newOnly := router(t, ginStore(t, h, secrets(SecretNew), nil))
	if w := do(newOnly, "/peek", reissued); w.Body.String() != "2" {
		t.Errorf("re-issued cookie with only the new secret: count %s, want 2", w.Body)
	}
	if w := do(newOnly, "/peek", oldCookie); w.Body.String() != "0" {
		t.Errorf("old-secret cookie after the old secret was removed: count %s, want 0", w.Body)
	}
}

func testGinCorrupt(t *testing.T, h *Harness) {
	if h.Corrupt == nil {
		t.Skip("this store keeps no bytes that can be corrupted")
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	c := codec(t, SecretNew)
	r := router(t, ginStore(t, h, secrets(SecretNew), log))
	cookie := sessionCookie(t, do(r, "/count"))
	id, _, _, err := c.Decode(cookieName, cookie.Value)
	if err != nil {
		t.Fatal(err)
	}
	h.Corrupt(t, id.Key())
	w := do(r, "/count", cookie)
	if w.Code != http.StatusOK || w.Body.String() != "1" {
		t.Errorf("corrupt record: %d %q; want a fresh session", w.Code, w.Body)
	}
	if _, err := h.Store.Load(ctx, id.Key()); !errors.Is(err, sessionstore.ErrNotFound) && !strings.Contains(logs.String(), id.Key().Short()) {
		t.Errorf("no log line names the corrupt session %s; logs: %s", id.Key().Short(), logs)
	}
	if strings.Contains(logs.String(), cookie.Value) {
		t.Error("a log line carries the cookie")
	}
}

func testGinDown(t *testing.T, h *Harness) {
	if h.Down == nil {
		t.Skip("this store has no backend to lose")
	}
	up := router(t, ginStore(t, h, secrets(SecretNew), nil))
	cookie := sessionCookie(t, do(up, "/count"))

	g, err := ginsessions.NewStore(h.Down(t), ginsessions.Options{Secrets: secrets(SecretNew), Now: h.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	down := router(t, g)
	w := do(down, "/count", cookie)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "unavailable") {
		t.Errorf("save while the store is down: %d %q; want the store error", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			t.Errorf("a cookie was set while the store was down: %v", c)
		}
	}
	if w := do(up, "/peek", cookie); w.Body.String() != "1" {
		t.Errorf("session after the outage: count %s, want 1 (untouched)", w.Body)
	}
}

func testGinReadOnly(t *testing.T, h *Harness) {
	r := router(t, ginStore(t, h, secrets(SecretNew), nil))
	w := do(r, "/peek")
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("a request that saved nothing got a cookie: %v", w.Result().Cookies())
	}
	cookie := sessionCookie(t, do(r, "/count"))
	// Reading inside the touch interval writes nothing and sets no cookie.
	h.Clock.Advance(10 * time.Second)
	w = do(r, "/peek", cookie)
	if w.Body.String() != "1" || len(w.Result().Cookies()) != 0 {
		t.Errorf("read-only request: %q, cookies %v", w.Body, w.Result().Cookies())
	}
	// Sliding expiration without Save: a read after the touch interval keeps
	// the session alive past its original idle expiry.
	for range 4 {
		h.Clock.Advance(20 * time.Minute)
		if w := do(r, "/peek", cookie); w.Body.String() != "1" {
			t.Fatalf("session did not slide: count %s", w.Body)
		}
	}
	h.Clock.Advance(31 * time.Minute)
	if w := do(r, "/peek", cookie); w.Body.String() != "0" {
		t.Errorf("session outlived its idle timeout: count %s", w.Body)
	}
}

// testGinRegenerate plays session fixation against an application that
// signs in the gin-contrib way: the attacker gets a session, plants its
// cookie in the victim's browser, and the victim signs in. Regenerate at
// login gives the victim a new ID, keeps the values and destroys the
// attacker's record.
func testGinRegenerate(t *testing.T, h *Harness) {
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, ginStore(t, h, secrets(SecretNew), nil)))
	r.GET("/visit", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("theme", "dark")
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
		}
	})
	r.GET("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		if err := ginsessions.Regenerate(s); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		s.Set("user", "victim")
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
		}
	})
	r.GET("/whoami", func(c *gin.Context) {
		s := sessions.Default(c)
		c.String(http.StatusOK, "%v %v", s.Get("user"), s.Get("theme"))
	})
	planted := sessionCookie(t, do(r, "/visit"))
	w := do(r, "/login", planted)
	if w.Code != http.StatusOK {
		t.Fatalf("/login: %d %s", w.Code, w.Body)
	}
	fresh := sessionCookie(t, w)
	if fresh.Value == planted.Value {
		t.Fatal("login kept the planted session ID")
	}
	if got := do(r, "/whoami", fresh).Body.String(); got != "victim dark" {
		t.Errorf("victim after login: %q, want the user and the values kept", got)
	}
	if got := do(r, "/whoami", planted).Body.String(); got != "<nil> <nil>" {
		t.Errorf("the planted cookie after the victim's login: %q, want an empty session", got)
	}
	id, _, _, err := codec(t, SecretNew).Decode(cookieName, planted.Value)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.Load(ctx, id.Key()); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("the planted session's record survived: %v", err)
	}
	// Regenerate on something that is not a session of this package
	// says so.
	if err := ginsessions.Regenerate(nil); err == nil {
		t.Error("Regenerate(nil) succeeded")
	}
}
