package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/apptest"
)

func TestRegisterLoginMeLogout(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		cl := a.Client(t)
		r := cl.Register("  Alice ", "correct horse")
		user := r.JSON["user"].(map[string]any)
		if user["username"] != "alice" {
			t.Errorf("registered username %v, want the normalized alice", user["username"])
		}
		for _, leak := range []string{"PasswordHash", "passwordHash", "$2a$", "password"} {
			if strings.Contains(string(r.Body), leak) {
				t.Errorf("register response carries %q: %s", leak, r.Body)
			}
		}
		// Registration signs in.
		me := cl.Do("GET", "/me", nil)
		cl.Want(me, http.StatusOK, "")
		if me.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("/me Cache-Control = %q", me.Header.Get("Cache-Control"))
		}
		cl.Want(cl.Do("POST", "/logout", nil), http.StatusNoContent, "")
		cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")

		// Login with another spelling of the same name.
		r = cl.Login("ALICE", "correct horse")
		if r.JSON["user"].(map[string]any)["username"] != "alice" {
			t.Errorf("login user = %v", r.JSON["user"])
		}
		if strings.Contains(string(r.Body), "$2a$") {
			t.Errorf("login response carries the hash: %s", r.Body)
		}
		cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
		if got := cl.Do("GET", "/private", nil); string(got.Body) != "hello alice" {
			t.Errorf("/private = %d %s", got.Status, got.Body)
		}

		// Wrong password and unknown user: the same generic answer.
		other := a.Client(t)
		w1 := other.Do("POST", "/login", apptest.Creds("alice", "wrong password"))
		w2 := other.Do("POST", "/login", apptest.Creds("nobody", "correct horse"))
		other.Want(w1, http.StatusUnauthorized, "invalid_credentials")
		other.Want(w2, http.StatusUnauthorized, "invalid_credentials")
		if string(w1.Body) != string(w2.Body) {
			t.Errorf("failures differ: %s vs %s", w1.Body, w2.Body)
		}
		if other.SessionCookie() != nil {
			t.Error("a failed login left a session cookie")
		}

		// Registering a taken name.
		other.Want(other.Do("POST", "/register", apptest.Creds("alice", "another password")), http.StatusConflict, "username_taken")
	})
}

func TestSessionFixation(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		a.Client(t).Register("bob", "bob's password")

		// An anonymous session exists before login (the application
		// stored a value for the visitor).
		cl := a.Client(t)
		cl.Want(cl.Do("POST", "/set?k=theme&v=dark", nil), http.StatusNoContent, "")
		before := cl.SessionCookie()
		if before == nil {
			t.Fatal("no anonymous session")
		}
		form := url.Values{"username": {"bob"}, "password": {"bob's password"}, "returnTo": {"/private"}}
		r := cl.Do("POST", "/login", form)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/private" {
			t.Fatalf("form login = %d to %q; want 303 to /private", r.Status, r.Header.Get("Location"))
		}
		after := cl.SessionCookie()
		if after == nil || after.Value == before.Value {
			t.Fatal("login kept the pre-login session ID")
		}
		// The pre-login ID is dead: whoever planted or saw it gets nothing.
		if got := a.WithCookie(t, before).Do("GET", "/public", nil); string(got.Body) != "anonymous" {
			t.Errorf("pre-login cookie after login: %s", got.Body)
		}
		cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")

		// A cookie the server never issued (valid signature, unknown ID) is
		// never adopted: login gives a new one.
		planted := apptest.PlantedCookie(t)
		victim := a.WithCookie(t, planted)
		victim.Login("bob", "bob's password")
		if c := victim.SessionCookie(); c == nil || c.Value == planted.Value {
			t.Fatal("login adopted a cookie the server did not issue")
		}
		if got := a.WithCookie(t, planted).Do("GET", "/me", nil); got.Status != http.StatusUnauthorized {
			t.Errorf("planted cookie after the victim's login: %d", got.Status)
		}
	})
}

