package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
)

// crowdStores are the session stores the example runs on, each with the
// environment that names it; users are in SQLite but on PostgreSQL.
var crowdStores = []struct {
	name string
	env  func(t *testing.T) map[string]string
}{
	{"memory", func(t *testing.T) map[string]string {
		return map[string]string{"SESSION_STORE": "memory"}
	}},
	{"sqlite", func(t *testing.T) map[string]string {
		return map[string]string{"SESSION_STORE": "gorm"}
	}},
	{"postgres", func(t *testing.T) map[string]string {
		return map[string]string{"SESSION_STORE": "gorm", "DATABASE_URL": postgresSchemaURL(t)}
	}},
	{"redis", func(t *testing.T) map[string]string {
		// A server of the test's own: the login throttle keeps its counts
		// per address in Redis, and a shared server would carry them over
		// from other runs.
		testenv.RedisURL(t)
		srv := testenv.StartRedisServer(t)
		return map[string]string{"SESSION_STORE": "redis", "REDIS_URL": "redis://" + srv.Addr() + "/0"}
	}},
}

// Fifty people behind one address (an office, a classroom) register, then
// sign in, all at the same moment, on each session store: every one
// succeeds (a client may be asked to come back with 503 and Retry-After,
// and does), and the audit log records no lockout and no failure.
func TestHonestCrowdOnEveryStore(t *testing.T) {
	for _, s := range crowdStores {
		t.Run(s.name, func(t *testing.T) {
			env := s.env(t)
			if env["DATABASE_URL"] == "" {
				env["DATABASE_URL"] = filepath.Join(t.TempDir(), "crowd.db")
			}
			env["SESSION_SECRET"] = "example-crowd-secret-0123456789abcdef"
			cfg, err := loadConfig(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			cfg.bcryptCost = testBcryptCost
			logs := &testenv.LogBuffer{}
			srv := serveLogged(t, cfg, logs)

			const n = 50
			clients := make([]*http.Client, n)
			for i := range clients {
				jar, _ := cookiejar.New(nil)
				clients[i] = &http.Client{Jar: jar}
			}
			crowd := func(path string, want int) {
				var wg sync.WaitGroup
				start := make(chan struct{})
				got := make([]string, n)
				for i, c := range clients {
					wg.Go(func() {
						<-start
						body := fmt.Sprintf(`{"username":"person%d","password":"a long enough password"}`, i)
						got[i] = patientPost(c, srv.URL+path, body, want)
					})
				}
				close(start)
				wg.Wait()
				for i, g := range got {
					if g != "" {
						t.Errorf("%s of person%d: %s", path, i, g)
					}
				}
			}
			crowd("/register", http.StatusCreated)
			crowd("/login", http.StatusOK)

			// A client asked to come back is recorded as login_error
			// code=busy; any other login_error is a failure.
			out := logs.String()
			for _, bad := range []string{"event=lockout", "event=login_failure", "code=too_many_attempts", "code=store_unavailable"} {
				if c := strings.Count(out, bad); c != 0 {
					t.Errorf("the audit log has %d lines with %s for a crowd that failed nothing", c, bad)
				}
			}
			for line := range strings.Lines(out) {
				if strings.Contains(line, "event=login_error") && !strings.Contains(line, "code=busy") {
					t.Errorf("a login error other than a busy one: %s", line)
				}
			}
			// Registering signs in too: two sign-ins each.
			if c := strings.Count(out, "event=register"); c != n {
				t.Errorf("the audit log has %d registrations, want %d", c, n)
			}
			if c := strings.Count(out, "event=login_success"); c != 2*n {
				t.Errorf("the audit log has %d sign-ins, want %d", c, 2*n)
			}
		})
	}
}

// patientPost posts body as JSON and returns "" when the answer is want,
// or what it got instead. Asked to come back (503 with Retry-After), it
// does at once (the server's clock is not the test's), a bounded number of
// times.
func patientPost(c *http.Client, url, body string, want int) string {
	const tries = 100
	for range tries {
		res, err := c.Post(url, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == want {
			return ""
		}
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			var e struct{ Code string }
			_ = json.Unmarshal(b, &e)
			return fmt.Sprintf("%d %s, want %d", res.StatusCode, e.Code, want)
		}
	}
	return fmt.Sprintf("still 503 after %d tries", tries)
}
