package apptest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// Client is a browser or API client with a cookie jar. It follows no
// redirect: a 303 is the answer it returns.
type Client struct {
	t    testing.TB
	Base string         // the application's URL
	HTTP *http.Client   // with Jar, following no redirect
	Jar  http.CookieJar // the client's cookies
}

// On returns a client of another application instance sharing this
// client's cookies.
func (cl *Client) On(other *App) *Client {
	c := *cl
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(other.Server.URL)
	from, _ := url.Parse(cl.Base)
	jar.SetCookies(u, cl.Jar.Cookies(from))
	c.Jar, c.Base = jar, other.Server.URL
	c.HTTP = &http.Client{Jar: jar, CheckRedirect: cl.HTTP.CheckRedirect}
	return &c
}

// Response is an answer, its body read, and decoded when it is JSON.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any // the body decoded, when it is a JSON object
}

// Code returns the code of a JSON error answer, or "".
func (r *Response) Code() string {
	s, _ := r.JSON["code"].(string)
	return s
}

// Cookie returns the cookie of that name the answer set, or nil.
func (r *Response) Cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Do sends a request; body may be nil, a string (sent as is, with no
// Content-Type unless headers name one), url.Values (sent as a form), or
// anything else (sent as JSON). headers are name, value pairs.
func (cl *Client) Do(method, path string, body any, headers ...string) *Response {
	cl.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, cl.Base+path, rd)
	if err != nil {
		cl.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := cl.HTTP.Do(req)
	if err != nil {
		cl.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := &Response{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(out.Body, &out.JSON)
	return out
}

// Want fails the test unless r has the status and, when code is not "",
// the error code.
func (cl *Client) Want(r *Response, status int, code string) {
	cl.t.Helper()
	if r.Status != status || (code != "" && r.Code() != code) {
		cl.t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
}

// Creds is the JSON body of a login or registration.
func Creds(user, pw string) map[string]any { return map[string]any{"username": user, "password": pw} }

// Register registers the user, which signs the client in, and fails the
// test unless it answers 201.
func (cl *Client) Register(user, pw string) *Response {
	cl.t.Helper()
	r := cl.Do("POST", "/register", Creds(user, pw))
	cl.Want(r, http.StatusCreated, "")
	return r
}

// Login signs the user in, and fails the test unless it answers 200.
func (cl *Client) Login(user, pw string) *Response {
	cl.t.Helper()
	r := cl.Do("POST", "/login", Creds(user, pw))
	cl.Want(r, http.StatusOK, "")
	return r
}

// SessionCookie returns the client's current session cookie, or nil.
func (cl *Client) SessionCookie() *http.Cookie {
	u, _ := url.Parse(cl.Base)
	for _, c := range cl.Jar.Cookies(u) {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}
