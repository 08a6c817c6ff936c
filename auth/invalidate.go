package auth

import "context"

// UserInvalidation carries "drop this user from your cache" between the
// instances of an application, so that InvalidateUser reaches every cache
// (redisauth.NewUserInvalidation over Redis pub/sub,
// sqlauth.NewUserInvalidation over PostgreSQL LISTEN/NOTIFY).
type UserInvalidation interface {
	// Publish tells every subscribed instance, this one included, to drop
	// the user.
	Publish(ctx context.Context, userID string) error
	// Subscribe calls drop with every user ID published until ctx ends. It
	// returns when ctx ends, or with an error it cannot recover from.
	Subscribe(ctx context.Context, drop func(userID string)) error
}
