package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// With METRICS_ADDR, the app serves Prometheus metrics that the flows move;
// without it, none.
func TestMetrics(t *testing.T) {
	if a, _, _ := testApp(t, nil); a.metrics != nil {
		t.Fatal("metrics served without METRICS_ADDR")
	}
	a, srv, _ := testApp(t, map[string]string{"METRICS_ADDR": "127.0.0.1:0"})
	if a.metrics == nil {
		t.Fatal("no metrics with METRICS_ADDR")
	}
	b := newBrowser(t, srv)
	b.post("/register", url.Values{"username": {"mia"}, "password": {"mia's password"}})
	b.get("/account")
	b.post("/logout", nil)
	b.post("/login", url.Values{"username": {"mia"}, "password": {"wrong password"}})
	b.post("/login", url.Values{"username": {"mia"}, "password": {"mia's password"}})

	mrec := httptest.NewRecorder()
	a.metrics.ServeHTTP(mrec, httptest.NewRequest("GET", "/metrics", nil))
	if mrec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", mrec.Code)
	}
	body, _ := io.ReadAll(mrec.Body)
	for _, want := range []string{
		`ginauth_registrations_total 1`,
		`ginauth_logins_total{result="success"} 2`, // the registration signs in too
		`ginauth_logins_total{result="invalid_credentials"} 1`,
		`ginauth_logouts_total 1`,
		`ginauth_session_store_duration_seconds_count{operation="load",store="memory"}`,
		`ginauth_user_cache_lookups_total{result="hit"}`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The metrics are not on the app's own address.
	if page, _ := b.get("/metrics"); strings.Contains(page, "ginauth_logins_total") {
		t.Error("the app's address serves the metrics")
	}
}
