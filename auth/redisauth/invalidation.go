package redisauth

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// InvalidationOptions configures a UserInvalidation. The zero value is
// usable.
type InvalidationOptions struct {
	// Channel is the pub/sub channel. Default "ginauth:users:invalidate".
	Channel string

	// Logger receives the subscription's outages and recoveries when it
	// is used through Subscribe (an auth.Auth subscribes through
	// SubscribeWithState, and logs them to its own Config.Logger).
	// Default slog.Default().
	Logger *slog.Logger
}

// Reconnection pauses of a subscription, and how long it waits for the
// answer to a ping.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	pongTimeout = 5 * time.Second
)

// pingInterval is how long a subscription may stay silent before it pings
// Redis; a variable for the tests.
var pingInterval = 30 * time.Second

// UserInvalidation is an auth.UserInvalidation over Redis pub/sub: give it
// to auth.Config.UserCache.Invalidation, and InvalidateUser on any instance drops
// the user from every instance's cache.
//
// A subscription survives outages by itself: when its connection is lost
// (Redis restarts, the network fails; a silent connection is pinged every
// 30 seconds, and given 5 seconds to answer), it connects again after a
// pause that starts at 100ms and doubles up to 5s, and subscribes again.
// It reports each loss and recovery (SubscribeWithState), which an
// auth.Auth logs and counts in its metrics. Messages sent while an
// instance is disconnected are lost to it; the cache's TTL
// (auth.Config.UserCache.TTL) bounds how stale a user can then be.
type UserInvalidation struct {
	c       redis.UniversalClient
	channel string
	log     *slog.Logger
}

// NewUserInvalidation returns an invalidation bus on the client.
func NewUserInvalidation(c redis.UniversalClient, opts InvalidationOptions) *UserInvalidation {
	if opts.Channel == "" {
		opts.Channel = "ginauth:users:invalidate"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &UserInvalidation{c: c, channel: opts.Channel, log: opts.Logger}
}

// Publish implements auth.UserInvalidation.
func (r *UserInvalidation) Publish(ctx context.Context, userID string) error {
	return r.c.Publish(ctx, r.channel, userID).Err()
}

// Subscribe implements auth.UserInvalidation: it calls drop with the ID of
// every user published, from the goroutine that called it, reconnecting
// by itself after outages, until ctx ends (it then returns nil). It logs
// each outage and recovery to InvalidationOptions.Logger.
func (r *UserInvalidation) Subscribe(ctx context.Context, drop func(string)) error {
	down := false
	return r.SubscribeWithState(ctx, drop, func(listening bool, err error) {
		switch {
		case listening && down:
			r.log.Info("ginauth: user invalidation subscription restored", "channel", r.channel)
		case !listening && !down:
			r.log.Warn("ginauth: user invalidation subscription down; reconnecting", "channel", r.channel, "err", err)
		case !listening:
			r.log.Debug("ginauth: user invalidation subscription still down", "channel", r.channel, "err", err)
		}
		down = !listening
	})
}

// SubscribeWithState implements auth.ReportingInvalidation: it is
// Subscribe, but reports to state instead of logging: state(true, nil)
// each time Redis confirms the subscription, state(false, err) after each
// failed connection or lost link.
func (r *UserInvalidation) SubscribeWithState(ctx context.Context, drop func(string), state func(listening bool, err error)) error {
	pause := minBackoff
	for {
		err := r.listenOnce(ctx, drop, func() {
			pause = minBackoff
			state(true, nil)
		})
		if ctx.Err() != nil {
			return nil
		}
		state(false, err)
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, maxBackoff)
	}
}

// errSilent is a link that did not answer a ping in time.
var errSilent = errors.New("redisauth: no answer to a ping")

// listenOnce subscribes on a connection of its own, calls listening when
// Redis confirms, then delivers messages until the link fails or ctx ends.
// go-redis would reconnect a PubSub silently; here each loss ends the
// PubSub, so that it is seen and reported.
func (r *UserInvalidation) listenOnce(ctx context.Context, drop func(string), listening func()) error {
	ps := r.c.Subscribe(ctx, r.channel) // a failure shows at the first receive
	defer ps.Close()
	// A receive waits on the network, not on ctx: closing the PubSub ends
	// it when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	pinged := false
	for {
		wait := pingInterval
		if pinged {
			wait = pongTimeout
		}
		msg, err := ps.ReceiveTimeout(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return err
			}
			if pinged {
				return errSilent
			}
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.channel {
				listening()
			}
		case *redis.Message:
			if m.Channel == r.channel {
				drop(m.Payload)
			}
		}
	}
}
