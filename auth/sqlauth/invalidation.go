package sqlauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginauth/ginauth/sessionstore"
)

// InvalidationOptions configures a UserInvalidation. The zero value is
// usable.
type InvalidationOptions struct {
	// Channel is the LISTEN/NOTIFY channel, at most 63 bytes. Default
	// "ginauth_users_invalidate".
	Channel string

	// Logger receives the subscription's outages and recoveries when it
	// is used through Subscribe (an auth.Auth subscribes through
	// SubscribeWithState, and logs them to its own Config.Logger).
	// Default slog.Default().
	Logger *slog.Logger
}

// ErrClosed is what Subscribe returns once its UserInvalidation is closed.
var ErrClosed = errors.New("sqlauth: user invalidation closed")

// Reconnection pauses of a subscription, and how long its connection may
// stay silent before it is pinged.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	pingTimeout = 5 * time.Second
)

// pingInterval is a variable for the tests.
var pingInterval = 30 * time.Second

// UserInvalidation is an auth.UserInvalidation over PostgreSQL's
// LISTEN/NOTIFY: give it to auth.Config.UserCache.Invalidation, and InvalidateUser
// on any instance drops the user from every instance's cache. Publish sends
// NOTIFY through a pool of at most two connections (unless the DSN sets
// pool_max_conns); each Subscribe listens on a connection of its own.
//
// A subscription survives outages by itself: when its connection is lost
// (the server restarts, the backend is terminated, the network fails; a
// silent connection is pinged every 30 seconds to find out), it connects
// again after a pause that starts at 100ms and doubles up to 5s, and
// listens again. Notifications sent while an instance is disconnected are
// lost to it; the cache's TTL (auth.Config.UserCache.TTL) bounds how stale a
// user can then be.
//
// Connections carry application_name "ginauth-invalidation" unless the DSN
// names one, so that they are easy to find in pg_stat_activity. The DSN
// must reach PostgreSQL itself, or a pooler in session mode: LISTEN does not
// work through transaction pooling.
type UserInvalidation struct {
	pool    *pgxpool.Pool
	listen  *pgx.ConnConfig
	channel string
	log     *slog.Logger

	mu     sync.Mutex
	closed bool
	stop   chan struct{} // closed by Close: subscriptions end
	subs   sync.WaitGroup
}

// NewUserInvalidation returns an invalidation bus on the PostgreSQL
// database at dsn (a postgres:// URL or a key=value string, as pgx reads
// them). It connects lazily: a database that is down makes Publish fail and
// Subscribe retry, not NewUserInvalidation. It fails for a DSN pgx cannot
// read or a channel name PostgreSQL cannot hold. Close releases its
// connections.
func NewUserInvalidation(dsn string, opts InvalidationOptions) (*UserInvalidation, error) {
	if opts.Channel == "" {
		opts.Channel = "ginauth_users_invalidate"
	}
	if len(opts.Channel) > 63 || strings.ContainsRune(opts.Channel, 0) {
		return nil, fmt.Errorf("sqlauth: channel %q: a PostgreSQL channel is at most 63 bytes, without NUL", opts.Channel)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlauth: reading the PostgreSQL DSN: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = 2
	}
	cfg.MinConns = 0
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "ginauth-invalidation"
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, sessionstore.Unavailable(err)
	}
	return &UserInvalidation{
		pool:    pool,
		listen:  cfg.ConnConfig.Copy(),
		channel: opts.Channel,
		log:     opts.Logger,
		stop:    make(chan struct{}),
	}, nil
}

// Publish implements auth.UserInvalidation: one pg_notify. Every
// subscription listening at that moment, this instance's too, receives the
// user's ID. A database that cannot answer gives an error matching
// sessionstore.ErrUnavailable.
func (u *UserInvalidation) Publish(ctx context.Context, userID string) error {
	if _, err := u.pool.Exec(ctx, "SELECT pg_notify($1, $2)", u.channel, userID); err != nil {
		return sessionstore.Unavailable(err)
	}
	return nil
}

// Subscribe implements auth.UserInvalidation: it listens on a connection of
// its own and calls drop with the ID of every user published, one at a
// time, from the goroutine that called it, reconnecting by itself after
// outages, until ctx ends (it then returns nil, promptly, whatever it was
// doing) or the UserInvalidation is closed (it then returns ErrClosed). It
// logs each outage and recovery to InvalidationOptions.Logger.
func (u *UserInvalidation) Subscribe(ctx context.Context, drop func(userID string)) error {
	down := false
	return u.SubscribeWithState(ctx, drop, func(listening bool, err error) {
		switch {
		case listening && down:
			u.log.Info("ginauth: user invalidation subscription restored", "channel", u.channel)
		case !listening && !down:
			u.log.Warn("ginauth: user invalidation subscription down; reconnecting", "channel", u.channel, "err", err)
		case !listening:
			u.log.Debug("ginauth: user invalidation subscription still down", "channel", u.channel, "err", err)
		}
		down = !listening
	})
}

// SubscribeWithState implements auth.ReportingInvalidation: it is
// Subscribe, but reports to state instead of logging: state(true, nil)
// each time it listens, state(false, err) after each failed connection or
// lost link. An auth.Auth subscribes this way, and logs the changes itself.
func (u *UserInvalidation) SubscribeWithState(ctx context.Context, drop func(userID string), state func(listening bool, err error)) error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return ErrClosed
	}
	u.subs.Add(1)
	u.mu.Unlock()
	defer u.subs.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // Close ends the subscription too
		select {
		case <-u.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	pause := minBackoff
	for {
		err := u.listenOnce(ctx, drop, func() {
			pause = minBackoff
			state(true, nil)
		})
		if ctx.Err() != nil {
			select {
			case <-u.stop:
				return ErrClosed
			default:
				return nil
			}
		}
		state(false, err)
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		pause = min(2*pause, maxBackoff)
	}
}

// listenOnce connects, listens, calls listening, then delivers
// notifications until the connection fails or ctx ends.
func (u *UserInvalidation) listenOnce(ctx context.Context, drop func(string), listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, u.listen)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{u.channel}.Sanitize()); err != nil {
		return err
	}
	listening()
	for {
		wctx, cancel := context.WithTimeout(ctx, pingInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Channel == u.channel {
				drop(n.Payload)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(wctx.Err(), context.DeadlineExceeded) && !conn.IsClosed():
			// Silence: make sure the connection still answers (a
			// network that drops packets says nothing).
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// Close ends every running subscription (they return ErrClosed), waits
// for them to release their connections, and closes the publishing pool.
// It is idempotent.
func (u *UserInvalidation) Close() error {
	u.mu.Lock()
	if !u.closed {
		u.closed = true
		close(u.stop)
	}
	u.mu.Unlock()
	u.subs.Wait()
	u.pool.Close()
	return nil
}
