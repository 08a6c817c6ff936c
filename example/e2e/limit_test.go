package e2e

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/testenv"
)

// MAX_SESSIONS_PER_USER holds across instances: the store applies it in
// one step, so sign-ins of one user spread over A and B, in parallel, never
// leave more sessions than the limit, and a refused one says
// too_many_sessions. With SESSION_LIMIT=end-oldest a sign-in on B ends the
// user's oldest session, made on A.
func TestSessionLimitAcrossInstances(t *testing.T) {
	testenv.SkipIfShort(t, "starts two instances of the example app and their store")
	redisSrv := testenv.StartRedisServer(t)
	env := map[string]string{"DATABASE_URL": postgresDatabase(t), "SESSION_STORE": "redis", "REDIS_URL": "redis://" + redisSrv.Addr() + "/0",
		"SESSION_SECRET": oldSecret, "MAX_SESSIONS_PER_USER": "2", "SESSION_LIMIT": "refuse"}
	a := startInstance(t, "A", env)
	b := startInstance(t, "B", env)

	first := newPerson(t, "lim", "lim's password")
	first.register(a) // the first session
	// Eight sign-ins at once, half on each instance: one place is left,
	// so exactly one gets it and the others are refused. A sign-in turned
	// away unjudged (503 busy: no bcrypt slot in time, or more attempts on
	// the account in flight than its throttle lets through at once) tries
	// again, as a client would after Retry-After.
	const tries = 8
	people := make([]*person, tries)
	statuses := make([]int, tries)
	var wg sync.WaitGroup
	for i := range people {
		people[i] = newPerson(t, "lim", "lim's password")
		in := a
		if i%2 == 1 {
			in = b
		}
		wg.Go(func() {
			r := people[i].do(in, "POST", "/login", map[string]any{"username": "lim", "password": "lim's password"})
			for try := 0; r.status == http.StatusServiceUnavailable && r.json["code"] == "busy" && try < 20; try++ {
				time.Sleep(100 * time.Millisecond)
				r = people[i].do(in, "POST", "/login", map[string]any{"username": "lim", "password": "lim's password"})
			}
			statuses[i] = r.status
			if r.status == http.StatusConflict && r.json["code"] != "too_many_sessions" {
				t.Errorf("a refused sign-in on %s answered code %v, want too_many_sessions", in.name, r.json["code"])
			}
		})
	}
	wg.Wait()
	var in *person
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			if in != nil {
				t.Fatalf("two parallel sign-ins over A and B got the one place left: %v", statuses)
			}
			in = people[i]
		case http.StatusConflict:
		default:
			t.Fatalf("parallel sign-ins answered %v, want one 200 and the rest 409", statuses)
		}
	}
	if in == nil {
		t.Fatalf("no parallel sign-in got the place left: %v", statuses)
	}
	list := first.want(first.do(b, "GET", "/sessions", nil), http.StatusOK, "GET /sessions on B")
	if n := len(list.json["sessions"].([]any)); n != 2 {
		t.Errorf("lim has %d sessions, want the limit's 2", n)
	}
	in.me(a)
	in.me(b)

	// end-oldest: a sign-in on B ends the first session, made on A.
	a.restart(map[string]string{"SESSION_LIMIT": "end-oldest"})
	b.restart(map[string]string{"SESSION_LIMIT": "end-oldest"})
	late := newPerson(t, "lim", "lim's password")
	late.login(b)
	first.signedOut(a, "a third sign-in on B with SESSION_LIMIT=end-oldest")
	in.me(a)
	late.me(a)
}
