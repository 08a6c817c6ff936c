package hibp_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/hibp"
	"github.com/ginauth/ginauth/internal/apptest"
)

func sha1Hex(pw string) string {
	sum := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// rangeServer answers the range API over real HTTP from the hashes the test
// gives it (full upper-case SHA-1 → count), padded with random suffixes of
// count 0, and records what each request carried.
type rangeServer struct {
	*httptest.Server
	mu       sync.Mutex
	counts   map[string]int
	padding  []string // extra lines the answer carries, e.g. "SUFFIX:0"
	answer   func(w http.ResponseWriter, r *http.Request) bool
	requests []seen
}

type seen struct {
	path, query, method string
	header              http.Header
	body                int64
}

func newRangeServer(t *testing.T, breached map[string]int) *rangeServer {
	s := &rangeServer{counts: map[string]int{}}
	for pw, n := range breached {
		s.counts[sha1Hex(pw)] = n
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *rangeServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, seen{r.URL.Path, r.URL.RawQuery, r.Method, r.Header.Clone(), r.ContentLength})
	answer, padding := s.answer, s.padding
	s.mu.Unlock()
	if answer != nil && answer(w, r) {
		return
	}
	prefix := strings.TrimPrefix(r.URL.Path, "/range/")
	var b strings.Builder
	for h, n := range s.counts {
		if strings.HasPrefix(h, prefix) {
			fmt.Fprintf(&b, "%s:%d\r\n", h[5:], n)
		}
	}
	if r.Header.Get("Add-Padding") == "true" {
		for i := range 800 {
			sum := sha1.Sum(fmt.Appendf(nil, "padding %d", i))
			fmt.Fprintf(&b, "%s:0\r\n", strings.ToUpper(hex.EncodeToString(sum[:]))[5:])
		}
		for _, p := range padding {
			b.WriteString(p + "\r\n")
		}
	}
	_, _ = w.Write([]byte(b.String()))
}

func (s *rangeServer) seen() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.requests...)
}

func newChecker(t *testing.T, o hibp.Options) *hibp.Checker {
	t.Helper()
	c, err := hibp.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Only 5 upper-case hex digits of the hash leave the process, padded; never
// the password, the full hash or its suffix.
func TestCheckerSendsOnlyAPrefix(t *testing.T) {
	const pw = "correct horse battery staple"
	srv := newRangeServer(t, map[string]int{pw: 3})
	c := newChecker(t, hibp.Options{URL: srv.URL + "/range/", UserAgent: "ginauth-test"})
	if err := c.CheckPassword(context.Background(), pw); !errors.Is(err, auth.ErrBreachedPassword) {
		t.Fatalf("err = %v, want ErrBreachedPassword", err)
	}
	reqs := srv.seen()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	hash := sha1Hex(pw)
	if !regexp.MustCompile(`^/range/[0-9A-F]{5}$`).MatchString(r.path) || r.path != "/range/"+hash[:5] {
		t.Errorf("path %q: want /range/ and the 5 upper-case hex digits %s", r.path, hash[:5])
	}
	if r.method != http.MethodGet || r.query != "" || r.body > 0 {
		t.Errorf("request %s ?%q with a %d-byte body: want a bare GET", r.method, r.query, r.body)
	}
	if got := r.header.Values("Add-Padding"); len(got) != 1 || got[0] != "true" {
		t.Errorf("Add-Padding: %q, want true", got)
	}
	if got := r.header.Get("User-Agent"); got != "ginauth-test" {
		t.Errorf("User-Agent %q", got)
	}
	var all strings.Builder
	all.WriteString(r.path + "?" + r.query)
	for k, vs := range r.header {
		all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	for _, secret := range []string{pw, hash, strings.ToLower(hash), hash[5:], strings.ToLower(hash[5:]), hash[:6]} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the request carried %q", secret)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	const pw = "tender lizard kettle"
	suffix := sha1Hex(pw)[5:]
	tests := []struct {
		name     string
		breached map[string]int
		padding  []string
		minCount int
		want     error
	}{
		{"breached", map[string]int{pw: 1}, nil, 0, auth.ErrBreachedPassword},
		{"breached often", map[string]int{pw: 52_256_179}, nil, 0, auth.ErrBreachedPassword},
		{"never seen", map[string]int{"another one": 9}, nil, 0, nil},
		{"only as padding", nil, []string{suffix + ":0"}, 0, nil},
		{"lower-case suffix", nil, []string{strings.ToLower(suffix) + ":4"}, 0, auth.ErrBreachedPassword},
		{"below MinCount", map[string]int{pw: 9}, nil, 10, nil},
		{"at MinCount", map[string]int{pw: 10}, nil, 10, auth.ErrBreachedPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRangeServer(t, tt.breached)
			srv.padding = tt.padding
			c := newChecker(t, hibp.Options{URL: srv.URL + "/range/", MinCount: tt.minCount})
			err := c.CheckPassword(context.Background(), pw)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if c.Failures() != 0 {
				t.Errorf("%d failures counted", c.Failures())
			}
		})
	}
}

// A check that could not run lets the password through (fail open,
// logged and counted), or, FailClosed, answers an error that the HTTP edge
// makes a 503, never a refusal.
func TestCheckFailures(t *testing.T) {
	const pw = "tender lizard kettle"
	hang := func(w http.ResponseWriter, r *http.Request) bool { <-r.Context().Done(); return true }
	status := func(code int) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(code); return true }
	}
	body := func(b []byte) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool { _, _ = w.Write(b); return true }
	}
	line := []byte(strings.Repeat("0", 35) + ":0\r\n")
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request) bool // nil: the server is down
	}{
		{"timeout", hang},
		{"unavailable", status(http.StatusServiceUnavailable)},
		{"rate limited", status(http.StatusTooManyRequests)},
		{"not found", status(http.StatusNotFound)},
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
			return true
		}},
		{"malformed", body([]byte("<html>maintenance</html>"))},
		{"over 1 MiB", body(bytes.Repeat(line, hibp.MaxResponseBytes/len(line)+1))},
		{"down", nil},
	}
	for _, tt := range tests {
		for _, closed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/FailClosed=%v", tt.name, closed), func(t *testing.T) {
				srv := newRangeServer(t, map[string]int{pw: 5})
				srv.answer = tt.answer
				url := srv.URL + "/range/"
				if tt.answer == nil {
					srv.Close()
				}
				var logs bytes.Buffer
				c := newChecker(t, hibp.Options{
					URL: url, Timeout: 100 * time.Millisecond, FailClosed: closed,
					Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				})
				err := c.CheckPassword(context.Background(), pw)
				switch {
				case !closed && err != nil:
					t.Fatalf("fail open: err = %v, want nil", err)
				case closed && !errors.Is(err, auth.ErrPasswordCheckUnavailable):
					t.Fatalf("fail closed: err = %v, want ErrPasswordCheckUnavailable", err)
				case errors.Is(err, auth.ErrWeakPassword):
					t.Fatalf("err = %v: a failure is not a refusal", err)
				}
				if c.Failures() != 1 {
					t.Errorf("Failures() = %d, want 1", c.Failures())
				}
				if !strings.Contains(logs.String(), "breached-password check failed") {
					t.Errorf("nothing logged: %q", logs.String())
				}
				hash := sha1Hex(pw)
				for _, text := range []string{logs.String(), fmt.Sprint(err)} {
					if strings.Contains(text, hash[:5]) || strings.Contains(text, pw) {
						t.Errorf("the prefix or password is in %q", text)
					}
				}
			})
		}
	}
}

