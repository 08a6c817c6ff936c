package metrics_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/metrics"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

func init() { gin.SetMode(gin.ReleaseMode) }

var testSecret = []byte("metrics-test-secret-0123456789abcdef")

// newMetrics returns metrics registered on a registry of their own.
func newMetrics(t testing.TB) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(metrics.Options{Registerer: reg, Providers: []string{"corp"}})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// sqliteDB opens a SQLite database in the test's temporary folder.
func sqliteDB(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "app.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// newRouter builds an application as the README's quick start does: users
// in SQLite, sessions in store, the prebuilt routes at the root. With m,
// the metrics are wired in every hook: Config.Metrics, Config.OnEvent and
// the store, wrapped under storeName. Options change the configuration
// last.
func newRouter(t testing.TB, store sessionstore.IndexedStore, storeName string, m *metrics.Metrics, opts ...func(*auth.Config[*models.User])) *gin.Engine {
	t.Helper()
	users := gormusers.New[models.User](sqliteDB(t))
	if err := users.Migrate(); err != nil {
		t.Fatal(err)
	}
	cfg := auth.Config[*models.User]{
		Users: users,
		// speed: the cost is not what is measured here
		Passwords: auth.Passwords{BcryptCost: 4, AllowLowCost: true},
	}
	if m != nil {
		store = m.Store(store, storeName)
		cfg.Metrics = m
		cfg.OnEvent = m.OnEvent(nil)
	}
	sm, err := session.New(session.Config{Store: store, Secrets: [][]byte{testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sessions = sm
	for _, o := range opts {
		o(&cfg)
	}
	a, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	r := gin.New()
	r.Use(sm.Middleware())
	handlers.Mount(r.Group("/"), a, handlers.WithRegister())
	return r
}

// client is an API client with a cookie jar, against a server.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: srv.URL, http: &http.Client{Jar: jar}}
}

// do sends body (nil, or anything that marshals to JSON) and returns the
// status and the decoded JSON answer.
func (cl *client) do(method, path string, body any) (int, map[string]any) {
	cl.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, cl.base+path, rd)
	if err != nil {
		cl.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := cl.http.Do(req)
	if err != nil {
		cl.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// must sends a request and fails the test unless it answers want.
func (cl *client) must(want int, method, path string, body any) map[string]any {
	cl.t.Helper()
	got, out := cl.do(method, path, body)
	if got != want {
		cl.t.Fatalf("%s %s = %d %v, want %d", method, path, got, out, want)
	}
	return out
}

func creds(user, pw string) map[string]string {
	return map[string]string{"username": user, "password": pw}
}

// seriesName names one series of a gathered metric by its metric's name and
// its labels: "ginauth_logins_total{result=success}".
func seriesName(family string, m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return family
	}
	var pairs []string
	for _, l := range m.GetLabel() {
		pairs = append(pairs, l.GetName()+"="+l.GetValue())
	}
	return family + "{" + strings.Join(pairs, ",") + "}"
}

// seriesValue is a counter's or a gauge's value, or a histogram's count of
// observations.
func seriesValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// snapshot gathers reg: every series by name, with its value.
func snapshot(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out[seriesName(f.GetName(), m)] = seriesValue(m)
		}
	}
	return out
}

// moved returns the series whose value differs between two snapshots, with
// the difference.
func moved(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// value returns the value of one series of reg, failing the test if there
// is no such series.
func value(t testing.TB, reg prometheus.Gatherer, series string) float64 {
	t.Helper()
	s := snapshot(t, reg)
	v, ok := s[series]
	if !ok {
		t.Fatalf("no series %s; have:\n%s", series, describe(s))
	}
	return v
}

func describe(s map[string]float64) string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%s %v\n", k, s[k])
	}
	return b.String()
}

// allowedLabels are every label of the package's metrics with every value
// it may take (the store label with the names the tests wrap stores under).
var allowedLabels = map[string][]string{
	"result":    {"success", "invalid_credentials", "locked", "busy", "https_required", "error", "hit", "miss", "failure"},
	"action":    {"login", "register", "password_change", "reauth", "second_factor"},
	"method":    {"totp", "recovery_code", "passkey"},
	"provider":  {"corp"},
	"reason":    {"logout_all", "password_change", "session_revoked", "password_reset"},
	"stage":     {"requested", "completed"},
	"event":     {"verified", "change_requested", "changed", "added", "removed", "clone"},
	"operation": {"load", "create", "update", "touch", "regenerate", "destroy", "list", "destroy_id", "destroy_user", "create_limited"},
	"store":     {"memory", "redis", "sqlite", "default"},
	"kind":      {"unavailable", "corrupt", "conflict", "other"},
	"le":        nil, // histogram buckets: numbers
}

// mailLabels are the labels of the mail metrics (ginauth_mail_*), with
// every value they may take.
var mailLabels = map[string][]string{
	"kind":   append(mail.Kinds(), "other"),
	"result": {"queued", "sent", "retried", "failed", "dropped", "lost"},
}

// checkLabels fails the test if a series of reg has a label, or a label
// value, outside allowedLabels (mailLabels for ginauth_mail_*), or one that
// contains any of secrets.
func checkLabels(t testing.TB, reg prometheus.Gatherer, secrets ...string) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		allowed := allowedLabels
		if strings.HasPrefix(f.GetName(), "ginauth_mail_") {
			allowed = mailLabels
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				values, known := allowed[l.GetName()]
				if !known || (values != nil && !slices.Contains(values, l.GetValue())) {
					t.Errorf("%s: label %s=%q is outside the fixed set", f.GetName(), l.GetName(), l.GetValue())
				}
				for _, s := range secrets {
					if s != "" && strings.Contains(l.GetValue(), s) {
						t.Errorf("%s: label %s=%q carries %q", f.GetName(), l.GetName(), l.GetValue(), s)
					}
				}
			}
		}
	}
}
