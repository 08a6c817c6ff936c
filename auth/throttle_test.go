package auth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/throttletest"
)

func TestMemoryThrottle(t *testing.T) {
	throttletest.Run(t, func(*testing.T) auth.ThrottleStore {
		return auth.NewMemoryThrottleStore(auth.MemoryThrottleStoreOptions{})
	})
}

var floodStart = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func fail(t *testing.T, m *auth.MemoryThrottleStore, now time.Time, k auth.ThrottleKey) error {
	t.Helper()
	if d, err := m.Reserve(context.Background(), now, []auth.ThrottleKey{k}); err != nil || d > 0 {
		return fmt.Errorf("refused: %v, %w", d, err)
	}
	_, err := m.Settle(context.Background(), now, []auth.Settlement{{ThrottleKey: k, Verdict: auth.Failed, Reserved: true}})
	return err
}

// A flood of fresh keys never pushes out a live lockout, whether its
// attempts are given back (hung up, busy) or fail; when every key is live,
// a new key is refused rather than counted nowhere.
func TestMemoryThrottleKeepsLiveKeys(t *testing.T) {
	rule := throttletest.Rule
	m := auth.NewMemoryThrottleStore(auth.MemoryThrottleStoreOptions{Size: 100})
	victim := auth.ThrottleKey{Key: "id:victim", Rule: rule}
	for range 5 {
		if err := fail(t, m, floodStart, victim); err != nil {
			t.Fatal(err)
		}
	}
	// Attempts that are never judged leave nothing behind.
	for i := range 10_000 {
		k := []auth.ThrottleKey{{Key: fmt.Sprint("u:", i), Rule: rule}}
		if _, err := m.Check(context.Background(), floodStart, k); err != nil {
			t.Fatal(err)
		}
		if d, err := m.Reserve(context.Background(), floodStart, k); err != nil || d > 0 {
			t.Fatalf("fresh key %d: %v, %v", i, d, err)
		}
		if _, err := m.Settle(context.Background(), floodStart, []auth.Settlement{{ThrottleKey: k[0], Reserved: true}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Len(); n != 1 {
		t.Errorf("unjudged attempts left %d keys, want only the victim's", n)
	}
	// Failures fill the table; none displaces the victim.
	full := 0
	for i := range 1000 {
		if err := fail(t, m, floodStart, auth.ThrottleKey{Key: fmt.Sprint("f:", i), Rule: rule}); err != nil {
			if !errors.Is(err, auth.ErrThrottleFull) {
				t.Fatal(err)
			}
			full++
		}
	}
	if m.Len() != 100 || full != 901 {
		t.Errorf("%d keys held, %d attempts refused as full; want 100 and 901", m.Len(), full)
	}
	if d, _ := m.Check(context.Background(), floodStart, []auth.ThrottleKey{victim}); d != time.Minute {
		t.Fatalf("after the flood the victim's lockout is %v, want 1m", d)
	}
	// The escalation goes on: the next failure after the lockout doubles it.
	after := floodStart.Add(time.Minute)
	if err := fail(t, m, after, victim); err != nil {
		t.Fatal(err)
	}
	if d, _ := m.Check(context.Background(), after, []auth.ThrottleKey{victim}); d != 2*time.Minute {
		t.Errorf("the next lockout is %v, want 2m", d)
	}
	// Once their window has passed, the flood's keys make room again.
	later := floodStart.Add(rule.Window + time.Second)
	if err := fail(t, m, later, auth.ThrottleKey{Key: "u:late", Rule: rule}); err != nil {
		t.Errorf("a new key after the flood's window: %v", err)
	}
}

// A check never makes a key.
func TestMemoryThrottleChecksMakeNoKeys(t *testing.T) {
	m := auth.NewMemoryThrottleStore(auth.MemoryThrottleStoreOptions{Size: 100})
	for i := range 1000 {
		_, _ = m.Check(context.Background(), floodStart, []auth.ThrottleKey{{Key: fmt.Sprint("u:", i), Rule: throttletest.Rule}})
	}
	if m.Len() != 0 {
		t.Errorf("checks made %d keys", m.Len())
	}
}
