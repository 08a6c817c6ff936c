package auth

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// UserInvalidation carries "drop this user from your cache" between the
// instances of an application, so that InvalidateUser reaches every cache.
type UserInvalidation interface {
	// Publish tells every subscribed instance, this one included, to drop
	// the user.
	Publish(ctx context.Context, userID string) error
	// Subscribe calls drop with every user ID published until ctx ends. It
	// returns when ctx ends, or with an error it cannot recover from.
	Subscribe(ctx context.Context, drop func(userID string)) error
}

// RedisUserInvalidation is a UserInvalidation over Redis pub/sub. Messages
// sent while an instance is disconnected are lost to it; the cache's TTL
// (Config.UserCacheTTL) bounds how stale a user can then be.
type RedisUserInvalidation struct {
	c       redis.UniversalClient
	channel string
}

// NewRedisUserInvalidation returns an invalidation bus on the client's
// channel (default "ginauth:users:invalidate").
func NewRedisUserInvalidation(c redis.UniversalClient, channel string) *RedisUserInvalidation {
	if channel == "" {
		channel = "ginauth:users:invalidate"
	}
	return &RedisUserInvalidation{c: c, channel: channel}
}

// Publish implements UserInvalidation.
func (r *RedisUserInvalidation) Publish(ctx context.Context, userID string) error {
	return r.c.Publish(ctx, r.channel, userID).Err()
}

// Subscribe implements UserInvalidation. go-redis reconnects the
// subscription by itself after an outage.
func (r *RedisUserInvalidation) Subscribe(ctx context.Context, drop func(string)) error {
	ps := r.c.Subscribe(ctx, r.channel)
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return errors.New("auth: user invalidation channel closed")
			}
			drop(m.Payload)
		}
	}
}