func TestReplayAfterLogout(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		a.Client(t).Register("carol", "carol's password")
		steps := []struct {
			name string
			end  func(cl *apptest.Client, victim *http.Cookie)
		}{
			{"logout", func(cl *apptest.Client, _ *http.Cookie) {
				cl.Want(cl.Do("POST", "/logout", nil), http.StatusNoContent, "")
			}},
			{"logout-all", func(cl *apptest.Client, _ *http.Cookie) {
				r := cl.Do("POST", "/logout-all", nil)
				cl.Want(r, http.StatusOK, "")
				if r.JSON["message"] != "Logged out everywhere" || r.JSON["revoked"].(float64) < 1 {
					t.Errorf("logout-all = %s", r.Body)
				}
			}},
			{"revoke", func(_ *apptest.Client, victim *http.Cookie) {
				other := a.Client(t)
				other.Login("carol", "carol's password")
				list := other.Do("GET", "/sessions", nil)
				for _, s := range list.JSON["sessions"].([]any) {
					m := s.(map[string]any)
					if !m["current"].(bool) {
						other.Want(other.Do("DELETE", "/sessions/"+m["id"].(string), nil), http.StatusNoContent, "")
					}
				}
			}},
			{"password change", func(_ *apptest.Client, _ *http.Cookie) {
				other := a.Client(t)
				other.Login("carol", "carol's password")
				r := other.Do("POST", "/password", map[string]any{"currentPassword": "carol's password", "newPassword": "carol's new password"})
				other.Want(r, http.StatusOK, "")
				other.Want(other.Do("GET", "/me", nil), http.StatusOK, "")
				r = other.Do("POST", "/password", map[string]any{"currentPassword": "carol's new password", "newPassword": "carol's password"})
				other.Want(r, http.StatusOK, "")
			}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				cl := a.Client(t)
				cl.Login("carol", "carol's password")
				stolen := cl.SessionCookie()
				cl.Want(a.WithCookie(t, stolen).Do("GET", "/me", nil), http.StatusOK, "")
				st.end(cl, stolen)
				r := a.WithCookie(t, stolen).Do("GET", "/me", nil)
				if r.Status != http.StatusUnauthorized {
					t.Errorf("replayed cookie after %s: %d %s", st.name, r.Status, r.Body)
				}
			})
		}
	})
}

func TestTimeouts(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b, func(c *apptest.Config) {
			c.Session.Lifetime.Idle = 30 * time.Minute
			c.Session.Lifetime.Absolute = 2 * time.Hour
			c.Session.Lifetime.TouchInterval = time.Minute
		})
		a.Client(t).Register("dave", "dave's password")

		t.Run("idle", func(t *testing.T) {
			cl := a.Client(t)
			cl.Login("dave", "dave's password")
			a.Clock.Advance(29 * time.Minute)
			cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "") // slides
			a.Clock.Advance(29 * time.Minute)
			cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
			a.Clock.Advance(30 * time.Minute)
			cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
			// Once reported, the session is gone: plain unauthenticated.
			cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
		})
		t.Run("idle as a browser", func(t *testing.T) {
			cl := a.Client(t)
			cl.Login("dave", "dave's password")
			a.Clock.Advance(31 * time.Minute)
			r := cl.Do("GET", "/private", nil, "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?expired=true&returnTo=%2Fprivate" {
				t.Errorf("expired browser request: %d to %q", r.Status, r.Header.Get("Location"))
			}
		})
		t.Run("absolute", func(t *testing.T) {
			cl := a.Client(t)
			cl.Login("dave", "dave's password")
			for range 5 { // active every 20 minutes: never idle
				a.Clock.Advance(20 * time.Minute)
				cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
			}
			a.Clock.Advance(30 * time.Minute) // 2h10m after login
			cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		})
		t.Run("session-info", func(t *testing.T) {
			cl := a.Client(t)
			login := a.Clock.Now()
			cl.Login("dave", "dave's password")
			a.Clock.Advance(5 * time.Minute)
			r := cl.Do("GET", "/session-info", nil)
			cl.Want(r, http.StatusOK, "")
			for _, k := range []string{"loginTime", "lastActivity", "ipAddress", "userAgent", "expiresAt", "absoluteExpiresAt"} {
				if _, ok := r.JSON[k]; !ok {
					t.Errorf("session-info lacks %s: %s", k, r.Body)
				}
			}
			abs, _ := time.Parse(time.RFC3339, r.JSON["absoluteExpiresAt"].(string))
			if d := abs.Sub(login); d < 2*time.Hour-time.Second || d > 2*time.Hour+time.Second {
				t.Errorf("absoluteExpiresAt is %v after login, want 2h", d)
			}
			if r.JSON["ipAddress"] != "127.0.0.1" || !strings.Contains(r.JSON["userAgent"].(string), "Go-http-client") {
				t.Errorf("client data: %s", r.Body)
			}
		})
	})
}
