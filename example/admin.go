package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/ginauth/ginauth/middleware"
)

// adminUsage is what "example help" prints.
const adminUsage = `Usage: example [serve]
       example [--json] COMMAND [ARGUMENTS]

Without a command, or with "serve", example serves the app. A command acts on
the users and sessions of the database and session store that the environment
names (DATABASE_URL, SESSION_STORE, REDIS_URL, MONGODB_URL, ...; see
"go doc ./example"), as every running instance sees them, and exits.

Users:
  users create USERNAME            create a user; the password is typed on the
                                   terminal, or the first line of standard input
  users passwd USERNAME            set a new password (read as by users create)
                                   and end every session of the user
  users delete USERNAME            delete the user and end every session of theirs
  users set-email USERNAME EMAIL   set the user's email address, unverified, and
                                   mail it a link to verify it ("" removes it)
  users send-reset USERNAME        mail the user a link to choose a new password
  users 2fa-reset USERNAME         turn the user's two-step sign-in off (their
                                   authenticator app and recovery codes) and end
                                   every session of theirs: for a user who lost
                                   both; make sure of who they are first

Sessions:
  sessions list USERNAME           the user's live sessions: ID, created, last
                                   active, expires, IP address, user agent
  sessions revoke USERNAME ID      end one session (its ID from sessions list)
  sessions revoke-all USERNAME     end every session of the user

Setup:
  secret new                       print a new random secret for SESSION_SECRET.
                                   To rotate from OLD to it (NEW), change every
                                   instance one after the other, three times:
                                   1. OLD,NEW   2. NEW,OLD   3. NEW alone, once
                                   ABSOLUTE_TIMEOUT has passed since step 2.
                                   NEW,OLD in one step signs out the users whose
                                   next request reaches an instance that does not
                                   know NEW yet (DEPLOYING.md, "Rotating
                                   SESSION_SECRET")
  migrate                          create the tables and indexes the app uses
  healthcheck                      exit 0 if the server that ADDR names answers
                                   GET /healthz with 200 (within 3 s), 1 if not:
                                   a container's health check
  help                             print this help (also -h, --help)

Flags, before or after the command words:
  --json                           print one JSON document on standard output
                                   instead of text
  --operator NAME                  who runs the command, for the audit trail
                                   (default: OPERATOR, else the system user)
  --password-stdin                 read the password from standard input: what
                                   users create and users passwd always do (on
                                   a terminal, typed without showing, twice)

The commands act on the servers' session store or not at all: each server
records, in the database, the SESSION_STORE it uses (and leaves a mark in
Redis or MongoDB), and a command whose environment names another store, or
another Redis or MongoDB, refuses with exit status 1. Only migrate creates
tables; another command on a database without them says to run migrate.

Passwords are never arguments, so that they stay out of shell history and the
process list. On a terminal the command asks for the password twice and does
not show it as it is typed; a script pipes it in, one line.

  printf '%s\n' "$PASSWORD" | example users create alice

Exit status: 0 done; 1 the operation failed or was refused (a store cannot be
reached, a username taken, a password too short); 2 usage error (unknown command
or flag, wrong number of arguments); 3 no such user or session.
`

// The exit codes of the admin commands.
const (
	exitOK       = 0
	exitFailed   = 1 // the operation failed or was refused
	exitUsage    = 2 // the command line is wrong
	exitNotFound = 3 // no such user or session
)

// adminTimeout bounds the work of one command, so that a store that hangs
// does not hang the command with it.
const adminTimeout = time.Minute

// adminCommand is one command: its words, the operands it takes, and what it
// does.
type adminCommand struct {
	group, name string   // "users", "create"; name is "" for a one-word command
	operands    []string // what follows the words, for the usage error
	password    bool     // reads a password from standard input
	run         func(r *adminRun, operands []string) error
}

// adminCommands are the operator's commands, dispatched by admin.
var adminCommands = []adminCommand{
	{group: "users", name: "create", operands: []string{"USERNAME"}, password: true, run: usersCreate},
	{group: "users", name: "passwd", operands: []string{"USERNAME"}, password: true, run: usersPasswd},
	{group: "users", name: "delete", operands: []string{"USERNAME"}, run: usersDelete},
	{group: "users", name: "set-email", operands: []string{"USERNAME", "EMAIL"}, run: usersSetEmail},
	{group: "users", name: "send-reset", operands: []string{"USERNAME"}, run: usersSendReset},
	{group: "users", name: "2fa-reset", operands: []string{"USERNAME"}, run: usersTwoFactorReset},
	{group: "sessions", name: "list", operands: []string{"USERNAME"}, run: sessionsList},
	{group: "sessions", name: "revoke", operands: []string{"USERNAME", "ID"}, run: sessionsRevoke},
	{group: "sessions", name: "revoke-all", operands: []string{"USERNAME"}, run: sessionsRevokeAll},
	{group: "secret", name: "new", run: secretNew},
	{group: "migrate", run: migrate},
	{group: "healthcheck", run: healthcheck},
}

