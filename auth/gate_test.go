package auth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// A freed slot goes to the waiting addresses in turn: one address with
// sixteen attempts queued delays another's by one attempt, not sixteen.
func TestGateSharesSlotsBetweenAddresses(t *testing.T) {
	g := newGate(1, time.Minute, noMetrics{})
	ctx := context.Background()
	hold, err := g.enter(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	queued := func(n int) { // waits until n attempts wait for a slot
		for {
			g.mu.Lock()
			w := 0
			for _, q := range g.turns {
				w += len(q.waiters)
			}
			g.mu.Unlock()
			if w == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	wait := func(group, name string) {
		defer wg.Done()
		release, err := g.enter(ctx, group)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		release()
	}
	for i := range 16 {
		wg.Add(1)
		go wait("203.0.113.50", fmt.Sprint("bot", i))
		queued(i + 1)
	}
	wg.Add(1)
	go wait("198.51.100.1", "honest")
	queued(17)
	hold()
	wg.Wait()
	if len(order) != 17 || order[1] != "honest" {
		t.Fatalf("served in the order %v; want the other address second", order)
	}
	for i, name := range append(order[:1:1], order[2:]...) {
		if name != fmt.Sprint("bot", i) {
			t.Fatalf("an address's own attempts were reordered: %v", order)
		}
	}
}

// A waiter that gives up is removed; a slot handed to it as it gave up is
// passed on, not lost.
func TestGateWaiterGivesUp(t *testing.T) {
	g := newGate(1, time.Minute, noMetrics{})
	hold, _ := g.enter(context.Background(), "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := g.enter(ctx, "a"); done <- err }()
	for {
		g.mu.Lock()
		n := len(g.turns)
		g.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled wait got a slot")
	}
	hold()
	release, ok := g.tryEnter()
	if !ok {
		t.Fatal("the slot was lost with the waiter that gave up")
	}
	release()
	if g.free != 1 || len(g.turns) != 0 || len(g.queues) != 0 {
		t.Errorf("gate left with %d free, %d turns, %d queues", g.free, len(g.turns), len(g.queues))
	}
}
