package sqlauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/ginauth/ginauth/auth/sqlauth"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
)

// noLeaks checks, after every other cleanup of the test, that no goroutine
// the test started is left.
func noLeaks(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// withParam returns the URL with one query parameter set.
func withParam(t testing.TB, rawURL, name, value string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// newBus returns a bus on dsn with a channel of its own, closed at cleanup.
func newBus(t testing.TB, dsn string) *sqlauth.UserInvalidation {
	t.Helper()
	bus, err := sqlauth.NewUserInvalidation(dsn, sqlauth.InvalidationOptions{
		Channel: "ginauth_test_" + testenv.Unique(),
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	return bus
}

// inbox collects the IDs a subscription receives.
type inbox struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (b *inbox) drop(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	b.seen[id] = true
}

func (b *inbox) has(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[id]
}

// subscribe runs n subscriptions until the returned stop, which checks that
// each returned nil.
func subscribe(t *testing.T, bus *sqlauth.UserInvalidation, n int) (boxes []*inbox, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, n)
	for range n {
		box := &inbox{}
		boxes = append(boxes, box)
		go func() { done <- bus.Subscribe(ctx, box.drop) }()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			for range n {
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Subscribe after its context ended: %v, want nil", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Subscribe still running 10s after its context ended")
				}
			}
		})
	}
	t.Cleanup(stop)
	return boxes, stop
}

// delivered publishes id until every box has received it.
func delivered(t *testing.T, bus *sqlauth.UserInvalidation, id string, boxes ...*inbox) {
	t.Helper()
	testenv.Eventually(t, "every subscriber receives "+id, func() bool {
		_ = bus.Publish(context.Background(), id)
		for _, b := range boxes {
			if !b.has(id) {
				return false
			}
		}
		return true
	})
}

// admin is a connection for the test's own queries.
func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), testenv.PostgresURL(t))
	if err != nil {
		testenv.Missing(t, "PostgreSQL", err.Error())
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// listeners returns the backends of the application's listening
// connections.
func listeners(t *testing.T, db *pgx.Conn, app string) []int32 {
	t.Helper()
	rows, err := db.Query(context.Background(),
		"SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %' ORDER BY pid", app)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// Published invalidations reach every subscriber; when their connections
// are killed, the subscriptions come back by themselves and receive later
// ones; they end with their context, and leave nothing running.
func TestUserInvalidation(t *testing.T) {
	noLeaks(t)
	db := admin(t)
	app := "ginauth_test_" + testenv.Unique()
	bus := newBus(t, withParam(t, testenv.PostgresURL(t), "application_name", app))
	boxes, stop := subscribe(t, bus, 2)
	delivered(t, bus, "42", boxes...)

	killed := listeners(t, db, app)
	if len(killed) != 2 {
		t.Fatalf("%d listening connections, want 2", len(killed))
	}
	for _, pid := range killed {
		var ok bool
		if err := db.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
		}
	}
	testenv.Eventually(t, "both subscriptions listen again on new connections", func() bool {
		now := listeners(t, db, app)
		return len(now) == 2 && !slicesOverlap(now, killed)
	})
	delivered(t, bus, "43", boxes...)
	stop()
}

func slicesOverlap(a, b []int32) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// While the network to PostgreSQL is down, Publish fails with
// ErrUnavailable and the subscription keeps trying; when it is back, the
// subscription receives again.
func TestUserInvalidationOutage(t *testing.T) {
	noLeaks(t)
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	bus := newBus(t, withParam(t, u.String(), "connect_timeout", "2"))
	boxes, stop := subscribe(t, bus, 1)
	delivered(t, bus, "1", boxes...)

	proxy.Cut()
	if err := bus.Publish(context.Background(), "2"); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Errorf("Publish during the outage = %v, want ErrUnavailable", err)
	}
	proxy.Restore()
	delivered(t, bus, "3", boxes...)
	stop()
}

// A subscription to a server that is down retries until its context ends,
// then returns nil at once; Close ends running subscriptions with
// ErrClosed, and later ones too.
func TestUserInvalidationEnds(t *testing.T) {
	noLeaks(t)
	bus := newBus(t, "postgres://postgres@"+testenv.ClosedAddr(t)+"/test?sslmode=disable&connect_timeout=2")
	if err := bus.Publish(context.Background(), "1"); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Errorf("Publish with the server down = %v, want ErrUnavailable", err)
	}
	_, stop := subscribe(t, bus, 2)
	stop()

	done := make(chan error, 1)
	go func() { done <- bus.Subscribe(context.Background(), func(string) {}) }()
	_ = bus.Close()
	select {
	case err := <-done:
		if !errors.Is(err, sqlauth.ErrClosed) {
			t.Errorf("Subscribe when closed = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the subscription")
	}
	if err := bus.Subscribe(context.Background(), func(string) {}); !errors.Is(err, sqlauth.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

func TestNewUserInvalidationRefuses(t *testing.T) {
	if _, err := sqlauth.NewUserInvalidation("postgres://127.0.0.1/x", sqlauth.InvalidationOptions{Channel: strings.Repeat("c", 64)}); err == nil {
		t.Error("a 64-byte channel was accepted")
	}
	if _, err := sqlauth.NewUserInvalidation("postgres://%zz", sqlauth.InvalidationOptions{}); err == nil {
		t.Error("a malformed DSN was accepted")
	}
}

// A subscription pings its connection when it has been silent a while (a
// network that drops packets would leave it waiting forever), and goes on
// listening on the same connection when the ping is answered.
func TestUserInvalidationPingsSilentConnection(t *testing.T) {
	noLeaks(t)
	t.Cleanup(sqlauth.SetPingInterval(20 * time.Millisecond))
	db := admin(t)
	app := "ginauth_test_" + testenv.Unique()
	bus := newBus(t, withParam(t, testenv.PostgresURL(t), "application_name", app))
	boxes, stop := subscribe(t, bus, 1)
	delivered(t, bus, "a", boxes...)
	var pid int32
	testenv.Eventually(t, "the silent connection is pinged", func() bool {
		err := db.QueryRow(context.Background(),
			"SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = '-- ping'", app).Scan(&pid)
		return err == nil
	})
	delivered(t, bus, "b", boxes...)
	var same bool
	if err := db.QueryRow(context.Background(), "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1", pid).Scan(&same); err != nil || !same {
		t.Errorf("the pinged connection is gone (%v): the subscription reconnected", err)
	}
	stop()
}