// title is how error messages name the command: "users create".
func (c adminCommand) title() string { return strings.TrimSpace(c.group + " " + c.name) }

// adminRun is one invocation of a command: its streams, its output format,
// and the app it opens on demand.
type adminRun struct {
	ctx            context.Context
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	notes          io.Writer // a command's warnings (see logLines)
	operator       string    // --operator
	closers        []func()  // what close closes besides the app
	json           bool
	createTables   bool // migrate: the app is opened to create the tables
	app            *app
}

// adminError is a command's failure with its exit code. Any other error a
// command returns means the operation failed (exitFailed).
type adminError struct {
	code int
	msg  string
}

// Error returns the message, which report prints after the command's name.
func (e *adminError) Error() string { return e.msg }

// usageError is a mistake on the command line (exitUsage).
func usageError(format string, args ...any) error {
	return &adminError{exitUsage, fmt.Sprintf(format, args...)}
}

// notFound is a user or session that does not exist (exitNotFound).
func notFound(format string, args ...any) error {
	return &adminError{exitNotFound, fmt.Sprintf(format, args...)}
}

// admin runs an operator's command (args: the command line after the
// program's name) and returns the process's exit code. Results go to stdout,
// as text or, with --json, as one JSON document; errors go to stderr as one
// line, and so does everything the app logs.
func admin(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	errLines := logLines(getenv, stderr, slog.LevelError)
	words, flags, err := parseAdminArgs(args)
	if err != nil {
		return report(errLines, "", err)
	}
	if flags.help || (len(words) > 0 && words[0] == "help") {
		_, _ = io.WriteString(stdout, adminUsage)
		return exitOK
	}
	cmd, operands, err := findAdminCommand(words)
	if err != nil {
		return report(errLines, "", err)
	}
	if flags.passwordStdin && !cmd.password {
		return report(errLines, cmd.title(), usageError("--password-stdin is for users create and users passwd"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	r := &adminRun{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, json: flags.json,
		notes: logLines(getenv, stderr, slog.LevelWarn), operator: flags.operator}
	defer r.close()
	err = cmd.run(r, operands)
	if code := exitCode(err); cmd.audited() && code != exitUsage {
		r.audit(cmd, operands, code, err) // before the error line, which stays the last
	}
	return report(errLines, cmd.title(), err)
}

// logLines is where a command writes its one-line messages (its error,
// a note): stderr as it is, or, with LOG_FORMAT=json, a writer that makes
// each line a JSON log record at level, so that stderr stays one format.
// A bad LOG_FORMAT is left to loadConfig to refuse.
func logLines(getenv func(string) string, stderr io.Writer, level slog.Level) io.Writer {
	if format, err := parseLogFormat(getenv("LOG_FORMAT")); err == nil && format == "json" {
		return slog.NewLogLogger(newLogHandler(format, level, stderr), level).Writer()
	}
	return stderr
}

// adminFlags are the flags of a command line.
type adminFlags struct {
	json, passwordStdin, help bool
	operator                  string // --operator NAME
}

// parseAdminArgs splits a command line into its words (command words and
// operands) and its flags, which may come anywhere; "--" ends the flags, for
// an operand that starts with "-".
func parseAdminArgs(args []string) ([]string, adminFlags, error) {
	var words []string
	var f adminFlags
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			words = append(words, arg)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		if v, ok := strings.CutPrefix(name, "operator="); ok {
			name, f.operator = "operator", v
		} else if name == "operator" && i+1 < len(args) {
			i++
			f.operator = args[i]
		}
		switch name {
		case "operator":
			if strings.TrimSpace(f.operator) == "" {
				return nil, f, usageError("--operator wants a name")
			}
		case "json":
			f.json = true
		case "password-stdin":
			f.passwordStdin = true
		case "h", "help":
			f.help = true
		default:
			return nil, f, usageError("unknown flag %q; see \"example help\"", arg)
		}
	}
	return words, f, nil
}

// findAdminCommand finds the command that words name and returns it with
// its operands, checked for number.
func findAdminCommand(words []string) (adminCommand, []string, error) {
	if len(words) == 0 {
		return adminCommand{}, nil, usageError("no command; see \"example help\"")
	}
	var names []string
	for _, c := range adminCommands {
		if c.group != words[0] {
			continue
		}
		rest := words[1:]
		if c.name != "" {
			names = append(names, c.name)
			if len(rest) == 0 || rest[0] != c.name {
				continue
			}
			rest = rest[1:]
		}
		if len(rest) != len(c.operands) {
			return c, nil, usageError("%s: want %s, got %s; see \"example help\"",
				c.title(), operandList(c.operands), countArgs(len(rest)))
		}
		return c, rest, nil
	}
	switch {
	case len(names) == 0 && words[0] == "serve":
		return adminCommand{}, nil, usageError("serve takes no flags or arguments")
	case len(names) == 0:
		return adminCommand{}, nil, usageError("unknown command %q; see \"example help\"", words[0])
	case len(words) == 1:
		return adminCommand{}, nil, usageError("%s: want a command: %s", words[0], strings.Join(names, ", "))
	}
	return adminCommand{}, nil, usageError("%s: unknown command %q (want %s)", words[0], words[1], strings.Join(names, ", "))
}

// operandList says what a command takes: "USERNAME ID", "no arguments".
func operandList(operands []string) string {
	if len(operands) == 0 {
		return "no arguments"
	}
	return strings.Join(operands, " ")
}

// countArgs says how many arguments were given: "none", "1 argument".
func countArgs(n int) string {
	switch n {
	case 0:
		return "none"
	case 1:
		return "1 argument"
	}
	return fmt.Sprintf("%d arguments", n)
}

// report writes err, if any, to stderr as one line naming the command, and
// returns the exit code it stands for.
func report(stderr io.Writer, title string, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	prefix := "example: "
	if title != "" {
		prefix += title + ": "
	}
	_, _ = fmt.Fprintln(stderr, prefix+oneLine(err.Error()))
	return code
}

// exitCode is the exit code that err stands for.
func exitCode(err error) int {
	var ae *adminError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ae):
		return ae.code
	}
	return exitFailed
}

