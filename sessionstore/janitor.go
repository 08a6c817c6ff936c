package sessionstore

import (
	"sync"
	"time"
)

// janitor runs a store's background expiry work on an interval until it is
// stopped. Its zero value is not usable; a store makes one with
// startJanitor.
type janitor struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// startJanitor calls work every interval in its own goroutine; a
// non-positive interval starts nothing (and stop returns at once).
func startJanitor(every time.Duration, work func()) *janitor {
	j := &janitor{stop: make(chan struct{}), done: make(chan struct{})}
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

// close stops the loop and waits for it. It is idempotent and safe for
// concurrent use.
func (j *janitor) close() {
	j.once.Do(func() { close(j.stop) })
	<-j.done
}
