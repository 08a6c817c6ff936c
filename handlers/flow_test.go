package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRegisterLoginMeLogout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		r := cl.register("  Alice ", "correct horse")
		user := r.json["user"].(map[string]any)
		if user["username"] != "alice" {
			t.Errorf("registered username %v, want the normalized alice", user["username"])
		}
		for _, leak := range []string{"PasswordHash", "passwordHash", "$2a$", "password"} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("register response carries %q: %s", leak, r.body)
			}
		}
		// Registration signs in.
		me := cl.do("GET", "/me", nil)
		cl.want(me, http.StatusOK, "")
		if me.header.Get("Cache-Control") != "no-store" {
			t.Errorf("/me Cache-Control = %q", me.header.Get("Cache-Control"))
		}
		cl.want(cl.do("POST", "/logout", nil), http.StatusNoContent, "")
		cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")

		// Login with another spelling of the same name.
		r = cl.login("ALICE", "correct horse")
		if r.json["user"].(map[string]any)["username"] != "alice" {
			t.Errorf("login user = %v", r.json["user"])
		}
		if strings.Contains(string(r.body), "$2a$") {
			t.Errorf("login response carries the hash: %s", r.body)
		}
		cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
		if got := cl.do("GET", "/private", nil); string(got.body) != "hello alice" {
			t.Errorf("/private = %d %s", got.status, got.body)
		}

		// Wrong password and unknown user: the same generic answer.
		other := a.client(t)
		w1 := other.do("POST", "/login", creds("alice", "wrong password"))
		w2 := other.do("POST", "/login", creds("nobody", "correct horse"))
		other.want(w1, http.StatusUnauthorized, "invalid_credentials")
		other.want(w2, http.StatusUnauthorized, "invalid_credentials")
		if string(w1.body) != string(w2.body) {
			t.Errorf("failures differ: %s vs %s", w1.body, w2.body)
		}
		if other.sessionCookie() != nil {
			t.Error("a failed login left a session cookie")
		}

		// Registering a taken name.
		other.want(other.do("POST", "/register", creds("alice", "another password")), http.StatusConflict, "username_taken")
	})
}

func TestSessionFixation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		a.client(t).register("bob", "bob's password")

		// An anonymous session exists before login (the application
		// stored a value for the visitor).
		cl := a.client(t)
		cl.want(cl.do("POST", "/set?k=theme&v=dark", nil), http.StatusNoContent, "")
		before := cl.sessionCookie()
		if before == nil {
			t.Fatal("no anonymous session")
		}
		form := url.Values{"username": {"bob"}, "password": {"bob's password"}, "returnTo": {"/private"}}
		r := cl.do("POST", "/login", form)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/private" {
			t.Fatalf("form login = %d to %q; want 303 to /private", r.status, r.header.Get("Location"))
		}
		after := cl.sessionCookie()
		if after == nil || after.Value == before.Value {
			t.Fatal("login kept the pre-login session ID")
		}
		// The pre-login ID is dead: whoever planted or saw it gets nothing.
		if got := a.withCookie(t, before).do("GET", "/public", nil); string(got.body) != "anonymous" {
			t.Errorf("pre-login cookie after login: %s", got.body)
		}
		cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")

		// A cookie the server never issued (valid signature, unknown ID) is
		// never adopted: login gives a new one.
		planted := plantedCookie(t)
		victim := a.withCookie(t, planted)
		victim.login("bob", "bob's password")
		if c := victim.sessionCookie(); c == nil || c.Value == planted.Value {
			t.Fatal("login adopted a cookie the server did not issue")
		}
		if got := a.withCookie(t, planted).do("GET", "/me", nil); got.status != http.StatusUnauthorized {
			t.Errorf("planted cookie after the victim's login: %d", got.status)
		}
	})
}

