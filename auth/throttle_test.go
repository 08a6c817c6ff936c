package auth

import (
	"context"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
)

func TestThrottleRuleDelay(t *testing.T) {
	r := ThrottleRule{Failures: 5, Window: 15 * time.Minute, BaseDelay: time.Minute, MaxDelay: 15 * time.Minute}
	want := map[int]time.Duration{1: 0, 4: 0, 5: time.Minute, 6: 2 * time.Minute, 7: 4 * time.Minute, 8: 8 * time.Minute, 9: 15 * time.Minute, 50: 15 * time.Minute}
	for count, d := range want {
		if got := r.delay(count); got != d {
			t.Errorf("delay(%d) = %v, want %v", count, got, d)
		}
	}
}

// throttleStores builds each throttle store the cases run against; a
// missing Redis skips (or, with REQUIRE_SERVICES=1, fails) its subtest only.
var throttleStores = map[string]func(t *testing.T) ThrottleStore{
	"memory": func(*testing.T) ThrottleStore { return NewMemoryThrottle(0) },
	"redis": func(t *testing.T) ThrottleStore {
		c, prefix := testenv.RedisClient(t)
		return NewRedisThrottle(c, prefix)
	},
}

func TestThrottleStores(t *testing.T) {
	rule := ThrottleRule{Failures: 5, Window: 15 * time.Minute, BaseDelay: time.Minute, MaxDelay: 15 * time.Minute}
	ctx := context.Background()
	for name, open := range throttleStores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			clock := fakeclock.New(time.Time{})
			user := []ThrottleKey{{Key: "u:" + testenv.Unique(), Rule: rule}}
			locked := func() time.Duration {
				d, err := s.Locked(ctx, clock.Now(), user)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			fail := func() time.Duration {
				d, err := s.Fail(ctx, clock.Now(), user)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			// Four failures a minute apart: no lockout.
			for range 4 {
				if d := fail(); d != 0 {
					t.Fatalf("locked %v before the 5th failure", d)
				}
				clock.Advance(time.Minute)
			}
			if d := fail(); d != time.Minute {
				t.Fatalf("5th failure locks for %v, want 1m", d)
			}
			if d := locked(); d != time.Minute {
				t.Fatalf("Locked = %v, want 1m", d)
			}
			clock.Advance(30 * time.Second)
			if d := locked(); d != 30*time.Second {
				t.Fatalf("Locked after 30s = %v, want 30s", d)
			}
			clock.Advance(30 * time.Second)
			if d := locked(); d > 0 {
				t.Fatalf("still locked after the delay: %v", d)
			}
			// The next failures double the delay, up to the maximum.
			for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
				if d := fail(); d != want {
					t.Fatalf("lockout %v, want %v", d, want)
				}
				clock.Advance(want)
			}
			// A success resets the streak.
			if err := s.Reset(ctx, user); err != nil {
				t.Fatal(err)
			}
			if d := fail(); d != 0 {
				t.Fatalf("after a reset, one failure locks for %v", d)
			}
			// Failures further apart than the window do not add up.
			for range 6 {
				clock.Advance(16 * time.Minute)
				if d := fail(); d != 0 {
					t.Fatalf("spread-out failures locked for %v", d)
				}
			}
			// Other keys are independent; the longest lockout wins.
			other := ThrottleKey{Key: "ip:" + testenv.Unique(), Rule: ThrottleRule{Failures: 1, Window: time.Hour, BaseDelay: 3 * time.Minute, MaxDelay: time.Hour}}
			d, err := s.Fail(ctx, clock.Now(), []ThrottleKey{user[0], other})
			if err != nil || d != 3*time.Minute {
				t.Fatalf("two keys: %v, %v; want 3m", d, err)
			}
			if d, _ := s.Locked(ctx, clock.Now(), []ThrottleKey{other}); d != 3*time.Minute {
				t.Fatalf("ip key locked %v", d)
			}
		})
	}
}

func TestMemoryThrottleIsBounded(t *testing.T) {
	m := NewMemoryThrottle(100)
	rule := ThrottleRule{Failures: 5, Window: time.Minute, BaseDelay: time.Minute, MaxDelay: time.Minute}
	for i := range 1000 {
		_, _ = m.Fail(context.Background(), time.Now(), []ThrottleKey{{Key: string(rune('a'+i%26)) + time.Duration(i).String(), Rule: rule}})
	}
	if m.Len() != 100 {
		t.Errorf("the throttle holds %d keys, want its bound 100", m.Len())
	}
}
