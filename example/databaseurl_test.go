package main

import (
	"os"
	"strings"
	"testing"
)

// A DATABASE_URL that is neither a postgres:// URL nor plainly a SQLite
// file (a libpq keyword string, a MySQL URL, a typo) is refused at start,
// by the server and by every command, with exit status 1, without creating
// a file, and without repeating the value (it may hold a password). A
// SQLite file is named by its extension or by a sqlite: or file: prefix.
func TestDatabaseURL(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, bad := range []string{
		"host=db dbname=ginauth user=ginauth password=hunter2-secret",
		"mysql://root:hunter2-secret@db/ginauth",
		"postgress://ginauth:hunter2-secret@db/ginauth",
		"ginauth",
		"data/ginauth.txt",
	} {
		env := map[string]string{"DATABASE_URL": bad, "SESSION_STORE": "gorm"}
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("loadConfig with DATABASE_URL=%q: %v, want an error naming DATABASE_URL", bad, err)
		}
		r := runAdmin(t, env, "", "migrate")
		if r.code != exitFailed || !strings.Contains(r.stderr, "DATABASE_URL") || strings.Contains(r.stderr, "hunter2") {
			t.Errorf("migrate with DATABASE_URL=%q: %+v, want exit 1 naming DATABASE_URL, without the password", bad, r)
		}
		if files, _ := os.ReadDir("."); len(files) != 0 {
			t.Errorf("DATABASE_URL=%q left %v behind", bad, files)
			for _, f := range files {
				_ = os.RemoveAll(f.Name())
			}
		}
	}
	for url, file := range map[string]string{
		"":                              "ginauth-example.db", // the default
		"users.db":                      "users.db",
		"users.sqlite":                  "users.sqlite",
		"users.sqlite3":                 "users.sqlite3",
		"sqlite:users":                  "users",
		"file:users.data?cache=private": "users.data",
	} {
		env := map[string]string{"DATABASE_URL": url, "SESSION_STORE": "gorm"}
		if r := runAdmin(t, env, "", "migrate"); r.code != exitOK {
			t.Errorf("migrate with DATABASE_URL=%q: %+v", url, r)
			continue
		}
		if _, err := os.Stat(file); err != nil {
			t.Errorf("DATABASE_URL=%q: %v", url, err)
		}
	}
}
