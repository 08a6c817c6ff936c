package redisauth

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// InvalidationOptions configures a UserInvalidation. The zero value is
// usable.
type InvalidationOptions struct {
	// Channel is the pub/sub channel. Default "ginauth:users:invalidate".
	Channel string
}

// UserInvalidation is an auth.UserInvalidation over Redis pub/sub: give it
// to auth.Config.UserInvalidation, and InvalidateUser on any instance drops
// the user from every instance's cache. Messages sent while an instance is
// disconnected are lost to it; the cache's TTL (auth.Config.UserCacheTTL)
// bounds how stale a user can then be.
type UserInvalidation struct {
	c       redis.UniversalClient
	channel string
}

// NewUserInvalidation returns an invalidation bus on the client.
func NewUserInvalidation(c redis.UniversalClient, opts InvalidationOptions) *UserInvalidation {
	if opts.Channel == "" {
		opts.Channel = "ginauth:users:invalidate"
	}
	return &UserInvalidation{c: c, channel: opts.Channel}
}

// Publish implements auth.UserInvalidation.
func (r *UserInvalidation) Publish(ctx context.Context, userID string) error {
	return r.c.Publish(ctx, r.channel, userID).Err()
}

// Subscribe implements auth.UserInvalidation. go-redis reconnects the
// subscription by itself after an outage.
func (r *UserInvalidation) Subscribe(ctx context.Context, drop func(string)) error {
	ps := r.c.Subscribe(ctx, r.channel)
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return errors.New("redisauth: user invalidation channel closed")
			}
			drop(m.Payload)
		}
	}
}
