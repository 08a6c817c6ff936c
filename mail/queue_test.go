package mail_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/mail/smtpmail"
)

// Every test leaves no worker, timer or connection behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a mail.QueueMetrics that remembers what it is told.
type recorder struct {
	mu     sync.Mutex
	counts map[string]int // "kind/result"
	depth  int
	max    int
	// retried, if set, receives a value at each retry.
	retried chan struct{}
}

func (r *recorder) MailResult(kind string, res mail.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[kind+"/"+string(res)]++
	if res == mail.ResultRetried && r.retried != nil {
		r.retried <- struct{}{}
	}
}

func (r *recorder) MailQueueDepth(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.depth, r.max = n, max(r.max, n)
}

// check compares the counts of kind with want, result by result.
func (r *recorder) check(t *testing.T, kind string, want map[mail.Result]int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range []mail.Result{mail.ResultQueued, mail.ResultSent, mail.ResultRetried, mail.ResultFailed, mail.ResultDropped, mail.ResultLost} {
		if got := r.counts[kind+"/"+string(res)]; got != want[res] {
			t.Errorf("%s %s = %d, want %d", kind, res, got, want[res])
		}
	}
}

func (r *recorder) Depth() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.depth
}

// env is a queue in front of the SMTP sender of a real server, with its
// logs and metrics.
type env struct {
	srv     *testenv.SMTPServer
	q       *mail.Queue
	logs    *testenv.LogBuffer
	metrics *recorder
}

func newEnv(t *testing.T, opts mail.QueueOptions) *env {
	t.Helper()
	e := &env{srv: testenv.StartSMTPServer(t), logs: &testenv.LogBuffer{}, metrics: &recorder{}}
	s, err := smtpmail.New(smtpmail.Options{URL: e.srv.URL(), From: "no-reply@app.example"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Metrics = e.metrics
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond // retries at once: the tests wait on the server, not on the clock
	}
	e.q = mail.NewQueue(s, opts)
	t.Cleanup(func() {
		// Release before closing: a queue closed on a held delivery
		// would wait for it.
		e.srv.Release()
		_ = e.q.Close(context.Background())
		e.checkLogs(t)
	})
	return e
}

// message returns message i: its body holds a token, which no log may
// show.
func message(i int) *mail.Message {
	return &mail.Message{
		To:      fmt.Sprintf("user%d@example.org", i),
		Subject: fmt.Sprintf("Subject-%d-private", i),
		Text:    fmt.Sprintf("text body, token=TOKEN%dSECRET", i),
		HTML:    fmt.Sprintf("<p>html body, token=TOKEN%dSECRET</p>", i),
		Kind:    mail.KindPasswordReset,
	}
}

// checkLogs fails the test when a log line shows a body, a subject or a
// full recipient address.
func (e *env) checkLogs(t *testing.T) {
	t.Helper()
	logs := e.logs.String()
	for _, secret := range []string{"TOKEN", "body", "Subject-", "user0@", "user1@", "user2@", "@example.org"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs show %q:\n%s", secret, logs)
		}
	}
}

func (e *env) send(t *testing.T, ms ...*mail.Message) {
	t.Helper()
	for _, m := range ms {
		if err := e.q.Send(context.Background(), m); err != nil {
			t.Fatalf("Send(%s): %v", m.To, err)
		}
	}
}

// Queued messages reach the real SMTP server, intact.
func TestQueueDelivers(t *testing.T) {
	e := newEnv(t, mail.QueueOptions{})
	var want []*mail.Message
	for i := range 5 {
		want = append(want, message(i))
	}
	e.send(t, want...)
	got := map[string]*testenv.DeliveredMail{}
	for _, d := range e.srv.Wait(t, 5) {
		got[d.To[0]] = d
	}
	for _, m := range want {
		d := got[m.To]
		if d == nil || d.Subject != m.Subject || d.Text != m.Text || d.HTML != m.HTML {
			t.Errorf("%s: delivered %+v", m.To, d)
		}
	}
	if err := e.q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.metrics.check(t, mail.KindPasswordReset, map[mail.Result]int{mail.ResultQueued: 5, mail.ResultSent: 5})
	if e.metrics.Depth() != 0 {
		t.Errorf("depth %d after delivery", e.metrics.Depth())
	}
}

