package metrics_test

import (
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/auth/sqlauth"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// The link's gauge and its losses appear at the first report, not before:
// an application without a shared invalidation exports neither.
func TestUserInvalidationListeningHook(t *testing.T) {
	m, reg := newMetrics(t)
	if n, err := testutil.GatherAndCount(reg, "ginauth_user_invalidation_listening", "ginauth_user_invalidation_losses_total"); err != nil || n != 0 {
		t.Fatalf("before any report: %d series (%v), want none", n, err)
	}
	m.UserInvalidationListening(true)
	m.UserInvalidationListening(false)
	m.UserInvalidationListening(true)
	want := `
# HELP ginauth_user_invalidation_listening 1 while this instance listens for the user invalidations of other instances (Config.UserCache.Invalidation), 0 while its link is down: it then hears of changed users only as its cache entries expire.
# TYPE ginauth_user_invalidation_listening gauge
ginauth_user_invalidation_listening 1
# HELP ginauth_user_invalidation_losses_total Times the user invalidation link was lost (or could not be made at start); invalidations sent meanwhile never reach this instance.
# TYPE ginauth_user_invalidation_losses_total counter
ginauth_user_invalidation_losses_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ginauth_user_invalidation_listening", "ginauth_user_invalidation_losses_total"); err != nil {
		t.Error(err)
	}
}

// An instance's invalidation link, lost and back, on each backend: its
// server stops (a redis-server of the test's own) or its network is cut
// (PostgreSQL behind a proxy). The gauge goes to 0 and back to 1, the
// losses count one, and the log says "down; reconnecting", then "restored".
func TestUserInvalidationLinkState(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) (bus auth.UserInvalidation, cut, restore func())
	}{
		{"redis", func(t *testing.T) (auth.UserInvalidation, func(), func()) {
			srv := testenv.StartRedisServer(t)
			c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second})
			t.Cleanup(func() { _ = c.Close() })
			return redisauth.NewUserInvalidation(c, redisauth.InvalidationOptions{}), srv.Stop, srv.Start
		}},
		{"postgres", func(t *testing.T) (auth.UserInvalidation, func(), func()) {
			u, err := url.Parse(testenv.PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			proxy := testenv.NewProxy(t, u.Host)
			u.Host = proxy.Addr()
			bus, err := sqlauth.NewUserInvalidation(u.String(), sqlauth.InvalidationOptions{Channel: "ginauth_test_" + testenv.Unique()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = bus.Close() })
			return bus, proxy.Cut, proxy.Restore
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			bus, cut, restore := b.open(t)
			m, reg := newMetrics(t)
			logs := &testenv.LogBuffer{}
			newRouter(t, memstore.New(memstore.Options{}), "memory", m, func(cfg *auth.Config[*models.User]) {
				cfg.UserCache.Invalidation = bus
				cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			state := func() (listening, losses float64, ok bool) {
				s := snapshot(t, reg)
				listening, ok = s["ginauth_user_invalidation_listening"]
				return listening, s["ginauth_user_invalidation_losses_total"], ok
			}
			testenv.Eventually(t, "the link is up", func() bool {
				l, _, ok := state()
				return ok && l == 1
			})
			cut()
			testenv.Eventually(t, "the link is seen down", func() bool {
				l, n, _ := state()
				return l == 0 && n == 1 && strings.Contains(logs.String(), "ginauth: user invalidation subscription down; reconnecting")
			})
			restore()
			testenv.Eventually(t, "the link is up again", func() bool {
				l, _, _ := state()
				return l == 1 && strings.Contains(logs.String(), "ginauth: user invalidation subscription restored")
			})
			if _, n, _ := state(); n != 1 {
				t.Errorf("losses = %v after one outage, want 1", n)
			}
			if strings.Count(logs.String(), "subscription down; reconnecting") != 1 {
				t.Errorf("one outage, logged more than once as down:\n%s", logs)
			}
			t.Logf("log:\n%s", logs)
		})
	}
}
