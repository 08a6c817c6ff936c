package redisauth_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ginauth/ginauth/auth/redisauth"
	"github.com/ginauth/ginauth/internal/testenv"
)

// SubscribeWithState reports the link as Redis confirms it, loses it and
// confirms it again; pings on a silent link keep it up, and messages flow
// after the outage.
func TestSubscribeWithState(t *testing.T) {
	defer redisauth.SetPingInterval(20 * time.Millisecond)()
	srv := testenv.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	bus := redisauth.NewUserInvalidation(c, redisauth.InvalidationOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	states, ids, done := make(chan bool, 100), make(chan string, 100), make(chan error, 1)
	go func() {
		done <- bus.SubscribeWithState(ctx, func(id string) { ids <- id }, func(listening bool, err error) {
			if listening != (err == nil) {
				t.Errorf("state(%v, %v): an error comes with false only", listening, err)
			}
			states <- listening
		})
	}()
	next := func(want bool) {
		t.Helper()
		select {
		case got := <-states:
			if got != want {
				t.Fatalf("state %v, want %v", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no state reported; want %v", want)
		}
	}
	received := func(id string) {
		t.Helper()
		testenv.Eventually(t, "the subscription receives "+id, func() bool {
			_ = bus.Publish(context.Background(), id)
			for {
				select {
				case got := <-ids:
					if got == id {
						return true
					}
				default:
					return false
				}
			}
		})
	}

	next(true)
	// Silence: the subscription pings, Redis answers, and the link stays
	// up (redis-cli sent one PING when the server started).
	testenv.Eventually(t, "the subscription pings a silent link", func() bool {
		stats, err := c.InfoMap(context.Background(), "commandstats").Result()
		if err != nil {
			return false
		}
		calls, _ := strconv.Atoi(strings.TrimPrefix(strings.Split(stats["Commandstats"]["cmdstat_ping"], ",")[0], "calls="))
		return calls > 5
	})
	select {
	case s := <-states:
		t.Fatalf("a silent but healthy link reported %v", s)
	default:
	}
	received("1")

	srv.Stop()
	next(false)
	srv.Start()
	for s := range states { // failed reconnections may report false again
		if s {
			break
		}
	}
	received("2")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("SubscribeWithState after its context ended: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SubscribeWithState still running 10s after its context ended")
	}
}
