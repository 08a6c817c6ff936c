package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create the test's database

	"github.com/ginauth/ginauth/internal/testenv"
)

const (
	oldSecret = "e2e-old-secret-0123456789abcdef0123456789"
	newSecret = "e2e-new-secret-0123456789abcdef0123456789"
)

// A deployment is a shared store that two instances run on.
type deployment struct {
	name string
	// env starts what the deployment needs and returns the instances'
	// environment; cluster is set for a Redis Cluster.
	env func(t *testing.T) (map[string]string, *testenv.RedisCluster)
}

var deployments = []deployment{
	{"postgres", func(t *testing.T) (map[string]string, *testenv.RedisCluster) {
		// Sessions, users, the throttle and the invalidation of cached
		// users, all in PostgreSQL.
		return map[string]string{"DATABASE_URL": postgresDatabase(t), "SESSION_STORE": "gorm"}, nil
	}},
	{"redis-cluster", func(t *testing.T) (map[string]string, *testenv.RedisCluster) {
		// Sessions, the throttle and invalidation in a three-master Redis
		// Cluster with a replica each; users in PostgreSQL.
		c := testenv.StartRedisCluster(t, 1)
		u := "redis://" + c.Masters[0] + "?addr=" + c.Masters[1] + "&addr=" + c.Masters[2]
		return map[string]string{"DATABASE_URL": postgresDatabase(t), "SESSION_STORE": "redis", "REDIS_URL": u}, c
	}},
}