// A server that answers 451 gets the message again, after a backoff, until
// it takes it; one that never does makes the queue give up after
// Attempts, with an error in the log.
func TestQueueRetries(t *testing.T) {
	cases := []struct {
		name      string
		failures  int
		attempts  int
		delivered bool
		want      map[mail.Result]int
		log       string
	}{
		{"451 twice, then delivered", 2, 5, true,
			map[mail.Result]int{mail.ResultQueued: 1, mail.ResultRetried: 2, mail.ResultSent: 1}, "will retry"},
		{"451 on every attempt", 100, 3, false,
			map[mail.Result]int{mail.ResultQueued: 1, mail.ResultRetried: 2, mail.ResultFailed: 1}, "giving up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, mail.QueueOptions{Attempts: tc.attempts})
			e.srv.FailNext(tc.failures)
			e.send(t, message(0))
			if tc.delivered {
				if d := e.srv.Next(t); d.Text != message(0).Text {
					t.Errorf("delivered %q", d.Text)
				}
			}
			if err := e.q.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.metrics.check(t, mail.KindPasswordReset, tc.want)
			logs := e.logs.String()
			if !strings.Contains(logs, tc.log) || !strings.Contains(logs, "to_domain=example.org") || !strings.Contains(logs, "kind=password_reset") {
				t.Errorf("the logs do not say %q with the kind and domain:\n%s", tc.log, logs)
			}
			if !strings.Contains(logs, "451") {
				t.Errorf("the logs do not give the server's answer:\n%s", logs)
			}
		})
	}
}

