package main

import (
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// auditRecords reads the JSON audit records of a file or stream.
func auditRecords(t *testing.T, text string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(text) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "audit" {
			recs = append(recs, rec)
		}
	}
	return recs
}

// An operator's command is an audit event where the servers' audit trail
// goes (AUDIT_LOG, a file they and the commands share), with who ran it:
// --operator, else OPERATOR, else the user of the process. So are the
// account events it causes (the user it creates, the sessions it ends).
func TestOperatorCommandsAreAudited(t *testing.T) {
	dir := t.TempDir()
	trail := filepath.Join(dir, "audit.log")
	env := map[string]string{"DATABASE_URL": filepath.Join(dir, "x.db"), "SESSION_STORE": "gorm",
		"AUDIT_LOG": trail, "LOG_FORMAT": "json", "SESSION_SECRET": "example-audit-secret-0123456789abcdef"}
	if r := runAdmin(t, env, "", "migrate"); r.code != exitOK {
		t.Fatalf("migrate: %+v", r)
	}
	// A server on the same environment signs alice in: its events go there too.
	if r := runAdmin(t, env, "alice's password\n", "users", "create", "alice", "--operator", "olive"); r.code != exitOK {
		t.Fatalf("users create: %+v", r)
	}
	srv := newAdminServer(t, env)
	srv.mustSignIn("alice", "alice's password", "x")
	withOperator := map[string]string{"OPERATOR": "oscar"}
	for k, v := range env {
		withOperator[k] = v
	}
	if r := runAdmin(t, withOperator, "", "sessions", "revoke-all", "alice"); r.code != exitOK {
		t.Fatalf("sessions revoke-all: %+v", r)
	}
	if r := runAdmin(t, env, "", "users", "delete", "nobody"); r.code != exitNotFound {
		t.Fatalf("users delete nobody: %+v", r)
	}
	b, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ event, command, operator, username, result string }{
		{"operator_command", "migrate", me.Username, "", "ok"},
		{"register", "", "olive", "alice", ""},
		{"operator_command", "users create", "olive", "alice", "ok"},
		{"login_success", "", "", "alice", ""},
		{"logout_all", "", "oscar", "", ""},
		{"operator_command", "sessions revoke-all", "oscar", "alice", "ok"},
		{"operator_command", "users delete", me.Username, "nobody", "not_found"},
	}
	recs := auditRecords(t, string(b))
	if len(recs) != len(want) {
		t.Fatalf("the audit trail has %d records, want %d:\n%s", len(recs), len(want), b)
	}
	for i, w := range want {
		rec := recs[i]
		str := func(k string) string { s, _ := rec[k].(string); return s }
		if str("event") != w.event || str("command") != w.command || str("operator") != w.operator ||
			(w.username != "" && str("username") != w.username) || str("result") != w.result {
			t.Errorf("record %d: %v, want %+v", i, rec, w)
		}
	}
	// Without AUDIT_LOG the record goes with the command's logs, to stderr.
	delete(env, "AUDIT_LOG")
	r := runAdmin(t, env, "", "sessions", "list", "nobody")
	if recs := auditRecords(t, r.stderr); len(recs) != 1 || recs[0]["operator"] != me.Username || recs[0]["command"] != "sessions list" {
		t.Errorf("sessions list without AUDIT_LOG: %q", r.stderr)
	}
}
