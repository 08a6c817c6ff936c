package metrics_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ginauth/ginauth/metrics"
)

// The metrics New registers, by name, with the series each has before
// anything happened (a store wrapped adds its own).
var wantFamilies = map[string]int{
	"ginauth_logins_total":              6,
	"ginauth_lockouts_total":            5,
	"ginauth_second_factor_total":       6,
	"ginauth_reauths_total":             1,
	"ginauth_registrations_total":       1,
	"ginauth_logouts_total":             1,
	"ginauth_logout_all_total":          1,
	"ginauth_password_changes_total":    1,
	"ginauth_sessions_revoked_total":    4,
	"ginauth_password_resets_total":     2,
	"ginauth_email_changes_total":       3,
	"ginauth_passkeys_total":            3,
	"ginauth_provider_logins_total":     2,
	"ginauth_bcrypt_in_flight":          1,
	"ginauth_bcrypt_queue_wait_seconds": 1,
	"ginauth_bcrypt_busy_total":         1,
	"ginauth_user_cache_lookups_total":  2,
}

// Every metric exists from the start, each series of its fixed label set
// at zero, so that rate() sees the first event; and the metrics follow
// Prometheus's naming rules.
func TestNewRegistersEverySeriesAtZero(t *testing.T) {
	_, reg := newMetrics(t)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range families {
		got[f.GetName()] = len(f.GetMetric())
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", f.GetName())
		}
	}
	for name, n := range wantFamilies {
		if got[name] != n {
			t.Errorf("%s has %d series, want %d", name, got[name], n)
		}
	}
	for name := range got {
		if _, ok := wantFamilies[name]; !ok {
			t.Errorf("unexpected metric %s", name)
		}
	}
	for name, v := range snapshot(t, reg) {
		if v != 0 {
			t.Errorf("%s = %v at start", name, v)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestNewNamespace(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := metrics.New(metrics.Options{Registerer: reg, Namespace: "shop_auth"}); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "shop_auth_logins_total", "ginauth_logins_total")
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("%d series of logins_total, want the 6 of shop_auth_logins_total", n)
	}
}

// Without a Registerer, the metrics go to prometheus.DefaultRegisterer,
// which promhttp.Handler serves.
func TestNewDefaultRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	t.Cleanup(func() { prometheus.DefaultRegisterer = saved })
	if _, err := metrics.New(metrics.Options{}); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "ginauth_logins_total"); err != nil || n != 6 {
		t.Errorf("default registerer holds %d series of ginauth_logins_total (%v), want 6", n, err)
	}
}

// A registry takes one set of ginauth metrics: a second New on it fails,
// and leaves the first one's metrics as they were.
func TestNewTwiceOnOneRegistry(t *testing.T) {
	m, reg := newMetrics(t)
	_, err := metrics.New(metrics.Options{Registerer: reg})
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		t.Fatalf("second New = %v, want an AlreadyRegisteredError", err)
	}
	if !strings.HasPrefix(err.Error(), "metrics: ") {
		t.Errorf("error %q does not say where it comes from", err)
	}
	m.UserCacheLookup(true)
	if got := value(t, reg, "ginauth_user_cache_lookups_total{result=hit}"); got != 1 {
		t.Errorf("hits = %v after the failed New, want 1", got)
	}
}
