package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
)

// users set-email and users send-reset, with mail delivered by a real SMTP
// server: the address set (normalized, unverified) and its verification
// link mailed; a reset link mailed that an app on the same environment
// takes, the new password signing in; and the refusals: no address, a
// malformed or taken one, no such user. No output carries a token.
func TestAdminMail(t *testing.T) {
	smtp := testenv.StartSMTPServer(t)
	env := map[string]string{
		"DATABASE_URL":   filepath.Join(t.TempDir(), "x.db"),
		"SESSION_STORE":  "gorm",
		"SESSION_SECRET": "admin-test-secret-0123456789abcdef0123",
		"SMTP_URL":       smtp.URL(),
	}
	base := "http://127.0.0.1:8080" // BASE_URL's default, from ADDR's
	run := func(code int, stdin string, args ...string) adminResult {
		t.Helper()
		res := runAdmin(t, env, stdin, args...)
		if res.code != code {
			t.Fatalf("%s: exit %d, want %d; stdout %q; stderr %q", strings.Join(args, " "), res.code, code, res.stdout, res.stderr)
		}
		return res
	}
	run(exitOK, "", "migrate")
	run(exitOK, "alice's password\n", "users", "create", "alice")
	run(exitOK, "bob's password\n", "users", "create", "bob")

	if res := run(exitFailed, "", "users", "send-reset", "alice"); !strings.Contains(res.stderr, `user "alice" has no email address: give them one with users set-email`) {
		t.Errorf("send-reset without an address: %q", res.stderr)
	}
	if res := run(exitFailed, "", "users", "set-email", "alice", "not an address"); !strings.Contains(res.stderr, "setting the address") {
		t.Errorf("a malformed address: %q", res.stderr)
	}
	res := run(exitOK, "", "users", "set-email", "alice", "Alice@Example.org")
	if res.stdout != "set the address of \"alice\" to alice@example.org, unverified; mailed it a link to verify it\n" {
		t.Errorf("set-email: %q", res.stdout)
	}
	verify := linkIn(t, smtp, "alice@example.org", base, "/email/verify")
	if res := run(exitFailed, "", "users", "set-email", "bob", "alice@example.org"); !strings.Contains(res.stderr, "the address alice@example.org is another user's") {
		t.Errorf("a taken address: %q", res.stderr)
	}
	run(exitNotFound, "", "users", "send-reset", "nobody")
	run(exitNotFound, "", "users", "set-email", "nobody", "x@example.org")

	res = run(exitOK, "", "--json", "users", "send-reset", "alice")
	var doc mailJSON
	decodeJSON(t, res.stdout, &doc)
	if doc.Username != "alice" || doc.Email != "alice@example.org" || !doc.Mailed || doc.UserID == "" {
		t.Errorf("send-reset --json: %+v", doc)
	}
	reset := linkIn(t, smtp, "alice@example.org", base, "/password/reset")
	token := strings.TrimPrefix(reset, "/password/reset?token=")
	for _, tok := range []string{token, strings.TrimPrefix(verify, "/email/verify?token=")} {
		if strings.Contains(res.stdout+res.stderr, tok) {
			t.Error("a command's output carries a token")
		}
	}
	// The link works on the servers, and the new password signs in.
	srv := newAdminServer(t, env)
	body, _ := json.Marshal(map[string]string{"token": token, "newPassword": "alice's new password"})
	req := httptest.NewRequest("POST", "/password/reset", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /password/reset with the mailed token: %d %s", rec.Code, rec.Body)
	}
	if code, _ := srv.signIn("alice", "alice's password", "curl"); code != http.StatusUnauthorized {
		t.Errorf("the old password: %d", code)
	}
	srv.mustSignIn("alice", "alice's new password", "curl")

	// An empty address removes it.
	if res := run(exitOK, "", "users", "set-email", "alice", ""); res.stdout != "removed the address of \"alice\"\n" {
		t.Errorf("set-email \"\": %q", res.stdout)
	}
	run(exitFailed, "", "users", "send-reset", "alice")
}
