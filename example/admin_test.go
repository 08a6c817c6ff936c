package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
)

// adminResult is what one run of admin gave.
type adminResult struct {
	code           int
	stdout, stderr string
}

// runAdmin runs an admin command line with env as the environment and stdin
// as standard input. Its stderr is a testenv.LogBuffer: the app's background
// goroutines log there too.
func runAdmin(t *testing.T, env map[string]string, stdin string, args ...string) adminResult {
	t.Helper()
	var stdout bytes.Buffer
	stderr := &testenv.LogBuffer{}
	code := admin(args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, stderr)
	return adminResult{code, stdout.String(), stderr.String()}
}

// decodeJSON decodes a command's --json output into v, failing the test
// when it is not exactly one JSON document.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %q: %v", out, err)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document: %q", out)
	}
}

// Usage errors and help, on a database that cannot be opened: a usage error
// is found before anything is opened, so each answers 2, with one line on
// stderr and nothing on stdout; an operation that needs the database
// answers 1.
func TestAdminUsage(t *testing.T) {
	env := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "no-such-dir", "x.db"), "SESSION_STORE": "gorm"}
	cases := []struct {
		args   []string
		stdin  string
		code   int
		stderr string // a part of the one line on stderr
		usage  bool   // stdout is the usage, and stderr empty
	}{
		{args: []string{"help"}, usage: true},
		{args: []string{"-h"}, usage: true},
		{args: []string{"--help"}, usage: true},
		{args: []string{"--json", "help"}, usage: true},
		{args: []string{"users", "--help"}, usage: true},
		{args: nil, code: exitUsage, stderr: "example: no command"},
		{args: []string{"--json"}, code: exitUsage, stderr: "example: no command"},
		{args: []string{"frobnicate"}, code: exitUsage, stderr: `example: unknown command "frobnicate"`},
		{args: []string{"users"}, code: exitUsage, stderr: "example: users: want a command: create, passwd, delete, set-email, send-reset, 2fa-reset"},
		{args: []string{"users", "rename", "bob"}, code: exitUsage, stderr: `example: users: unknown command "rename"`},
		{args: []string{"users", "create"}, code: exitUsage, stderr: "example: users create: want USERNAME, got none"},
		{args: []string{"users", "delete", "a", "b"}, code: exitUsage, stderr: "example: users delete: want USERNAME, got 2 arguments"},
		{args: []string{"sessions", "revoke", "bob"}, code: exitUsage, stderr: "example: sessions revoke: want USERNAME ID, got 1 argument"},
		{args: []string{"sessions", "revoke", "bob", "not-a-handle"}, code: exitUsage, stderr: `example: sessions revoke: "not-a-handle" is not a session ID`},
		{args: []string{"secret"}, code: exitUsage, stderr: "example: secret: want a command: new"},
		{args: []string{"migrate", "now"}, code: exitUsage, stderr: "example: migrate: want no arguments, got 1 argument"},
		{args: []string{"--verbose", "migrate"}, code: exitUsage, stderr: `example: unknown flag "--verbose"`},
		{args: []string{"migrate", "--json=false"}, code: exitUsage, stderr: `example: unknown flag "--json=false"`},
		{args: []string{"sessions", "list", "bob", "--password-stdin"}, code: exitUsage, stderr: "example: sessions list: --password-stdin is for users create and users passwd"},
		{args: []string{"--json", "serve"}, code: exitUsage, stderr: "example: serve takes no flags or arguments"},
		{args: []string{"users", "create", "bob", "--password-stdin"}, stdin: "", code: exitUsage, stderr: "example: users create: no password on standard input"},
		// The database is out of reach: the operation fails.
		{args: []string{"users", "delete", "bob"}, code: exitFailed, stderr: "example: users delete: opening the stores: "},
		{args: []string{"users", "create", "bob"}, stdin: "bob's password\n", code: exitFailed, stderr: "example: users create: opening the stores: "},
		{args: []string{"--json", "migrate"}, code: exitFailed, stderr: "example: migrate: reading the database: "},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := runAdmin(t, env, c.stdin, c.args...)
			if r.code != c.code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			if c.usage {
				if r.stdout != adminUsage || r.stderr != "" {
					t.Errorf("stdout %q, stderr %q: want the usage", r.stdout, r.stderr)
				}
				return
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			// Besides the audit record of a command that ran (audit_test.go).
			var lines []string
			for line := range strings.Lines(r.stderr) {
				if !strings.Contains(line, "msg=audit ") {
					lines = append(lines, line)
				}
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], c.stderr) {
				t.Errorf("stderr %q, want one line starting %q", r.stderr, c.stderr)
			}
		})
	}
	// The usage names every command.
	for _, c := range adminCommands {
		if line := strings.Join(append([]string{"\n ", c.title()}, c.operands...), " ") + " "; !strings.Contains(adminUsage, line) {
			t.Errorf("the usage lacks %q", line)
		}
	}
}