// postgresDatabase creates a database of the test's own and returns its
// URL; it is dropped at cleanup. A database, not a schema: LISTEN/NOTIFY
// channels are per database.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	name := "e2e_" + testenv.Unique()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		testenv.Missing(t, "PostgreSQL", err.Error())
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE " + name + " WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Two instances of the example app on one store, driven as a load balancer
// would: every guarantee that holds for one instance holds across two.
func TestTwoInstances(t *testing.T) {
	testenv.SkipIfShort(t, "starts two instances of the example app and their store")
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			env, cluster := d.env(t)
			env["SESSION_SECRET"] = oldSecret
			a := startInstance(t, "A", env)
			b := startInstance(t, "B", env)

			t.Run("a session made on A works on B, a value set on B is seen on A", func(t *testing.T) {
				ana := newPerson(t, "ana", "ana's password")
				ana.register(a)
				ana.me(b)
				ana.want(ana.form(b, "/account/theme", url.Values{"theme": {"dark"}}), http.StatusSeeOther, "setting the theme on B")
				if p := ana.page(a, "/account"); p.status != http.StatusOK || !strings.Contains(p.body, `data-theme="dark"`) {
					t.Fatalf("the account page on A does not have the theme set on B (%d)", p.status)
				}
			})

			t.Run("logout-all, revoke-one and password change on A end sessions at their next request on B", func(t *testing.T) {
				here, there := newPerson(t, "bo", "bo's password"), newPerson(t, "bo", "bo's password")
				here.register(a)
				there.login(b)
				there.me(b) // B has bo cached, and the session loaded once
				r := here.want(here.do(a, "POST", "/logout-all", nil), http.StatusOK, "logout-all on A")
				if r.json["revoked"] != float64(2) {
					t.Errorf("logout-all revoked %v, want 2", r.json["revoked"])
				}
				there.signedOut(b, "logout-all on A")

				here.login(a)
				there.login(b)
				there.me(b)
				here.me(a)
				list := here.want(here.do(a, "GET", "/sessions", nil), http.StatusOK, "GET /sessions on A")
				var other string
				for _, s := range list.json["sessions"].([]any) {
					if s := s.(map[string]any); s["current"] != true {
						other = s["id"].(string)
					}
				}
				here.want(here.do(a, "DELETE", "/sessions/"+other, nil), http.StatusNoContent, "revoking the other session on A")
				there.signedOut(b, "its revocation on A")

				there.login(b)
				there.me(b)
				r = here.want(here.do(a, "POST", "/password", map[string]any{"currentPassword": "bo's password", "newPassword": "bo's new password"}), http.StatusOK, "password change on A")
				if r.json["revoked"] != float64(1) {
					t.Errorf("the password change revoked %v, want 1", r.json["revoked"])
				}
				there.signedOut(b, "a password change on A")
				here.me(b) // the session that changed it goes on, on both
			})

			t.Run("a user changed or deleted on A is seen so on B at its next request", func(t *testing.T) {
				cy := newPerson(t, "cy", "cy's password")
				cy.register(a)
				if r := cy.me(b); r.json["user"].(map[string]any)["displayName"] != "" {
					t.Fatalf("a new user has a display name: %v", r.json)
				}
				cy.want(cy.form(a, "/account/profile", url.Values{"displayName": {"Cy Twombly"}}), http.StatusSeeOther, "saving a display name on A")
				seen := func() bool { return cy.me(b).json["user"].(map[string]any)["displayName"] == "Cy Twombly" }
				if !seen() {
					// The invalidation travels asynchronously (pub/sub, NOTIFY):
					// say how long it took, and fail past ten seconds, far
					// below the five minutes after which B's cached entry
					// would expire without it, and far above a busy CI
					// machine's delivery time.
					start := time.Now()
					for !seen() {
						if time.Since(start) > 10*time.Second {
							t.Fatal("B still answers the old display name ten seconds after the change on A")
						}
						time.Sleep(time.Millisecond)
					}
					t.Logf("B saw the change %s after the first request that missed it", time.Since(start).Round(time.Millisecond))
				}

				dee := newPerson(t, "dee", "dee's password")
				dee.register(a)
				dee.me(b)
				if out, err := adminCommand(env, "users", "delete", "dee"); err != nil {
					t.Fatalf("deleting dee: %v\n%s", err, out)
				}
				dee.signedOut(b, "the user's deletion")
				r := dee.do(b, "POST", "/login", map[string]any{"username": "dee", "password": "dee's password"})
				if r.status != http.StatusUnauthorized {
					t.Errorf("a deleted user signing in on B: %d %s", r.status, r.body)
				}
			})

			t.Run("the throttle is shared: failures spread over A and B lock the account on both", func(t *testing.T) {
				eve := newPerson(t, "eve", "eve's password")
				eve.register(a)
				wrong := newPerson(t, "eve", "not eve's password")
				for i := range 5 {
					in := []*instance{a, b}[i%2]
					wrong.want(wrong.do(in, "POST", "/login", map[string]any{"username": "eve", "password": wrong.password}), http.StatusUnauthorized, fmt.Sprintf("wrong password %d on %s", i+1, in.name))
				}
				// A browser that never signed in to eve's account is locked out
				// on both; eve's own, which has (its device cookie), is not.
				stranger := newPerson(t, "eve", "eve's password")
				for _, in := range []*instance{b, a} {
					r := stranger.do(in, "POST", "/login", map[string]any{"username": "eve", "password": stranger.password})
					if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
						t.Errorf("the right password from a new browser on %s after 5 failures spread over both: %d %s", in.name, r.status, r.body)
					}
				}
				for _, in := range []*instance{b, a} {
					eve.want(eve.do(in, "POST", "/login", map[string]any{"username": "eve", "password": eve.password}), http.StatusOK, "eve's own browser on "+in.name+" during the lockout")
				}
			})

			t.Run("the secret rotates one instance at a time and every cookie keeps working", func(t *testing.T) {
				var people []*person
				for i := range 4 {
					p := newPerson(t, fmt.Sprintf("rot%d", i), "rotating password")
					p.register([]*instance{a, b}[i%2])
					people = append(people, p)
				}
				everyone := func(step string) {
					t.Helper()
					for _, p := range people {
						for _, in := range []*instance{a, b} {
							if r := p.do(in, "GET", "/me", nil); r.status != http.StatusOK {
								t.Fatalf("%s: %s on %s answered %d", step, p.name, in.name, r.status)
							}
						}
					}
				}
				both := oldSecret + "," + newSecret
				b.restart(map[string]string{"SESSION_SECRET": both}) // accepts the new secret, signs with the old
				everyone("B accepts the new secret")
				a.restart(map[string]string{"SESSION_SECRET": both})
				everyone("A accepts the new secret")
				swapped := newSecret + "," + oldSecret
				a.restart(map[string]string{"SESSION_SECRET": swapped}) // A signs with the new secret first
				everyone("A signs with the new secret, B with the old")
				b.restart(map[string]string{"SESSION_SECRET": swapped})
				everyone("both sign with the new secret")
				// Every cookie came back since: all are re-signed, and the
				// old secret can go.
				a.restart(map[string]string{"SESSION_SECRET": newSecret})
				b.restart(map[string]string{"SESSION_SECRET": newSecret})
				everyone("the old secret is gone")
			})

			t.Run("SIGTERM under load: requests in flight finish, no session is lost, B serves on", func(t *testing.T) {
				people := signedIn(t, "term", 8, a, b)
				var stopErr error
				l := runLoad(t, people, []*instance{a, b}, 4*time.Second, time.Second, func() { stopErr = a.terminate() })
				t.Logf("load over A and B, A stopped with SIGTERM after 1s: %s", l)
				if stopErr != nil {
					t.Errorf("A: %v", stopErr)
				}
				if len(l.bad) > 0 || l.outcomes["200"] != l.requests {
					t.Errorf("answers other than 200: %v", l.bad)
				}
				if !a.out.contains("shutting down") {
					t.Error("A did not log its graceful shutdown")
				}
				for _, p := range people {
					p.me(b)
				}
				a.start()
			})

			if cluster != nil {
				t.Run("a master fails over under load: 503 in the window, never a wrong user or a logout", func(t *testing.T) {
					people := signedIn(t, "fail", 8, a, b)
					victim := busiestMaster(t, cluster)
					waitReplicated(t, cluster)
					l := runLoad(t, people, []*instance{a, b}, 12*time.Second, time.Second, func() { cluster.Stop(victim) })
					t.Logf("load over A and B, Redis master %s stopped after 1s: %s", victim, l)
					if l.wrong > 0 || len(l.bad) > 0 {
						t.Errorf("answers other than 200 and 503 store_unavailable: %v", l.bad)
					}
					if l.first503.IsZero() {
						t.Log("no request was answered 503 during the failover")
					}
					for _, p := range people {
						if last, ok := l.last200[p.name]; !ok || !last.After(l.last503) {
							t.Errorf("%s was not served again after the failover", p.name)
						}
						p.me(a)
						p.me(b)
					}
				})
			}
		})
	}
}

