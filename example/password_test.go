package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
)

// runAdminWith runs an admin command line with stdin as standard input (a
// file: a pipe or a terminal), and returns what it gave.
func runAdminWith(env map[string]string, stdin *os.File, args ...string) adminResult {
	var stdout bytes.Buffer
	stderr := &testenv.LogBuffer{}
	code := admin(args, func(k string) string { return env[k] }, stdin, &stdout, stderr)
	return adminResult{code, stdout.String(), stderr.String()}
}

// A password piped in (a script) is read from the first line, with no
// prompt, and the user signs in with it.
func TestPasswordFromAPipe(t *testing.T) {
	env := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": "gorm"}
	if r := runAdmin(t, env, "", "migrate"); r.code != exitOK {
		t.Fatalf("migrate: %+v", r)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		_, _ = pw.WriteString("piped password 1\nsecond line\n")
		_ = pw.Close()
	}()
	r := runAdminWith(env, pr, "users", "create", "pia")
	if r.code != exitOK || strings.Contains(r.stderr, "Password") || strings.Contains(r.stdout+r.stderr, "piped password") {
		t.Fatalf("users create from a pipe: %+v", r)
	}
	srv := newAdminServer(t, env)
	if code, _ := srv.signIn("pia", "piped password 1", "x"); code != 200 {
		t.Errorf("signing in with the piped password: %d", code)
	}
}