// secret new prints 32 random bytes in base64url, as text or JSON, that
// SESSION_SECRET takes as one secret, and a new one each time. It opens no
// store.
func TestAdminSecret(t *testing.T) {
	env := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "no-such-dir", "x.db")}
	text := runAdmin(t, env, "", "secret", "new")
	var doc secretJSON
	asJSON := runAdmin(t, env, "", "secret", "new", "--json")
	if text.code != exitOK || asJSON.code != exitOK || text.stderr != "" || asJSON.stderr != "" {
		t.Fatalf("secret new: %+v; --json: %+v", text, asJSON)
	}
	decodeJSON(t, asJSON.stdout, &doc)
	for _, s := range []string{strings.TrimSuffix(text.stdout, "\n"), doc.Secret} {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 || strings.ContainsAny(s, ", \n") {
			t.Errorf("secret %q: %d bytes, %v", s, len(b), err)
		}
		cfg, err := loadConfig(func(k string) string { return map[string]string{"SESSION_SECRET": s}[k] })
		if err != nil || cfg.randomSecret || len(cfg.secrets) != 1 || len(cfg.secrets[0]) < 32 {
			t.Errorf("SESSION_SECRET=%s: %v %+v", s, err, cfg.secrets)
		}
	}
	if doc.Secret+"\n" == text.stdout {
		t.Error("two secrets alike")
	}
}

// adminBackend is a place the admin commands run against: the environment
// and the tables migrate makes there.
type adminBackend struct {
	name     string
	database string // "sqlite" or "postgres"
	tables   []string
	env      func(t *testing.T) map[string]string
}

var adminBackends = []adminBackend{
	{"sqlite", "sqlite", []string{"accounts", deploymentTable, sessionsTable}, func(t *testing.T) map[string]string {
		return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": "gorm"}
	}},
	{"postgres", "postgres", []string{"accounts", deploymentTable, sessionsTable, throttleTable}, func(t *testing.T) map[string]string {
		return map[string]string{"DATABASE_URL": postgresSchemaURL(t), "SESSION_STORE": "gorm"}
	}},
	{"redis", "sqlite", []string{"accounts", deploymentTable}, func(t *testing.T) map[string]string {
		srv := testenv.StartRedisServer(t)
		return map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": "redis", "REDIS_URL": "redis://" + srv.Addr() + "/0"}
	}},
}

// postgresSchemaURL returns the URL of the test PostgreSQL database with a
// schema of the test's own first on the search path, dropped at cleanup, so
// that tests never share tables.
func postgresSchemaURL(t *testing.T) string {
	base := testenv.PostgresURL(t)
	db, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		testenv.Missing(t, "PostgreSQL", err.Error())
	}
	sqlDB, _ := db.DB()
	schema := "admin_" + testenv.Unique()
	if err := db.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		_ = sqlDB.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// adminServer is the app serving on env, for the sessions the commands
// list and end: it signs people in, and tells which cookies still work.
type adminServer struct {
	t *testing.T
	h http.Handler
}

