package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/throttletest"
)

func TestMemoryThrottle(t *testing.T) {
	throttletest.Run(t, func(*testing.T) auth.ThrottleStore {
		return auth.NewMemoryThrottle(auth.MemoryThrottleOptions{})
	})
}

func TestMemoryThrottleIsBounded(t *testing.T) {
	m := auth.NewMemoryThrottle(auth.MemoryThrottleOptions{Size: 100})
	for i := range 1000 {
		_, _ = m.Reserve(context.Background(), time.Now(), []auth.ThrottleKey{{Key: fmt.Sprint("u:", i), Rule: throttletest.Rule}})
	}
	if m.Len() != 100 {
		t.Errorf("the throttle holds %d keys, want its bound 100", m.Len())
	}
}