// oneLine puts a message on one line: a database's error can span several.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// failed is the error of an operation that failed (exitFailed): what was
// being done, and why it failed, in words for an operator. What the
// operator can fix (a password too short) is auth's error without its
// package's prefix; a failure to reach a store carries the store's own
// error.
func failed(doing string, err error) error {
	if p, _ := middleware.Problem(err); p.Status < http.StatusInternalServerError {
		return &operatorError{doing + ": " + strings.TrimPrefix(err.Error(), "auth: "), err}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// operatorError is an error whose words are for an operator, and whose
// cause stays reachable by errors.Is and errors.As.
type operatorError struct {
	msg string
	err error
}

func (e *operatorError) Error() string { return e.msg }
func (e *operatorError) Unwrap() error { return e.err }

// open builds the app as the server does (the same stores, the same
// user-cache invalidation, so that running instances hear of what a command
// changes), with its logs on stderr, less what a command has no use for:
// metrics, and the warning about a random SESSION_SECRET (a command reads
// and signs no cookie, so it needs no secret). Unlike a server it creates no
// table (but for migrate), and it refuses an environment that names another
// session store than the one the servers recorded (see checkStoreKind).
// Commands share one app and admin closes it.
func (r *adminRun) open() (*app, error) {
	if r.app != nil {
		return r.app, nil
	}
	cfg, err := loadConfig(r.getenv)
	if err != nil {
		return nil, err
	}
	cfg.metricsAddr, cfg.randomSecret = "", false
	cfg.command, cfg.createTables = true, r.createTables
	if r.operator != "" {
		cfg.operator = r.operator
	}
	a, err := newApp(cfg, r.stderr)
	var refused *adminError
	switch {
	case errors.As(err, &refused):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("opening the stores: %w", err)
	}
	r.app = a
	return a, nil
}

// close closes the app, if a command opened one.
func (r *adminRun) close() {
	if r.app != nil {
		r.app.close()
		r.app = nil
	}
	for _, c := range r.closers {
		c()
	}
	r.closers = nil
}

// print writes a command's result: the JSON document doc with --json, and
// otherwise the text that text writes.
func (r *adminRun) print(doc any, text func(w io.Writer)) error {
	var buf bytes.Buffer
	if r.json {
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		text(&buf)
	}
	_, err := r.stdout.Write(buf.Bytes())
	return err
}

// secretSize is how many random bytes a new secret carries: 256 bits.
// Encoded in base64url it is 43 characters, over the 32 bytes that session.New
// requires of each secret, and free of the commas that separate secrets in
// SESSION_SECRET.
const secretSize = 32

// secretJSON is the JSON of secret new.
type secretJSON struct {
	Secret string `json:"secret"`
}

// secretNew prints a fresh random secret for SESSION_SECRET. It opens
// nothing.
func secretNew(r *adminRun, _ []string) error {
	b := make([]byte, secretSize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	s := base64.RawURLEncoding.EncodeToString(b)
	return r.print(secretJSON{Secret: s}, func(w io.Writer) { fmt.Fprintln(w, s) })
}

// migrationJSON is the JSON of migrate.
type migrationJSON struct {
	Database     string      `json:"database"`     // "postgres" or "sqlite"
	SessionStore string      `json:"sessionStore"` // SESSION_STORE
	Tables       []tableJSON `json:"tables"`
}

// tableJSON is one table that migrate made sure of.
type tableJSON struct {
	Name    string `json:"name"`
	Holds   string `json:"holds"`   // "users", "sessions", "login throttle"
	Created bool   `json:"created"` // false: it was there and was brought up to date
}

// migrate creates the tables and indexes of the app, as every start of the
// app does: the users table; the table where the servers record their
// session store; the sessions table with SESSION_STORE=gorm; and the login
// throttle's table on PostgreSQL with it. It says which it created and which
// were there already (and were brought up to date: new columns and indexes).
// It is the only command that creates tables.
func migrate(r *adminRun, _ []string) error {
	cfg, err := loadConfig(r.getenv)
	if err != nil {
		return err
	}
	doc := migrationJSON{Database: "sqlite", SessionStore: cfg.storeName, Tables: appTables(cfg)}
	if cfg.postgres() {
		doc.Database = "postgres"
	}
	if err := r.findMissingTables(cfg, doc.Tables); err != nil {
		return failed("reading the database", err)
	}
	r.createTables = true
	if _, err := r.open(); err != nil { // creates what is missing
		return err
	}
	return r.print(doc, func(w io.Writer) {
		for _, t := range doc.Tables {
			what := "already there; its columns and indexes are up to date"
			if t.Created {
				what = "created, with its indexes"
			}
			fmt.Fprintf(w, "table %s (%s): %s\n", t.Name, t.Holds, what)
		}
		switch cfg.storeName {
		case "gorm":
		case "mongo", "mongodb":
			fmt.Fprintln(w, "sessions are kept in MongoDB: the indexes of their collection are in place")
		case "memory":
			fmt.Fprintln(w, "sessions are kept in the server's memory: nothing to create for them")
		default:
			fmt.Fprintf(w, "sessions are kept in %s: nothing to create for them\n", cfg.storeName)
		}
	})
}

// appTables lists the tables the app keeps in the database with cfg, the
// users' first (its name is left to usersTable).
func appTables(cfg config) []tableJSON {
	tables := []tableJSON{{Holds: "users"}, {Name: deploymentTable, Holds: "the servers' session store"}}
	if cfg.storeName == "gorm" {
		tables = append(tables, tableJSON{Name: sessionsTable, Holds: "sessions"})
		if cfg.postgres() {
			tables = append(tables, tableJSON{Name: throttleTable, Holds: "login throttle"})
		}
	}
	return tables
}

// usersTable is the name GORM gives the users table.
func usersTable(db *gorm.DB) (string, error) {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(&Account{}); err != nil {
		return "", err
	}
	return stmt.Schema.Table, nil
}

// findMissingTables names the users table in tables and marks the tables
// that the database lacks as created, before the app creates them.
func (r *adminRun) findMissingTables(cfg config, tables []tableJSON) error {
	db, err := openDatabase(cfg, newLogger(cfg, r.stderr))
	if err != nil {
		return err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	return missingTables(r.ctx, db, tables)
}

// missingTables names the users table in tables and sets Created on those
// that the database lacks.
func missingTables(ctx context.Context, db *gorm.DB, tables []tableJSON) error {
	var err error
	if tables[0].Name, err = usersTable(db); err != nil {
		return err
	}
	// HasTable answers false when it cannot ask: make sure it can.
	var one int
	if err := db.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error; err != nil {
		return err
	}
	m := db.WithContext(ctx).Migrator()
	for i := range tables {
		tables[i].Created = !m.HasTable(tables[i].Name)
	}
	return nil
}

// checkTables makes sure, for a command that creates no table, that the
// database has those the app keeps there.
func checkTables(ctx context.Context, cfg config, db *gorm.DB) error {
	tables := appTables(cfg)
	if err := missingTables(ctx, db, tables); err != nil {
		return err
	}
	var missing []string
	for _, t := range tables {
		if t.Created && t.Name != deploymentTable { // no server has started: no record to check
			missing = append(missing, t.Name)
		}
	}
	if len(missing) > 0 {
		return &adminError{exitFailed, fmt.Sprintf("the database lacks the table %s: run migrate first "+
			"(it creates the tables; so does the app when it starts)", strings.Join(missing, ", "))}
	}
	return nil
}
