package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// client is one simulated visitor: a keep-alive connection of its own, made
// from a loopback address of its own (127.1.x.y), as visitors come from
// many addresses, and its session cookie once signed in.
type client struct {
	http   *http.Client
	cookie string
}

// newClients makes n clients, numbered from first: the number picks the
// client's source address.
func newClients(first, n int) []*client {
	cs := make([]*client, n)
	for i := range cs {
		k := first + i
		local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(k/250), byte(k%250+1))}
		dialer := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
		cs[i] = &client{http: &http.Client{
			Transport: &http.Transport{
				DialContext:           dialer.DialContext,
				MaxIdleConnsPerHost:   1,
				MaxConnsPerHost:       1,
				DisableCompression:    true,
				ResponseHeaderTimeout: 30 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	}
	return cs
}

// closeClients closes the clients' connections.
func closeClients(cs []*client) {
	for _, c := range cs {
		c.http.CloseIdleConnections()
	}
}

// do sends req with the client's cookie, reads the whole answer, and keeps
// any cookie the answer sets. It returns the status and, for 429 and 503,
// the Retry-After header.
func (c *client) do(req *http.Request) (status int, retryAfter string, err error) {
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	if set := resp.Cookies(); len(set) > 0 {
		c.cookie = cookieHeader(set)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// cookieHeader is the Cookie header that sends back the live cookies set.
func cookieHeader(set []*http.Cookie) string {
	var parts []string
	for _, ck := range set {
		if ck.MaxAge >= 0 && ck.Value != "" {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
	}
	return strings.Join(parts, "; ")
}

// meRequest is GET /me.
func meRequest(ctx context.Context, base string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/me", nil)
	req.Header.Set("Accept", "application/json")
	return req
}

// loginRequest is POST /login of user i with the right password.
func loginRequest(ctx context.Context, base string, i int) *http.Request {
	body := `{"username":"` + username(i) + `","password":"` + benchPassword + `"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req
}

// signIn logs every client in, client i as user i mod users, conc at a
// time, each getting its own session cookie (but for the floor stack,
// which has none). A login answered 429 or 503
// is tried again after Retry-After, a few times.
func signIn(ctx context.Context, base string, cs []*client, users, conc int) error {
	next := make(chan int)
	errs := make(chan error, len(cs))
	var wg sync.WaitGroup
	for range min(conc, len(cs)) {
		wg.Go(func() {
			for i := range next {
				errs <- signInOne(ctx, base, cs[i], i%users)
			}
		})
	}
	for i := range cs {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// signInOne logs c in as user i.
func signInOne(ctx context.Context, base string, c *client, i int) error {
	for range 10 {
		c.cookie = ""
		status, retry, err := c.do(loginRequest(ctx, base, i))
		switch {
		case err != nil:
			return fmt.Errorf("signing in %s: %w", username(i), err)
		case status == http.StatusOK: // the floor stack sets no cookie
			return nil
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			wait, _ := strconv.Atoi(retry)
			select {
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			return fmt.Errorf("signing in %s: status %d", username(i), status)
		}
	}
	return fmt.Errorf("signing in %s: still refused after 10 tries", username(i))
}

// phaseResult is what the load driver saw in one phase.
type phaseResult struct {
	// ok counts the requests answered 200.
	ok int64
	// failed counts the other answers by status; 0 stands for a transport
	// error.
	failed map[int]int64
	// elapsed runs from the first request to the end of the last one.
	elapsed time.Duration
	// latencies are those of the requests answered 200, sorted, when the
	// phase keeps them.
	latencies []time.Duration
}

// add counts the answers of q in r: one stack's slices of an interleaved
// phase add up to its whole phase. The latencies are left unsorted.
func (r *phaseResult) add(q phaseResult) {
	r.ok += q.ok
	r.elapsed += q.elapsed
	r.latencies = append(r.latencies, q.latencies...)
	for s, n := range q.failed {
		r.failed[s] += n
	}
}

// perSecond returns the 200 answers per second.
func (r phaseResult) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// percentile returns the latency that fraction q of the kept latencies do
// not exceed (the nearest rank).
func (r phaseResult) percentile(q float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(n))) - 1
	return r.latencies[min(max(i, 0), n-1)]
}

// load is what a phase sends.
type load struct {
	// next makes the next request of the client numbered worker.
	next func(ctx context.Context, worker int) *http.Request
	// anonymous sends every request without a cookie: a new visitor each
	// time (the connection is still kept alive).
	anonymous bool
	// keepLatencies keeps the latency of every request answered 200.
	keepLatencies bool
}

// hammer has every client send the load's requests, one after the other
// (each client waits for its answer before sending the next), until d has
// passed or ctx ends. Requests under way at the deadline are finished and
// counted.
func hammer(ctx context.Context, cs []*client, d time.Duration, l load) phaseResult {
	type tally struct {
		ok        int64
		failed    map[int]int64
		latencies []time.Duration
	}
	tallies := make([]tally, len(cs))
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w, c := range cs {
		wg.Go(func() {
			t := &tallies[w]
			t.failed = map[int]int64{}
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if l.anonymous {
					c.cookie = ""
				}
				req := l.next(ctx, w)
				t0 := time.Now()
				status, _, err := c.do(req)
				took := time.Since(t0)
				switch {
				case err != nil:
					t.failed[0]++
					time.Sleep(10 * time.Millisecond) // a dead server is not hammered in a tight loop
				case status == http.StatusOK:
					t.ok++
					if l.keepLatencies {
						t.latencies = append(t.latencies, took)
					}
				default:
					t.failed[status]++
				}
			}
		})
	}
	wg.Wait()
	r := phaseResult{elapsed: time.Since(start), failed: map[int]int64{}}
	for _, t := range tallies {
		r.ok += t.ok
		r.latencies = append(r.latencies, t.latencies...)
		for s, n := range t.failed {
			r.failed[s] += n
		}
	}
	slices.Sort(r.latencies)
	return r
}

// meLoad is the load of the GET /me phase: each client with its session
// cookie.
func meLoad(base string, keepLatencies bool) load {
	return load{
		next:          func(ctx context.Context, _ int) *http.Request { return meRequest(ctx, base) },
		keepLatencies: keepLatencies,
	}
}

// loginLoad is the load of the POST /login phase: the users in turn (so
// that, with at least as many users as connections, no account has two
// logins under way, as with real users), each from a client without a
// cookie.
func loginLoad(base string, users int) load {
	var n atomic.Int64
	return load{
		next: func(ctx context.Context, _ int) *http.Request {
			return loginRequest(ctx, base, int((n.Add(1)-1)%int64(users)))
		},
		anonymous: true,
	}
}
