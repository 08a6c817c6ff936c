package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"sync"
	"time"
)

// Errors of [Queue.Send] and [Queue.Close].
var (
	// ErrQueueFull is returned by Send when the queue already holds
	// QueueOptions.Size messages: the message is dropped (logged and
	// counted as dropped), not queued.
	ErrQueueFull = errors.New("mail: queue full; message dropped")
	// ErrQueueClosed is returned by Send after Close began, and by a second
	// Close.
	ErrQueueClosed = errors.New("mail: queue closed")
)

// Permanent wraps err to tell a [Queue] that trying again cannot help
// (the mail server refused the recipient for good, with a 5xx answer): the
// queue gives the message up at once, as failed. It returns nil for nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, came from
// [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Result is what became of a message in a [Queue], as [QueueMetrics] is
// told.
type Result string

// The results a Queue reports. Every message accepted by Send is counted
// queued once, then, once, one of sent, failed and lost; retried counts
// each failed attempt that is tried again. A dropped message was never
// queued.
const (
	ResultQueued  Result = "queued"  // accepted by Send
	ResultSent    Result = "sent"    // accepted by the Sender (the mail server)
	ResultRetried Result = "retried" // an attempt failed; another comes after a backoff
	ResultFailed  Result = "failed"  // every attempt failed: given up
	ResultDropped Result = "dropped" // refused by Send: the queue was full
	ResultLost    Result = "lost"    // still queued when Close's context ended
)

// QueueMetrics is told what a [Queue] does; the metrics package's
// *Metrics implements it. Methods are called from the goroutines of Send
// and of the queue's workers, and must be quick and safe for concurrent
// use.
type QueueMetrics interface {
	// MailResult is called once per result of a message of kind
	// Message.Kind.
	MailResult(kind string, r Result)
	// MailQueueDepth is called with the number of messages the queue
	// holds (waiting, being sent or waiting for a retry) each time it
	// changes, and once, with 0, by NewQueue.
	MailQueueDepth(depth int)
}

type noMetrics struct{}

func (noMetrics) MailResult(string, Result) {}
func (noMetrics) MailQueueDepth(int)        {}

// QueueOptions configures [NewQueue]. The zero value is usable.
type QueueOptions struct {
	// Size bounds the messages the queue holds, those waiting for a
	// retry included; Send refuses more with ErrQueueFull. Default 1000.
	Size int
	// Workers is how many messages are handed to the Sender at once.
	// Default 2.
	Workers int
	// Attempts is how many times a message is tried before it is given
	// up (logged and counted as failed). Default 5.
	Attempts int
	// Backoff is the wait before the second attempt; each later one waits
	// twice as long as the one before, up to MaxBackoff. Default 2s, so
	// that the default 5 attempts span about 30 seconds.
	Backoff time.Duration
	// MaxBackoff caps the wait between two attempts. Default 5 minutes.
	MaxBackoff time.Duration
	// Timeout bounds each attempt (the context given to the Sender).
	// Default 30s.
	Timeout time.Duration
	// Logger receives the failures, drops and losses, without bodies or
	// full addresses. Default slog.Default().
	Logger *slog.Logger
	// Metrics is told every result and the depth. Default none.
	Metrics QueueMetrics
}

// Queue is a [Sender] that never waits for the mail server: Send puts the
// message in a bounded queue in memory and returns; workers hand it to the
// underlying Sender in the background, and try again with exponential
// backoff when that fails. Make one with [NewQueue], end it with
// [Queue.Close].
//
// What a crash loses: everything queued and not yet delivered, those
// waiting for a retry included, since the queue is in memory only; a
// Close whose context ends first loses the same, but logs and counts each
// one. A message may also arrive twice: when the connection drops after
// the server took the message but before its answer, the queue cannot
// tell, and tries again.
//
// Close waits for the attempts in flight to return: a Sender that ignores
// its context's end holds Close up until it returns.
type Queue struct {
	s       Sender
	o       QueueOptions
	log     *slog.Logger
	metrics QueueMetrics

	ch     chan *item      // messages ready to be tried; never fuller than live
	base   context.Context // parent of every attempt; cancelled when Close gives up
	cancel context.CancelFunc
	quit   chan struct{} // closed when the workers are to stop
	wg     sync.WaitGroup

	mu        sync.Mutex
	live      map[*item]struct{} // every message held: in ch, being tried, or waiting for a retry
	closed    bool               // Close began: Send refuses
	abandoned bool               // Close gave up: nothing moves any more
	idle      chan struct{}      // set by Close; closed when live empties
}

type item struct {
	m        Message
	attempts int
	timer    *time.Timer // waiting for a retry
}

