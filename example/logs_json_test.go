package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/internal/testenv"
)

// With LOG_FORMAT=json, everything the app and its libraries log is one
// JSON object a line with time, level and msg: a scripted run (register,
// sign in, an outage of the session store answered 503, the standard
// logger, an admin command) has no line of another format.
func TestLogsAsJSON(t *testing.T) {
	redisSrv := testenv.StartRedisServer(t)
	env := map[string]string{
		"DATABASE_URL":   filepath.Join(t.TempDir(), "logs.db"),
		"SESSION_STORE":  "redis",
		"REDIS_URL":      "redis://" + redisSrv.Addr() + "/0?max_retries=-1",
		"SESSION_SECRET": "example-json-log-secret-0123456789abcdef",
		"LOG_FORMAT":     "json",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.bcryptCost = testBcryptCost
	logs := &testenv.LogBuffer{}
	routeProcessLogsForTest(t, cfg, logs)
	srv := serveLogged(t, cfg, logs)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	send := func(method, path, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
		}
	}
	creds := `{"username":"jo","password":"jo's long password"}`
	send("POST", "/register", creds, http.StatusCreated)
	send("POST", "/login", creds, http.StatusOK)
	send("GET", "/me", "", http.StatusOK)
	redisSrv.Stop()
	send("GET", "/me", "", http.StatusServiceUnavailable)
	redisSrv.Start()
	stdlog.Print("a line from the standard logger")
	// A command, in the same format, failing: its error line too.
	r := runAdmin(t, env, "", "sessions", "list", "nobody")
	if r.code != exitNotFound {
		t.Errorf("sessions list nobody: %+v", r)
	}

	out := logs.String() + r.stderr
	for _, want := range []string{`"msg":"request"`, `"msg":"audit"`, `"msg":"ginauth: request failed"`,
		`"code":"store_unavailable"`, "a line from the standard logger", `no user named \"nobody\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %s:\n%s", want, out)
		}
	}
	for line := range strings.Lines(out) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON object: %q", line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("no %s: %q", k, line)
			}
		}
	}
}

// routeProcessLogsForTest routes the process's loggers to w as main does,
// and puts them back when the test ends.
func routeProcessLogsForTest(t *testing.T, cfg config, w io.Writer) {
	prev, out, errOut := slog.Default(), gin.DefaultWriter, gin.DefaultErrorWriter
	routeProcessLogs(newLogger(cfg, w))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		stdlog.SetOutput(os.Stderr)
		stdlog.SetFlags(stdlog.LstdFlags)
		redis.SetLogger(discardRedis{})
		gin.DefaultWriter, gin.DefaultErrorWriter = out, errOut
	})
}

type discardRedis struct{}

func (discardRedis) Printf(_ context.Context, _ string, _ ...any) {}

// LOG_FORMAT and LOG_LEVEL take only their values; anything else stops
// the app at start.
func TestLogSettings(t *testing.T) {
	for _, env := range []map[string]string{{"LOG_FORMAT": "yaml"}, {"LOG_LEVEL": "verbose"}, {"LOG_LEVEL": "4"}} {
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v was accepted", env)
		}
	}
	env := map[string]string{"LOG_FORMAT": "json", "LOG_LEVEL": "error", "DATABASE_URL": filepath.Join(t.TempDir(), "x.db"),
		"SESSION_STORE": "memory", "SESSION_SECRET": "example-test-secret-0123456789abcdef"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := newLogger(cfg, &buf)
	log.Warn("hidden")
	log.Error("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), `"msg":"shown"`) {
		t.Errorf("LOG_LEVEL=error, LOG_FORMAT=json: %q", buf.String())
	}
	// The audit trail is kept at any level.
	cfg.bcryptCost = testBcryptCost
	logs := &testenv.LogBuffer{}
	srv := serveLogged(t, cfg, logs)
	res, err := http.Post(srv.URL+"/register", "application/json", strings.NewReader(`{"username":"lev","password":"a long enough password"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if out := logs.String(); !strings.Contains(out, `"event":"register"`) || strings.Contains(out, `"msg":"request"`) {
		t.Errorf("LOG_LEVEL=error: the audit trail or the request log:\n%s", out)
	}
}
