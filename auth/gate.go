package auth

import (
	"context"
	"time"
)

// gate bounds how many bcrypt computations run at once, so that a flood of
// logins cannot take every CPU from the requests that are already signed
// in. A caller waits up to wait for a slot, then gets ErrBusy.
type gate struct {
	slots   chan struct{}
	wait    time.Duration
	metrics Metrics
}

func newGate(n int, wait time.Duration, m Metrics) *gate {
	return &gate{slots: make(chan struct{}, n), wait: wait, metrics: m}
}

func (g *gate) enter(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		g.metrics.HashStarted(0)
		return g.leave, nil
	default:
	}
	start := time.Now()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		g.metrics.HashStarted(time.Since(start))
		return g.leave, nil
	case <-t.C:
		g.metrics.HashBusy()
		return nil, ErrBusy.WithRetry(time.Second)
	case <-ctx.Done():
		g.metrics.HashBusy()
		return nil, ErrBusy.wrap(ctx.Err())
	}
}

func (g *gate) leave() {
	<-g.slots
	g.metrics.HashDone()
}