func TestReplayAfterLogout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		a.client(t).register("carol", "carol's password")
		steps := []struct {
			name string
			end  func(cl *client, victim *http.Cookie)
		}{
			{"logout", func(cl *client, _ *http.Cookie) { cl.want(cl.do("POST", "/logout", nil), http.StatusNoContent, "") }},
			{"logout-all", func(cl *client, _ *http.Cookie) {
				r := cl.do("POST", "/logout-all", nil)
				cl.want(r, http.StatusOK, "")
				if r.json["message"] != "Logged out everywhere" || r.json["revoked"].(float64) < 1 {
					t.Errorf("logout-all = %s", r.body)
				}
			}},
			{"revoke", func(_ *client, victim *http.Cookie) {
				other := a.client(t)
				other.login("carol", "carol's password")
				list := other.do("GET", "/sessions", nil)
				for _, s := range list.json["sessions"].([]any) {
					m := s.(map[string]any)
					if !m["current"].(bool) {
						other.want(other.do("DELETE", "/sessions/"+m["id"].(string), nil), http.StatusNoContent, "")
					}
				}
			}},
			{"password change", func(_ *client, _ *http.Cookie) {
				other := a.client(t)
				other.login("carol", "carol's password")
				r := other.do("POST", "/password", map[string]any{"currentPassword": "carol's password", "newPassword": "carol's new password"})
				other.want(r, http.StatusOK, "")
				other.want(other.do("GET", "/me", nil), http.StatusOK, "")
				r = other.do("POST", "/password", map[string]any{"currentPassword": "carol's new password", "newPassword": "carol's password"})
				other.want(r, http.StatusOK, "")
			}},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				cl := a.client(t)
				cl.login("carol", "carol's password")
				stolen := cl.sessionCookie()
				cl.want(a.withCookie(t, stolen).do("GET", "/me", nil), http.StatusOK, "")
				st.end(cl, stolen)
				r := a.withCookie(t, stolen).do("GET", "/me", nil)
				if r.status != http.StatusUnauthorized {
					t.Errorf("replayed cookie after %s: %d %s", st.name, r.status, r.body)
				}
			})
		}
	})
}

func TestTimeouts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b, func(c *authConfig) {
			c.session.Lifetime.Idle = 30 * time.Minute
			c.session.Lifetime.Absolute = 2 * time.Hour
			c.session.Lifetime.TouchInterval = time.Minute
		})
		a.client(t).register("dave", "dave's password")

		t.Run("idle", func(t *testing.T) {
			cl := a.client(t)
			cl.login("dave", "dave's password")
			a.clock.Advance(29 * time.Minute)
			cl.want(cl.do("GET", "/me", nil), http.StatusOK, "") // slides
			a.clock.Advance(29 * time.Minute)
			cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
			a.clock.Advance(30 * time.Minute)
			cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
			// Once reported, the session is gone: plain unauthenticated.
			cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
		})
		t.Run("idle as a browser", func(t *testing.T) {
			cl := a.client(t)
			cl.login("dave", "dave's password")
			a.clock.Advance(31 * time.Minute)
			r := cl.do("GET", "/private", nil, "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?expired=true&returnTo=%2Fprivate" {
				t.Errorf("expired browser request: %d to %q", r.status, r.header.Get("Location"))
			}
		})
		t.Run("absolute", func(t *testing.T) {
			cl := a.client(t)
			cl.login("dave", "dave's password")
			for range 5 { // active every 20 minutes: never idle
				a.clock.Advance(20 * time.Minute)
				cl.want(cl.do("GET", "/me", nil), http.StatusOK, "")
			}
			a.clock.Advance(30 * time.Minute) // 2h10m after login
			cl.want(cl.do("GET", "/me", nil), http.StatusUnauthorized, "session_expired")
		})
		t.Run("session-info", func(t *testing.T) {
			cl := a.client(t)
			login := a.clock.Now()
			cl.login("dave", "dave's password")
			a.clock.Advance(5 * time.Minute)
			r := cl.do("GET", "/session-info", nil)
			cl.want(r, http.StatusOK, "")
			for _, k := range []string{"loginTime", "lastActivity", "ipAddress", "userAgent", "expiresAt", "absoluteExpiresAt"} {
				if _, ok := r.json[k]; !ok {
					t.Errorf("session-info lacks %s: %s", k, r.body)
				}
			}
			abs, _ := time.Parse(time.RFC3339, r.json["absoluteExpiresAt"].(string))
			if d := abs.Sub(login); d < 2*time.Hour-time.Second || d > 2*time.Hour+time.Second {
				t.Errorf("absoluteExpiresAt is %v after login, want 2h", d)
			}
			if r.json["ipAddress"] != "127.0.0.1" || !strings.Contains(r.json["userAgent"].(string), "Go-http-client") {
				t.Errorf("client data: %s", r.body)
			}
		})
	})
}

func TestTypedValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		cl := a.client(t)
		cl.want(cl.do("GET", "/cart", nil), http.StatusOK, "")
		if cl.sessionCookie() != nil {
			t.Error("an anonymous read-only visit got a cookie (saveUninitialized is off)")
		}
		cl.do("POST", "/cart?item=book", nil)
		cl.do("POST", "/cart?item=pen", nil)
		r := cl.do("GET", "/cart", nil)
		cart := r.json["cart"].(map[string]any)
		if r.json["ok"] != true || cart["n"].(float64) != 2 || len(cart["items"].([]any)) != 2 || cart["at"] != "2026-11-27T12:00:00Z" {
			t.Errorf("cart = %s", r.body)
		}
		// Values survive login when allow-listed only: the cart does not.
		a.client(t).register("frank", "frank's password")
		cl.login("frank", "frank's password")
		if r := cl.do("GET", "/cart", nil); r.json["ok"] != false {
			t.Errorf("cart survived login regeneration: %s", r.body)
		}
	})
}
