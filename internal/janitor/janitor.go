// Package janitor runs a session store's background expiry work (the memory
// store's sweep, the GORM store's prune) on an interval until it is stopped.
package janitor

import (
	"sync"
	"time"
)

// Janitor is a running background loop. Make one with Start.
type Janitor struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start calls work every interval in its own goroutine; a non-positive
// interval starts nothing (and Stop returns at once).
func Start(every time.Duration, work func()) *Janitor {
	j := &Janitor{stop: make(chan struct{}), done: make(chan struct{})}
	if every <= 0 {
		close(j.done)
		return j
	}
	go func() {
		defer close(j.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-j.stop:
				return
			case <-t.C:
				work()
			}
		}
	}()
	return j
}

// Stop stops the loop and waits for it. It is idempotent and safe for
// concurrent use.
func (j *Janitor) Stop() {
	j.once.Do(func() { close(j.stop) })
	<-j.done
}
