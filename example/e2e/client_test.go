package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// person is one browser's worth of client: a cookie jar that both
// instances see (cookies are per host, not per port, as behind one load
// balancer), a name and a password.
type person struct {
	t        testing.TB
	name     string
	password string
	c        *http.Client
}

func newPerson(t testing.TB, name, password string) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, name: name, password: password, c: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		// Redirects are answers to check, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// reply is an answer: its status, its JSON (when it is JSON) and its body.
type reply struct {
	status int
	json   map[string]any
	body   string
	header http.Header
}

// username is user.username of a JSON answer that carries a user.
func (r reply) username() string {
	u, _ := r.json["user"].(map[string]any)
	s, _ := u["username"].(string)
	return s
}

// do sends a JSON request (body nil for none) to the instance.
func (p *person) do(in *instance, method, path string, body any) reply {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, in.url(path), rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return p.send(req)
}

// form posts an HTML form to the instance, as a browser without
// JavaScript does.
func (p *person) form(in *instance, path string, values url.Values) reply {
	p.t.Helper()
	req, _ := http.NewRequest("POST", in.url(path), strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return p.send(req)
}

// page gets an HTML page from the instance.
func (p *person) page(in *instance, path string) reply {
	p.t.Helper()
	req, _ := http.NewRequest("GET", in.url(path), nil)
	req.Header.Set("Accept", "text/html")
	return p.send(req)
}

func (p *person) send(req *http.Request) reply {
	p.t.Helper()
	res, err := p.c.Do(req)
	if err != nil {
		p.t.Fatalf("%s: %s %s: %v", p.name, req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, body: string(b), header: res.Header}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

// want fails the test unless r has the status.
func (p *person) want(r reply, status int, what string) reply {
	p.t.Helper()
	if r.status != status {
		p.t.Fatalf("%s: %s answered %d, want %d: %s", p.name, what, r.status, status, r.body)
	}
	return r
}

func (p *person) register(in *instance) {
	p.t.Helper()
	p.want(p.do(in, "POST", "/register", map[string]any{"username": p.name, "password": p.password}), http.StatusCreated, "register on "+in.name)
}

func (p *person) login(in *instance) {
	p.t.Helper()
	p.want(p.do(in, "POST", "/login", map[string]any{"username": p.name, "password": p.password}), http.StatusOK, "login on "+in.name)
}

// me asks the instance who p is, and fails unless the answer is p.
func (p *person) me(in *instance) reply {
	p.t.Helper()
	r := p.want(p.do(in, "GET", "/me", nil), http.StatusOK, "GET /me on "+in.name)
	if r.username() != p.name {
		p.t.Fatalf("%s: GET /me on %s answered user %q", p.name, in.name, r.username())
	}
	return r
}

// signedOut fails unless the instance answers p's next request with 401.
func (p *person) signedOut(in *instance, why string) {
	p.t.Helper()
	r := p.do(in, "GET", "/me", nil)
	if r.status != http.StatusUnauthorized {
		p.t.Fatalf("%s: after %s, GET /me on %s answered %d (%s), want 401 at once", p.name, why, in.name, r.status, r.body)
	}
}
