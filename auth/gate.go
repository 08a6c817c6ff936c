package auth

import (
	"context"
	"sync"
	"time"
)

// gate bounds how many bcrypt computations run at once, so that a flood of
// logins cannot take every CPU from the requests that are already signed
// in, and shares the slots fairly between client addresses: a freed slot
// goes to the waiting addresses in turn, one attempt each, so that one
// address looping sign-ins on many accounts delays another address's
// sign-in by one computation per slot at most, not by its whole queue. A
// caller waits up to wait for a slot, then gets ErrBusy.
type gate struct {
	wait    time.Duration
	metrics Metrics

	mu     sync.Mutex
	free   int
	queues map[string]*gateQueue // the waiters of each address
	turns  []*gateQueue          // addresses with waiters, next served first
}

type gateQueue struct {
	group   string
	waiters []chan struct{}
}

func newGate(n int, wait time.Duration, m Metrics) *gate {
	return &gate{free: n, wait: wait, metrics: m, queues: make(map[string]*gateQueue)}
}

// enter takes a slot for the client address group ("" when unknown, which
// is one group of its own).
func (g *gate) enter(ctx context.Context, group string) (release func(), err error) {
	g.mu.Lock()
	if g.takeLocked() {
		g.mu.Unlock()
		g.metrics.HashStarted(0)
		return g.leave, nil
	}
	ch := make(chan struct{}, 1)
	q := g.queues[group]
	if q == nil {
		q = &gateQueue{group: group}
		g.queues[group] = q
		g.turns = append(g.turns, q)
	}
	q.waiters = append(q.waiters, ch)
	g.mu.Unlock()

	start := time.Now()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case <-ch:
		g.metrics.HashStarted(time.Since(start))
		return g.leave, nil
	case <-t.C:
		err = retry(ErrBusy, time.Second)
	case <-ctx.Done():
		err = busy(ctx.Err())
	}
	if !g.withdraw(group, ch) {
		// A slot was handed over as the wait ended: pass it on.
		g.pass()
	}
	g.metrics.HashBusy()
	return nil, err
}

// tryEnter takes a slot if one is free and nobody waits.
func (g *gate) tryEnter() (release func(), ok bool) {
	g.mu.Lock()
	ok = g.takeLocked()
	g.mu.Unlock()
	if !ok {
		return nil, false
	}
	g.metrics.HashStarted(0)
	return g.leave, true
}

// takeLocked takes a free slot when nobody waits for one; g.mu is held.
func (g *gate) takeLocked() bool {
	if g.free == 0 || len(g.turns) > 0 {
		return false
	}
	g.free--
	return true
}

// withdraw removes a waiter that gave up, and reports whether it was still
// waiting (false: it had been handed a slot).
func (g *gate) withdraw(group string, ch chan struct{}) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	q := g.queues[group]
	if q == nil {
		return false
	}
	for i, w := range q.waiters {
		if w == ch {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			if len(q.waiters) == 0 {
				g.drop(q)
			}
			return true
		}
	}
	return false
}

func (g *gate) drop(q *gateQueue) {
	delete(g.queues, q.group)
	for i, x := range g.turns {
		if x == q {
			g.turns = append(g.turns[:i], g.turns[i+1:]...)
			return
		}
	}
}

// leave ends a computation and passes its slot on.
func (g *gate) leave() {
	g.metrics.HashDone()
	g.pass()
}

// pass gives a slot to the first waiter of the next address in turn, or
// back to the pool.
func (g *gate) pass() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.turns) == 0 {
		g.free++
		return
	}
	q := g.turns[0]
	ch := q.waiters[0]
	q.waiters = q.waiters[1:]
	if len(q.waiters) == 0 {
		g.drop(q)
	} else {
		// Its next waiter goes to the back of the line of addresses.
		g.turns = append(g.turns[1:], q)
	}
	ch <- struct{}{}
}