// signedIn registers n people, alternately on each instance.
func signedIn(t *testing.T, prefix string, n int, instances ...*instance) []*person {
	t.Helper()
	var people []*person
	for i := range n {
		p := newPerson(t, fmt.Sprintf("%s%d", prefix, i), "load test password")
		p.register(instances[i%len(instances)])
		people = append(people, p)
	}
	return people
}

// adminCommand runs the example app's admin command with env.
func adminCommand(env map[string]string, args ...string) (string, error) {
	cmd := exec.Command(exampleBinary, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// redisCLI runs redis-cli against the node at addr.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
	if err != nil {
		t.Fatalf("redis-cli %s %v: %v", addr, args, err)
	}
	return strings.TrimSpace(string(out))
}

// busiestMaster returns the master that holds the most sessions.
func busiestMaster(t *testing.T, c *testenv.RedisCluster) string {
	t.Helper()
	best, most := "", -1
	for _, m := range c.Masters {
		n := 0
		for _, k := range strings.Fields(redisCLI(t, m, "--scan", "--pattern", "sess:*")) {
			if !strings.HasPrefix(k, "sess:{user:") {
				n++
			}
		}
		if n > most {
			best, most = m, n
		}
	}
	if most < 1 {
		t.Fatal("no master holds a session")
	}
	return best
}

// waitReplicated waits until every master's replica has every write so
// far, so that a failover loses no session that the test made.
func waitReplicated(t *testing.T, c *testenv.RedisCluster) {
	t.Helper()
	for _, m := range c.Masters {
		if n, _ := strconv.Atoi(redisCLI(t, m, "WAIT", "1", "5000")); n < 1 {
			t.Fatalf("the replica of %s did not acknowledge the writes", m)
		}
	}
}