// NewQueue starts a queue of opts.Workers workers in front of s.
func NewQueue(s Sender, opts QueueOptions) *Queue {
	if opts.Size <= 0 {
		opts.Size = 1000
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 2 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	q := &Queue{
		s: s, o: opts, log: opts.Logger, metrics: opts.Metrics,
		ch:   make(chan *item, opts.Size),
		quit: make(chan struct{}),
		live: make(map[*item]struct{}),
	}
	if q.log == nil {
		q.log = slog.Default()
	}
	if q.metrics == nil {
		q.metrics = noMetrics{}
	}
	q.base, q.cancel = context.WithCancel(context.Background())
	q.metrics.MailQueueDepth(0)
	q.wg.Add(opts.Workers)
	for range opts.Workers {
		go q.work()
	}
	return q
}

// Send queues a copy of m and returns at once; ctx is not used (the
// message outlives the request that sent it). It returns an error
// wrapping ErrInvalidMessage for a message no Sender could deliver,
// ErrQueueFull when the queue is full (the message is dropped, logged and
// counted), and ErrQueueClosed after Close began. A nil error means
// queued, not delivered.
func (q *Queue) Send(_ context.Context, m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	it := &item{m: *m}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrQueueClosed
	}
	if len(q.live) >= q.o.Size {
		q.mu.Unlock()
		q.log.Warn("ginauth: mail dropped: the queue is full", "kind", it.m.Kind, "to_domain", Domain(it.m.To), "size", q.o.Size)
		q.metrics.MailResult(it.m.Kind, ResultDropped)
		return ErrQueueFull
	}
	q.live[it] = struct{}{}
	q.ch <- it // never blocks: ch holds fewer than len(live) <= Size = cap(ch)
	q.metrics.MailQueueDepth(len(q.live))
	q.mu.Unlock()
	q.metrics.MailResult(it.m.Kind, ResultQueued)
	return nil
}

// Len returns the number of messages the queue holds: waiting, being sent,
// or waiting for a retry.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.live)
}

// Close stops taking messages (Send then returns ErrQueueClosed) and
// waits until every queued message is delivered or given up, or until ctx
// ends. Then it cancels the attempts in flight, stops the workers, and
// logs and counts as lost every message still held; it returns an error
// that wraps ctx.Err() and says how many were lost, or nil when none
// was. A message waiting for a retry is tried when its time comes, if ctx
// has not ended by then. A second Close returns ErrQueueClosed.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrQueueClosed
	}
	q.closed = true
	idle := make(chan struct{})
	if len(q.live) == 0 {
		close(idle)
	} else {
		q.idle = idle
	}
	q.mu.Unlock()

	select {
	case <-idle:
	case <-ctx.Done():
	}

	q.mu.Lock()
	q.abandoned = true
	for it := range q.live {
		if it.timer != nil {
			it.timer.Stop()
		}
	}
	q.mu.Unlock()
	q.cancel()
	close(q.quit)
	q.wg.Wait()

	q.mu.Lock()
	lost := make([]*item, 0, len(q.live))
	for it := range q.live {
		lost = append(lost, it)
	}
	clear(q.live)
	q.metrics.MailQueueDepth(0)
	q.mu.Unlock()
	for _, it := range lost {
		q.log.Error("ginauth: mail lost: the queue closed before it was delivered",
			"kind", it.m.Kind, "to_domain", Domain(it.m.To), "attempts", it.attempts)
		q.metrics.MailResult(it.m.Kind, ResultLost)
	}
	if len(lost) > 0 {
		return fmt.Errorf("mail: %d message(s) lost at close: %w", len(lost), ctx.Err())
	}
	return nil
}

func (q *Queue) work() {
	defer q.wg.Done()
	for {
		select {
		case <-q.quit:
			return
		case it := <-q.ch:
			q.deliver(it)
		}
	}
}

// deliver makes one attempt at it, then finishes it, gives it up, or sets
// a timer for the next attempt.
func (q *Queue) deliver(it *item) {
	ctx, cancel := context.WithTimeout(q.base, q.o.Timeout)
	m := it.m // the Sender gets a copy: it may not change the queue's
	err := q.s.Send(ctx, &m)
	cancel()
	if err == nil {
		q.finish(it, ResultSent)
		return
	}
	if q.base.Err() != nil {
		return // Close gave up: it counts the message as lost
	}
	it.attempts++
	attrs := []any{"kind", it.m.Kind, "to_domain", Domain(it.m.To), "attempts", it.attempts, "error", redact(err, it.m.To)}
	if it.attempts >= q.o.Attempts || IsPermanent(err) {
		q.log.Error("ginauth: mail not delivered; giving up", attrs...)
		q.finish(it, ResultFailed)
		return
	}
	delay := backoff(q.o.Backoff, q.o.MaxBackoff, it.attempts)
	q.log.Warn("ginauth: mail not delivered; will retry", append(attrs, "retry_in", delay)...)
	q.metrics.MailResult(it.m.Kind, ResultRetried)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.abandoned {
		return
	}
	it.timer = time.AfterFunc(delay, func() { q.retry(it) })
}

// retry puts it back in line, unless Close gave up meanwhile.
func (q *Queue) retry(it *item) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.abandoned {
		return
	}
	it.timer = nil
	q.ch <- it // never blocks: it is live and not in ch
}

// finish forgets it and counts its result.
func (q *Queue) finish(it *item, r Result) {
	q.mu.Lock()
	delete(q.live, it)
	q.metrics.MailQueueDepth(len(q.live))
	if len(q.live) == 0 && q.idle != nil {
		close(q.idle)
		q.idle = nil
	}
	q.mu.Unlock()
	q.metrics.MailResult(it.m.Kind, r)
}

// backoff returns the wait before attempt n+1, after n failed ones:
// first, doubled n-1 times, at most limit.
func backoff(first, limit time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// redact returns err's text with the recipient's address masked (a mail
// server's refusal often quotes it).
func redact(err error, to string) string {
	s := err.Error()
	if a, perr := netmail.ParseAddress(to); perr == nil && a.Address != "" {
		s = strings.ReplaceAll(s, a.Address, MaskAddress(a.Address))
	}
	return s
}
