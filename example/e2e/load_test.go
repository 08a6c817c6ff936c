package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// load is a bounded load loop on loopback: each person sends GET /me as
// soon as the last answer came, alternating between the instances, as a
// round-robin load balancer would. An instance that refuses connections
// (it stopped) gets no more requests from that person: the request goes to
// the next instance, as a balancer's health check would have it.
type load struct {
	mu       sync.Mutex
	requests int
	outcomes map[string]int
	latency  []time.Duration
	rerouted int
	// wrong counts answers naming another user than the one signed in.
	wrong int
	// first503 and last503 bound the requests answered 503.
	first503, last503 time.Time
	// last200 is, per person, when their last 200 came.
	last200 map[string]time.Time
	// bad lists answers that are neither 200 nor 503 store_unavailable.
	bad []string
}

// runLoad runs the loop for d, with event (if not nil) called once after
// at, and returns the figures.
func runLoad(t testing.TB, people []*person, instances []*instance, d time.Duration, at time.Duration, event func()) *load {
	t.Helper()
	l := &load{outcomes: map[string]int{}, last200: map[string]time.Time{}}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for i, p := range people {
		c := &http.Client{Jar: p.c.Jar, Transport: tr, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		wg.Go(func() {
			down := make([]bool, len(instances))
			for n := i; ctx.Err() == nil; n++ {
				l.one(ctx, c, p, instances, down, n)
			}
		})
	}
	if event != nil {
		select {
		case <-time.After(at):
			event()
		case <-ctx.Done():
		}
	}
	wg.Wait()
	return l
}

// one sends one request, to the next instance that is not down.
func (l *load) one(ctx context.Context, c *http.Client, p *person, instances []*instance, down []bool, n int) {
	for try := range instances {
		k := (n + try) % len(instances)
		if down[k] {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", instances[k].url("/me"), nil)
		req.Header.Set("Accept", "application/json")
		start := time.Now()
		res, err := c.Do(req)
		took := time.Since(start)
		if ctx.Err() != nil {
			return // the run ended mid-request: not counted
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			down[k] = true
			l.mu.Lock()
			l.rerouted++
			l.mu.Unlock()
			continue
		}
		l.record(p, res, err, took)
		return
	}
	time.Sleep(10 * time.Millisecond) // every instance is down
}

func (l *load) record(p *person, res *http.Response, err error, took time.Duration) {
	outcome, user, code := "", "", ""
	if err != nil {
		outcome = "error: " + err.Error()
	} else {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var v struct {
			Code string `json:"code"`
			User struct {
				Username string `json:"username"`
			} `json:"user"`
		}
		_ = json.Unmarshal(body, &v)
		user, code = v.User.Username, v.Code
		outcome = fmt.Sprint(res.StatusCode)
		if code != "" {
			outcome += " " + code
		}
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	l.outcomes[outcome]++
	l.latency = append(l.latency, took)
	switch {
	case outcome == "200" && user == p.name:
		l.last200[p.name] = now
	case outcome == "200":
		l.wrong++
		l.bad = append(l.bad, fmt.Sprintf("%s was answered as %q", p.name, user))
	case outcome == "503 store_unavailable":
		if l.first503.IsZero() {
			l.first503 = now
		}
		l.last503 = now
	default:
		if len(l.bad) < 20 {
			l.bad = append(l.bad, p.name+": "+outcome)
		}
	}
}

// p99 is the 99th percentile of the answered requests' latency.
func (l *load) p99() time.Duration {
	if len(l.latency) == 0 {
		return 0
	}
	s := slices.Clone(l.latency)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}

// String reports the figures: requests, outcomes by code, p99.
func (l *load) String() string {
	var keys []string
	for k := range l.outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, l.outcomes[k]))
	}
	s := fmt.Sprintf("%d requests (%s), p99 %s, %d rerouted from a stopped instance",
		l.requests, strings.Join(parts, ", "), l.p99().Round(100*time.Microsecond), l.rerouted)
	if !l.first503.IsZero() {
		s += fmt.Sprintf("; 503s from first to last: %s", l.last503.Sub(l.first503).Round(time.Millisecond))
	}
	return s
}
