package auth

import (
	"context"
	"log/slog"
)

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

// ReportingInvalidation is a UserInvalidation whose subscription tells
// whether it is listening (redisauth's and sqlauth's do). An Auth
// subscribes to it through SubscribeWithState: it logs each change of the
// link, and reports it to Config.Metrics when that is an InvalidationMetrics.
// Without the link, an instance hears of changed users only as its cache
// entries expire (Config.UserCache.TTL).
type ReportingInvalidation interface {
	UserInvalidation
	// SubscribeWithState is Subscribe, and also calls state(true, nil)
	// each time the subscription starts listening (at first, and after
	// every reconnection), and state(false, err) each time it fails to
	// listen or loses its link, err saying why; it may report the same
	// state more than once. Calls come one at a time, from the goroutine
	// that called SubscribeWithState, and must return quickly.
	SubscribeWithState(ctx context.Context, drop func(userID string), state func(listening bool, err error)) error
}

// linkState logs the changes of an Auth's invalidation link and reports
// them to its Metrics, when that follows the link. It is used from the
// subscribing goroutine only.
type linkState struct {
	log     *slog.Logger
	metrics InvalidationMetrics // nil: not reported
	known   bool                // a state was reported
	up      bool
}

func (l *linkState) report(listening bool, err error) {
	switch {
	case listening && l.known && l.up, !listening && l.known && !l.up:
		if !listening {
			l.log.Debug("ginauth: user invalidation subscription still down", "err", err)
		}
		return
	case listening && l.known:
		l.log.Info("ginauth: user invalidation subscription restored")
	case listening:
		l.log.Debug("ginauth: user invalidation subscription listening")
	default:
		l.log.Warn("ginauth: user invalidation subscription down; reconnecting", "err", err)
	}
	l.known, l.up = true, listening
	l.tell(listening)
}

// failed records a Subscribe that returned an error (the caller logs it).
func (l *linkState) failed() {
	if !l.known || l.up {
		l.known, l.up = true, false
		l.tell(false)
	}
}

func (l *linkState) tell(listening bool) {
	if l.metrics != nil {
		l.metrics.UserInvalidationListening(listening)
	}
}