// A server that holds a delivery never holds Send: while the server
// holds the first message, Send queues the others and returns.
func TestQueueSlowServerNeverBlocksSend(t *testing.T) {
	e := newEnv(t, mail.QueueOptions{Workers: 1, Size: 10})
	e.srv.Hold()
	e.send(t, message(0))
	e.srv.WaitHeld(t) // the only worker is stuck on the server
	for i := 1; i < 10; i++ {
		e.send(t, message(i)) // returns while the server still holds message 0
	}
	if n := e.q.Len(); n != 10 {
		t.Errorf("Len = %d while the server holds, want 10", n)
	}
	e.srv.Release()
	e.srv.Wait(t, 10)
	if err := e.q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A full queue refuses with ErrQueueFull, drops the message, and says so
// in its log and metrics.
func TestQueueFull(t *testing.T) {
	e := newEnv(t, mail.QueueOptions{Workers: 1, Size: 2})
	e.srv.Hold()
	e.send(t, message(0))
	e.srv.WaitHeld(t)
	e.send(t, message(1))
	if err := e.q.Send(context.Background(), message(2)); !errors.Is(err, mail.ErrQueueFull) {
		t.Fatalf("Send to a full queue = %v, want ErrQueueFull", err)
	}
	if !strings.Contains(e.logs.String(), "mail dropped: the queue is full") {
		t.Errorf("the drop is not logged:\n%s", e.logs)
	}
	e.srv.Release()
	e.srv.Wait(t, 2)
	if err := e.q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.metrics.check(t, mail.KindPasswordReset, map[mail.Result]int{mail.ResultQueued: 2, mail.ResultSent: 2, mail.ResultDropped: 1})
	if e.metrics.max != 2 {
		t.Errorf("the depth peaked at %d, want 2", e.metrics.max)
	}
}

// Close delivers what is queued before it returns; after it, Send refuses.
func TestQueueCloseDrains(t *testing.T) {
	e := newEnv(t, mail.QueueOptions{Workers: 1})
	e.srv.Hold()
	e.send(t, message(0), message(1), message(2))
	e.srv.WaitHeld(t)
	closed := make(chan error, 1)
	go func() { closed <- e.q.Close(context.Background()) }()
	e.srv.Release()
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	// The server keeps a message before it answers 250: all three are in.
	if got := e.srv.Pending(); len(got) != 3 {
		t.Errorf("%d messages delivered when Close returned, want 3", len(got))
	}
	if err := e.q.Send(context.Background(), message(3)); !errors.Is(err, mail.ErrQueueClosed) {
		t.Errorf("Send after Close = %v, want ErrQueueClosed", err)
	}
	if err := e.q.Close(context.Background()); !errors.Is(err, mail.ErrQueueClosed) {
		t.Errorf("second Close = %v, want ErrQueueClosed", err)
	}
	e.metrics.check(t, mail.KindPasswordReset, map[mail.Result]int{mail.ResultQueued: 3, mail.ResultSent: 3})
}

// A Close whose context ends first gives up: the message in flight and
// those waiting are lost, logged and counted, and Close says how many.
func TestQueueCloseLoses(t *testing.T) {
	e := newEnv(t, mail.QueueOptions{Workers: 1})
	e.srv.Hold()
	e.send(t, message(0), message(1), message(2))
	e.srv.WaitHeld(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.q.Close(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "3 message(s) lost") {
		t.Fatalf("Close = %v, want 3 lost and context.Canceled", err)
	}
	if n := strings.Count(e.logs.String(), "mail lost"); n != 3 {
		t.Errorf("%d losses logged, want 3:\n%s", n, e.logs)
	}
	e.metrics.check(t, mail.KindPasswordReset, map[mail.Result]int{mail.ResultQueued: 3, mail.ResultLost: 3})
	if e.q.Len() != 0 || e.metrics.Depth() != 0 {
		t.Errorf("Len %d, depth %d after Close", e.q.Len(), e.metrics.Depth())
	}
}

// A message waiting for a retry when Close gives up is lost too, and its
// timer stops.
func TestQueueCloseLosesRetries(t *testing.T) {
	e := newEnv(t, mail.QueueOptions{Backoff: time.Hour})
	e.metrics.retried = make(chan struct{}, 1)
	e.srv.FailNext(1)
	e.send(t, message(0))
	<-e.metrics.retried // the first attempt failed; the next is an hour away
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.q.Close(ctx); err == nil || !strings.Contains(err.Error(), "1 message(s) lost") {
		t.Fatalf("Close = %v, want 1 lost", err)
	}
	e.metrics.check(t, mail.KindPasswordReset, map[mail.Result]int{mail.ResultQueued: 1, mail.ResultRetried: 1, mail.ResultLost: 1})
}

// failing is a Sender that always fails with err.
type failing struct{ err error }

func (f failing) Send(context.Context, *mail.Message) error { return f.err }

// A permanent error (a 5xx answer) is given up at once.
func TestQueuePermanentFailure(t *testing.T) {
	rec := &recorder{}
	logs := &testenv.LogBuffer{}
	q := mail.NewQueue(failing{mail.Permanent(errors.New("550 5.1.1 <user0@example.org>: no such user"))},
		mail.QueueOptions{Metrics: rec, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err := q.Send(context.Background(), message(0)); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.check(t, mail.KindPasswordReset, map[mail.Result]int{mail.ResultQueued: 1, mail.ResultFailed: 1})
	if strings.Contains(logs.String(), "user0@") || !strings.Contains(logs.String(), "u***@example.org") {
		t.Errorf("the log does not mask the address the server quoted:\n%s", logs)
	}
}

// A message no Sender could deliver is refused by Send, and not counted.
func TestQueueRefusesInvalidMessages(t *testing.T) {
	rec := &recorder{}
	q := mail.NewQueue(failing{errors.New("never called")}, mail.QueueOptions{Metrics: rec})
	defer func() { _ = q.Close(context.Background()) }()
	for _, m := range []*mail.Message{
		nil,
		{To: "", Subject: "s", Text: "t"},
		{To: "a@example.org, b@example.org", Subject: "s", Text: "t"},
		{To: "a@example.org\r\nBcc: b@example.org", Subject: "s", Text: "t"},
		{To: "a@example.org", Subject: "s\r\nBcc: b@example.org", Text: "t"},
		{To: "a@example.org", Subject: "s"},
	} {
		if err := q.Send(context.Background(), m); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("Send(%+v) = %v, want ErrInvalidMessage", m, err)
		}
	}
	rec.check(t, "", nil)
	if q.Len() != 0 {
		t.Errorf("Len = %d", q.Len())
	}
}

// A Close with nothing queued returns at once, even with an ended
// context.
func TestQueueCloseEmpty(t *testing.T) {
	q := mail.NewQueue(failing{errors.New("never called")}, mail.QueueOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Close(ctx); err != nil {
		t.Errorf("Close = %v", err)
	}
}
