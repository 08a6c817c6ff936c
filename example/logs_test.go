package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
)

// A scripted session against the whole example app, with everything it
// logs captured: no password, hash, cookie, session ID or secret reaches
// the log, and neither does an address a client made up.
func TestLogsCarryNoSecrets(t *testing.T) {
	const secret = "example-log-test-secret-0123456789abcdef"
	env := map[string]string{
		"DATABASE_URL":   filepath.Join(t.TempDir(), "logs.db"),
		"SESSION_STORE":  "memory",
		"SESSION_SECRET": secret,
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	srv := serveLogged(t, cfg, logs)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	var cookies []string
	send := func(method, path string, body any, want int) {
		t.Helper()
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "6.6.6.6") // made up by the client
		req.Header.Set("X-Real-IP", "6.6.6.7")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
		}
		for _, c := range res.Cookies() {
			if c.Value != "" {
				cookies = append(cookies, c.Value)
			}
		}
	}
	creds := func(u, p string) map[string]string { return map[string]string{"username": u, "password": p} }
	send("POST", "/register", creds("uma", "uma's first password"), http.StatusCreated)
	send("POST", "/register", creds("uma", "a password for a taken name"), http.StatusConflict)
	send("POST", "/login", creds("uma", "not uma's password"), http.StatusUnauthorized)
	send("POST", "/login", creds("uma", "uma's first password"), http.StatusOK)
	send("GET", "/me", nil, http.StatusOK)
	send("POST", "/password", map[string]string{"currentPassword": "uma's first password", "newPassword": "uma's second password"}, http.StatusOK)
	send("POST", "/logout", nil, http.StatusNoContent)

	out := logs.String()
	if !strings.Contains(out, "/register") {
		t.Fatalf("the request log is missing; captured:\n%s", out)
	}
	// The audit trail: each account event, with the account and the
	// client's real address.
	for _, want := range []string{
		"msg=audit event=register user=1 username=uma ip=127.0.0.1",
		"msg=audit event=login_failure username=uma ip=127.0.0.1 action=login",
		"msg=audit event=login_success user=1 username=uma ip=127.0.0.1 session=",
		"msg=audit event=password_change user=1",
		"msg=audit event=logout user=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, out)
		}
	}
	forbidden := []string{"uma's first password", "a password for a taken name", "not uma's password",
		"uma's second password", "$2a$", secret, "6.6.6.6", "6.6.6.7"}
	forbidden = append(forbidden, cookies...)
	for _, s := range forbidden {
		if strings.Contains(out, s) {
			t.Errorf("the log carries %.24q:\n%s", s, out)
		}
	}
}

// serveLogged serves the example app that cfg describes over real HTTP,
// with everything it logs written to logs.
func serveLogged(t *testing.T, cfg config, logs io.Writer) *httptest.Server {
	t.Helper()
	a, err := newApp(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	return srv
}