// A caller that gives up is not the service's failure: its error, not
// counted, whatever the policy.
func TestCheckCancelledByTheCaller(t *testing.T) {
	srv := newRangeServer(t, nil)
	srv.answer = func(w http.ResponseWriter, r *http.Request) bool { <-r.Context().Done(); return true }
	c := newChecker(t, hibp.Options{URL: srv.URL + "/range/", Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.CheckPassword(ctx, "tender lizard kettle"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	if c.Failures() != 0 {
		t.Errorf("Failures() = %d, want 0", c.Failures())
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []hibp.Options{
		{URL: "api.pwnedpasswords.com/range/"},
		{URL: "ftp://mirror.example/range/"},
		{URL: "https:///range/"},
		{URL: "https://mirror.example/range?prefix="},
		{Timeout: -time.Second},
		{MinCount: -1},
	} {
		if c, err := hibp.New(o); c != nil || !errors.Is(err, hibp.ErrOptions) {
			t.Errorf("New(%+v) = %v, %v; want ErrOptions", o, c, err)
		}
	}
	if _, err := hibp.New(hibp.Options{}); err != nil {
		t.Errorf("the zero Options: %v", err)
	}
}

// Through an application: a breached password is refused with its code,
// and a service that is down answers 503 when failing closed, or lets the
// registration through when failing open.
func TestBreachedPasswordsOverHTTP(t *testing.T) {
	const leaked = "leaked but long enough"
	srv := newRangeServer(t, map[string]int{leaked: 2})
	app := func(o hibp.Options) *apptest.App {
		c := newChecker(t, o)
		return apptest.NewEnv(t, apptest.Backends[0], func(cfg *apptest.Config) {
			cfg.Auth.Passwords.Checks = []auth.PasswordChecker{c}
		})
	}
	a := app(hibp.Options{URL: srv.URL + "/range/"})
	cl := a.Client(t)
	cl.Want(cl.Do("POST", "/register", apptest.Creds("wanda", leaked)), http.StatusBadRequest, "breached_password")
	cl.Register("wanda", "wanda's unleaked password")
	cl.Want(cl.Do("POST", "/password", map[string]any{"currentPassword": "wanda's unleaked password", "newPassword": leaked}), http.StatusBadRequest, "breached_password")

	down := newRangeServer(t, nil)
	down.answer = func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(http.StatusBadGateway); return true }
	quiet := slog.New(slog.DiscardHandler)
	closed := app(hibp.Options{URL: down.URL + "/range/", FailClosed: true, Logger: quiet}).Client(t)
	closed.Want(closed.Do("POST", "/register", apptest.Creds("xavier", leaked)), http.StatusServiceUnavailable, "password_check_unavailable")
	open := app(hibp.Options{URL: down.URL + "/range/", Logger: quiet}).Client(t)
	open.Register("xavier", leaked)
}