func newAdminServer(t *testing.T, env map[string]string) *adminServer {
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, &testenv.LogBuffer{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return &adminServer{t, a.handler}
}

// signIn posts the credentials to /login from a client with the user
// agent, and returns the status and the cookies it got.
func (s *adminServer) signIn(username, password, userAgent string) (int, []*http.Cookie) {
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req := httptest.NewRequest("POST", "/login", bytes.NewReader(body)) // from 192.0.2.1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec.Code, rec.Result().Cookies()
}

// mustSignIn signs in and returns the cookies.
func (s *adminServer) mustSignIn(username, password, userAgent string) []*http.Cookie {
	s.t.Helper()
	code, cookies := s.signIn(username, password, userAgent)
	if code != http.StatusOK || len(cookies) == 0 {
		s.t.Fatalf("signing %s in: %d", username, code)
	}
	return cookies
}

// me answers GET /me's status with the cookies: 200 while their session
// lives, 401 once it has ended.
func (s *adminServer) me(cookies []*http.Cookie) int {
	req := httptest.NewRequest("GET", "/me", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec.Code
}

// The commands against each database and session store, in the order an
// operator might use them, with the sessions of an app on the same
// environment: tables made, users created (and refused), sessions listed
// and ended (and their cookies refused by the app right after), a password
// reset, a user deleted, each in text and in JSON, with the exit code of
// success, failure, usage error and not found. No output carries a
// password, a hash or a cookie.
func TestAdmin(t *testing.T) {
	for _, b := range adminBackends {
		t.Run(b.name, func(t *testing.T) { testAdmin(t, b) })
	}
}

// testAdmin runs the steps of TestAdmin on one backend, failing at the
// first step whose exit code is wrong: later steps build on it.
func testAdmin(t *testing.T, b adminBackend) {
	env := b.env(t)
	env["SESSION_SECRET"] = "admin-test-secret-0123456789abcdef0123"
	var srv *adminServer // once migrate has run on an empty database

	const (
		alicePW    = "alice's password"
		aliceNewPW = "alice's new password"
		bobPW      = "bob's password"
	)
	// What the steps learn and later steps use.
	var (
		bobID            string
		aliceFirefox     []*http.Cookie
		aliceCurl        []*http.Cookie
		aliceAgain       []*http.Cookie
		bobCookies       []*http.Cookie
		firefox, curl    string // public IDs
		secrets          = []string{alicePW, aliceNewPW, bobPW, "$2a$", env["SESSION_SECRET"]}
		addCookieSecrets = func(cs []*http.Cookie) {
			for _, c := range cs {
				secrets = append(secrets, c.Value)
			}
		}
	)
	steps := []struct {
		name   string
		args   func() []string // nil: the step only does do
		stdin  string
		code   int
		stdout string // a part of stdout (text output)
		stderr string // the start of the error line, the last on stderr
		check  func(t *testing.T, stdout string)
		do     func(t *testing.T)
	}{
		{name: "migrate creates the tables", args: words("migrate"), check: func(t *testing.T, out string) {
			for _, name := range b.tables {
				if !strings.Contains(out, "table "+name+" (") {
					t.Errorf("migrate says nothing of %s: %q", name, out)
				}
			}
			if got := strings.Count(out, ": created, with its indexes"); got != len(b.tables) {
				t.Errorf("migrate created %d tables, want %d: %q", got, len(b.tables), out)
			}
			if b.name == "redis" && !strings.Contains(out, "sessions are kept in redis") {
				t.Errorf("migrate on redis: %q", out)
			}
		}},
		{name: "migrate again, in JSON", args: words("--json", "migrate"), check: func(t *testing.T, out string) {
			var doc migrationJSON
			decodeJSON(t, out, &doc)
			var names []string
			for _, tb := range doc.Tables {
				names = append(names, tb.Name)
				if tb.Created || tb.Holds == "" {
					t.Errorf("table %+v", tb)
				}
			}
			if !slices.Equal(names, b.tables) || doc.Database != b.database || doc.SessionStore != env["SESSION_STORE"] {
				t.Errorf("migrate --json: %+v", doc)
			}
		}},
		{name: "users create normalizes the name", args: words("users", "create", "Alice"), stdin: alicePW + "\n", stdout: `created user "alice" (id `},
		{name: "users create in JSON, with a CRLF line", args: words("users", "create", "--json", "bob", "--password-stdin"), stdin: bobPW + "\r\n", check: func(t *testing.T, out string) {
			var doc newUserJSON
			decodeJSON(t, out, &doc)
			if doc.Username != "bob" || doc.UserID == "" || doc.CreatedAt.IsZero() || doc.CreatedAt.Location().String() != "UTC" {
				t.Errorf("users create --json: %+v", doc)
			}
			bobID = doc.UserID
		}},
		{name: "a taken name", args: words("users", "create", "ALICE"), stdin: "another password\n", code: exitFailed, stderr: `example: users create: a user named "alice" exists already`},
		{name: "a short password", args: words("users", "create", "carol"), stdin: "short\n", code: exitFailed, stderr: "example: users create: creating the user: the password must be at least 8 characters"},
		{name: "a bad name", args: words("users", "create", "a b"), stdin: "a long enough password\n", code: exitFailed, stderr: "example: users create: creating the user: usernames are 1 to 64"},
		{name: "no password", args: words("users", "create", "dave"), code: exitUsage, stderr: "example: users create: no password on standard input"},
		{name: "sign in", do: func(t *testing.T) {
			srv = newAdminServer(t, env)
			aliceFirefox = srv.mustSignIn("alice", alicePW, "Mozilla/5.0 Firefox/140.0")
			aliceCurl = srv.mustSignIn("alice", alicePW, "curl/8.5.0\x1b[31m")
			bobCookies = srv.mustSignIn("bob", bobPW, "bob's browser")
			addCookieSecrets(aliceFirefox)
			addCookieSecrets(aliceCurl)
			addCookieSecrets(bobCookies)
		}},
		{name: "sessions list", args: words("sessions", "list", "alice"), check: func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LAST ACTIVE") ||
				!strings.Contains(out, "Mozilla/5.0 Firefox/140.0") || !strings.Contains(out, "curl/8.5.0?[31m") ||
				strings.Count(out, "192.0.2.1") != 2 || strings.Contains(out, "\x1b") {
				t.Errorf("sessions list:\n%s", out)
			}
		}},
		{name: "sessions list in JSON", args: words("sessions", "list", "alice", "--json"), check: func(t *testing.T, out string) {
			var doc sessionListJSON
			decodeJSON(t, out, &doc)
			if doc.Username != "alice" || doc.UserID == "" || len(doc.Sessions) != 2 {
				t.Fatalf("sessions list --json: %+v", doc)
			}
			for _, s := range doc.Sessions {
				if !sessionstore.ValidID(s.ID) || s.CreatedAt.IsZero() || s.LastActivity.IsZero() ||
					!s.ExpiresAt.After(s.CreatedAt) || s.IPAddress != "192.0.2.1" {
					t.Errorf("session %+v", s)
				}
				switch s.UserAgent {
				case "Mozilla/5.0 Firefox/140.0":
					firefox = s.ID
				case "curl/8.5.0\x1b[31m":
					curl = s.ID
				}
			}
			if firefox == "" || curl == "" {
				t.Fatalf("user agents: %+v", doc.Sessions)
			}
		}},
		{name: "another user's session ID", args: func() []string { return []string{"sessions", "revoke", "bob", firefox} }, code: exitNotFound, stderr: `example: sessions revoke: "bob" has no live session `},
		{name: "sessions revoke", args: func() []string { return []string{"sessions", "revoke", "alice", strings.ToUpper(firefox)} }, check: func(t *testing.T, out string) {
			if out != "ended session "+firefox+" of \"alice\"\n" {
				t.Errorf("sessions revoke: %q", out)
			}
			if srv.me(aliceFirefox) != http.StatusUnauthorized || srv.me(aliceCurl) != http.StatusOK || srv.me(bobCookies) != http.StatusOK {
				t.Error("after revoking one session of alice, a cookie that should work does not, or the other way")
			}
		}},
		{name: "a session ID revoked already", args: func() []string { return []string{"sessions", "revoke", "alice", firefox, "--json"} }, code: exitNotFound, stderr: `example: sessions revoke: "alice" has no live session`},
		{name: "no such user", args: words("sessions", "list", "nobody"), code: exitNotFound, stderr: `example: sessions list: no user named "nobody"`},
		{name: "no such user, by a name no one can have", args: words("sessions", "revoke-all", "no body"), code: exitNotFound, stderr: `example: sessions revoke-all: no user named "no body"`},
		{name: "users passwd in JSON ends the sessions", args: words("--json", "users", "passwd", "alice"), stdin: aliceNewPW + "\n", check: func(t *testing.T, out string) {
			var doc revocationJSON
			decodeJSON(t, out, &doc)
			if doc.Username != "alice" || doc.RevokedSessions != 1 || doc.ID != "" {
				t.Errorf("users passwd --json: %+v", doc)
			}
			if srv.me(aliceCurl) != http.StatusUnauthorized {
				t.Error("alice's session survived the new password")
			}
			if code, _ := srv.signIn("alice", alicePW, "x"); code != http.StatusUnauthorized {
				t.Errorf("the old password signs in: %d", code)
			}
			aliceAgain = srv.mustSignIn("alice", aliceNewPW, "x")
			addCookieSecrets(aliceAgain)
		}},
		{name: "users passwd, a short password", args: words("users", "passwd", "alice"), stdin: "short\n", code: exitFailed, stderr: "example: users passwd: setting the password: the password must be at least 8 characters"},
		{name: "users passwd, no such user", args: words("users", "passwd", "nobody"), stdin: "a long enough password\n", code: exitNotFound, stderr: `example: users passwd: no user named "nobody"`},
		{name: "sessions revoke-all", args: words("sessions", "revoke-all", "alice"), stdout: "ended 1 session of \"alice\"\n", check: func(t *testing.T, _ string) {
			if srv.me(aliceAgain) != http.StatusUnauthorized {
				t.Error("alice's session survived revoke-all")
			}
		}},
		{name: "sessions revoke-all in JSON, none left", args: words("sessions", "revoke-all", "alice", "--json"), check: func(t *testing.T, out string) {
			var doc revocationJSON
			decodeJSON(t, out, &doc)
			if doc.RevokedSessions != 0 || doc.Username != "alice" {
				t.Errorf("revoke-all --json: %+v", doc)
			}
		}},
		{name: "no sessions left", args: words("sessions", "list", "alice"), stdout: `"alice" has no live sessions`},
		{name: "no sessions left, in JSON", args: words("sessions", "list", "alice", "--json"), stdout: `"sessions": []`},
		{name: "users delete", args: words("users", "delete", "bob"), check: func(t *testing.T, out string) {
			if out != `deleted user "bob" (id `+bobID+"); 1 session ended\n" {
				t.Errorf("users delete: %q", out)
			}
			if srv.me(bobCookies) != http.StatusUnauthorized {
				t.Error("bob's session survived his deletion")
			}
			if code, _ := srv.signIn("bob", bobPW, "x"); code != http.StatusUnauthorized {
				t.Errorf("bob signs in after his deletion: %d", code)
			}
		}},
		{name: "users delete, gone", args: words("users", "delete", "bob", "--json"), code: exitNotFound, stderr: `example: users delete: no user named "bob"`},
		{name: "users delete in JSON", args: words("users", "delete", "--json", "alice"), check: func(t *testing.T, out string) {
			var doc revocationJSON
			decodeJSON(t, out, &doc)
			if doc.Username != "alice" || doc.UserID == "" || doc.RevokedSessions != 0 {
				t.Errorf("users delete --json: %+v", doc)
			}
		}},
	}
	var all strings.Builder
	for _, s := range steps {
		if s.args == nil {
			s.do(t)
			continue
		}
		args := s.args()
		r := runAdmin(t, env, s.stdin, args...)
		all.WriteString(r.stdout + r.stderr)
		if r.code != s.code {
			t.Fatalf("%s: %q: exit code %d, want %d\nstdout: %s\nstderr: %s", s.name, args, r.code, s.code, r.stdout, r.stderr)
		}
		if s.code != exitOK {
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if last := lines[len(lines)-1]; r.stdout != "" || !strings.HasPrefix(last, s.stderr) {
				t.Errorf("%s: %q: stdout %q; the error line is %q, want it to start %q", s.name, args, r.stdout, last, s.stderr)
			}
			continue
		}
		if !strings.Contains(r.stdout, s.stdout) {
			t.Errorf("%s: %q: stdout %q, want %q in it", s.name, args, r.stdout, s.stdout)
		}
		if s.check != nil {
			s.check(t, r.stdout)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(all.String(), secret) {
			t.Errorf("a command printed a secret (%.6s...)", secret)
		}
	}
}

// words returns a step's command line.
func words(args ...string) func() []string { return func() []string { return args } }

// A session store out of reach fails the commands that need it, with exit
// code 1 and one line saying what failed, and changes nothing: users delete
// leaves the user in place.
func TestAdminStoreDown(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	up := map[string]string{"DATABASE_URL": db, "SESSION_STORE": "gorm"}
	down := map[string]string{"DATABASE_URL": db, "SESSION_STORE": "redis", "REDIS_URL": "redis://" + testenv.ClosedAddr(t) + "/0?max_retries=-1"} // fail at once
	if r := runAdmin(t, up, "", "migrate"); r.code != exitOK {
		t.Fatalf("migrate: %+v", r)
	}
	if r := runAdmin(t, up, "alice's password\n", "users", "create", "alice"); r.code != exitOK {
		t.Fatalf("users create: %+v", r)
	}
	cases := []struct {
		args   []string
		stdin  string
		stderr string
	}{
		{[]string{"sessions", "list", "alice"}, "", "example: sessions list: listing the sessions: "},
		{[]string{"sessions", "revoke-all", "alice", "--json"}, "", "example: sessions revoke-all: ending the sessions: "},
		{[]string{"users", "delete", "alice"}, "", "example: users delete: ending the user's sessions (the user is not deleted): "},
		{[]string{"users", "passwd", "alice"}, "alice's new password\n", "example: users passwd: set the password, but ending the user's sessions failed (run sessions revoke-all): "},
	}
	for _, c := range cases {
		r := runAdmin(t, down, c.stdin, c.args...)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if last := lines[len(lines)-1]; r.code != exitFailed || r.stdout != "" || !strings.HasPrefix(last, c.stderr) || !strings.Contains(last, "connection refused") {
			t.Errorf("%q: exit code %d, stdout %q, error line %q; want 1 and %q", c.args, r.code, r.stdout, last, c.stderr)
		}
	}
	if r := runAdmin(t, up, "", "sessions", "list", "alice"); r.code != exitOK {
		t.Errorf("alice is gone after a users delete that failed: %+v", r)
	}
}
