package main

import (
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// The commands act on the session store the servers use, or refuse: with
// the servers on Redis, a command whose environment names another store
// (the default, the database's own table) or another Redis ends nothing,
// says why on one line and exits 1; the servers' own environment works.
func TestAdminRefusesAnotherStore(t *testing.T) {
	redisSrv := testenv.StartRedisServer(t)
	db := filepath.Join(t.TempDir(), "x.db")
	const secret = "admin-test-secret-0123456789abcdef0123"
	servers := map[string]string{"DATABASE_URL": db, "SESSION_STORE": "redis", "REDIS_URL": "redis://" + redisSrv.Addr() + "/0", "SESSION_SECRET": secret}
	if r := runAdmin(t, servers, "", "migrate"); r.code != exitOK {
		t.Fatalf("migrate: %+v", r)
	}
	if r := runAdmin(t, servers, "alice's password\n", "users", "create", "alice"); r.code != exitOK {
		t.Fatalf("users create: %+v", r)
	}
	srv := newAdminServer(t, servers)
	cookies := srv.mustSignIn("alice", "alice's password", "x")

	wrong := []struct {
		name string
		env  map[string]string
		says string // a part of the error line
	}{
		{"only DATABASE_URL", map[string]string{"DATABASE_URL": db}, "SESSION_STORE=redis"},
		{"another Redis database", map[string]string{"DATABASE_URL": db, "SESSION_STORE": "redis", "REDIS_URL": "redis://" + redisSrv.Addr() + "/1"}, "REDIS_URL"},
	}
	for _, w := range wrong {
		for _, c := range []struct {
			args  []string
			stdin string
		}{
			{[]string{"sessions", "revoke-all", "alice"}, ""},
			{[]string{"sessions", "list", "alice"}, ""},
			{[]string{"users", "passwd", "alice"}, "alice's new password\n"},
			{[]string{"users", "delete", "alice"}, ""},
		} {
			r := runAdmin(t, w.env, c.stdin, c.args...)
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if last := lines[len(lines)-1]; r.code != exitFailed || r.stdout != "" || !strings.Contains(last, w.says) {
				t.Errorf("%s: %q: exit code %d, stdout %q, error line %q; want 1 and a line saying %q", w.name, c.args, r.code, r.stdout, last, w.says)
			}
		}
		if srv.me(cookies) != http.StatusOK {
			t.Fatalf("%s: alice's session ended", w.name)
		}
		if code, _ := srv.signIn("alice", "alice's password", "x"); code != http.StatusOK {
			t.Fatalf("%s: alice's password changed: %d", w.name, code)
		}
	}
	r := runAdmin(t, servers, "", "sessions", "revoke-all", "alice")
	if r.code != exitOK || r.stdout != "ended 3 sessions of \"alice\"\n" || srv.me(cookies) != http.StatusUnauthorized {
		t.Errorf("revoke-all with the servers' environment: %+v", r)
	}
}

// A command other than migrate creates no table: on an empty database it
// says to run migrate, exits 1, and leaves the database empty.
func TestAdminCreatesNoTables(t *testing.T) {
	env := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": "gorm"}
	for _, c := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"sessions", "list", "alice"}, ""},
		{[]string{"sessions", "revoke-all", "alice"}, ""},
		{[]string{"users", "delete", "alice"}, ""},
		{[]string{"users", "create", "alice"}, "alice's password\n"},
	} {
		r := runAdmin(t, env, c.stdin, c.args...)
		if r.code != exitFailed || !strings.Contains(r.stderr, "run migrate") {
			t.Errorf("%q on an empty database: %+v", c.args, r)
		}
	}
	r := runAdmin(t, env, "", "--json", "migrate")
	var doc migrationJSON
	decodeJSON(t, r.stdout, &doc)
	for _, tb := range doc.Tables {
		if !tb.Created {
			t.Errorf("table %s was there before migrate", tb.Name)
		}
	}
}

// The help's rotation is DEPLOYING.md's: OLD,NEW on every instance, then
// NEW,OLD, then NEW alone; never NEW,OLD in one step, which signs out the
// users whose next request lands on an instance that has not heard of NEW.
func TestAdminUsageRotation(t *testing.T) {
	first, second, third := strings.Index(adminUsage, "OLD,NEW"), strings.Index(adminUsage, "NEW,OLD"), strings.Index(adminUsage, "NEW alone")
	if first < 0 || second < first || third < second || strings.Contains(adminUsage, "SESSION_SECRET=new,old") {
		t.Errorf("the usage's rotation is not DEPLOYING.md's three steps:\n%s", adminUsage)
	}
}

// users passwd tells an operator whether the password was stored: auth
// reports a failure of the users' store and of the session store alike
// (sessionstore.ErrUnavailable), so the app marks the users' store's
// failures, and only those, as its own.
func TestPasswdTellsWhichStoreFailed(t *testing.T) {
	cfg := config{databaseURL: filepath.Join(t.TempDir(), "x.db")}
	db, err := openDatabase(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	users := gormusers.New[Account](db)
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	marked := markedUsers{users}
	if err := marked.SetPasswordHash(t.Context(), "42", "hash"); !errors.Is(err, models.ErrUserNotFound) || errors.As(err, new(*usersError)) {
		t.Errorf("no such user: %v, want models.ErrUserNotFound, unmarked", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	_ = sqlDB.Close()
	err = marked.SetPasswordHash(t.Context(), "42", "hash")
	if !errors.As(err, new(*usersError)) {
		t.Fatalf("the database closed: %v, want a usersError", err)
	}
	if msg := failed("setting the password", err).Error(); !strings.HasPrefix(msg, "setting the password: ") || strings.Contains(msg, "sessions") {
		t.Errorf("the error line says %q", msg)
	}
}
