package auth

import (
	"testing"
	"time"
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
