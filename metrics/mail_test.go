package metrics_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/mail/smtpmail"
)

// The mail series appear at a queue's first report, every one at zero:
// an application without a mail queue exports none.
func TestMailSeriesAppearAtFirstReport(t *testing.T) {
	m, reg := newMetrics(t)
	if n, err := testutil.GatherAndCount(reg, "ginauth_mail_total", "ginauth_mail_queue_depth"); err != nil || n != 0 {
		t.Fatalf("before any report: %d series (%v), want none", n, err)
	}
	m.MailQueueDepth(0) // what NewQueue reports
	kinds, results := len(mail.Kinds())+1, 6
	if n, err := testutil.GatherAndCount(reg, "ginauth_mail_total"); err != nil || n != kinds*results {
		t.Errorf("%d series of ginauth_mail_total (%v), want %d", n, err, kinds*results)
	}
	if n, err := testutil.GatherAndCount(reg, "ginauth_mail_queue_depth"); err != nil || n != 1 {
		t.Errorf("%d series of ginauth_mail_queue_depth (%v), want 1", n, err)
	}
	for name, v := range snapshot(t, reg) {
		if strings.HasPrefix(name, "ginauth_mail") && v != 0 {
			t.Errorf("%s = %v at start", name, v)
		}
	}
	checkLabels(t, reg)
	problems, err := testutil.GatherAndLint(reg, "ginauth_mail_total", "ginauth_mail_queue_depth")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// Each result moves its series, and no other.
func TestMailResultCounts(t *testing.T) {
	cases := []struct {
		kind   string
		result mail.Result
		want   map[string]float64
	}{
		{mail.KindPasswordReset, mail.ResultQueued, map[string]float64{"ginauth_mail_total{kind=password_reset,result=queued}": 1}},
		{mail.KindEmailVerify, mail.ResultSent, map[string]float64{"ginauth_mail_total{kind=email_verify,result=sent}": 1}},
		{mail.KindNoticeNewSignIn, mail.ResultRetried, map[string]float64{"ginauth_mail_total{kind=notice_new_sign_in,result=retried}": 1}},
		{mail.KindNoticeLocked, mail.ResultFailed, map[string]float64{"ginauth_mail_total{kind=notice_locked,result=failed}": 1}},
		{mail.KindEmailChanged, mail.ResultDropped, map[string]float64{"ginauth_mail_total{kind=email_changed,result=dropped}": 1}},
		{mail.KindEmailTaken, mail.ResultLost, map[string]float64{"ginauth_mail_total{kind=email_taken,result=lost}": 1}},
		// The application's own kinds, and what the metrics do not know,
		// keep the labels' fixed sets.
		{"invoice", mail.ResultSent, map[string]float64{"ginauth_mail_total{kind=other,result=sent}": 1}},
		{"mia@example.org", mail.ResultSent, map[string]float64{"ginauth_mail_total{kind=other,result=sent}": 1}},
		{mail.KindPasswordReset, "bounced", map[string]float64{}},
	}
	for _, tc := range cases {
		t.Run(tc.kind+"/"+string(tc.result), func(t *testing.T) {
			m, reg := newMetrics(t)
			m.MailQueueDepth(0)
			before := snapshot(t, reg)
			m.MailResult(tc.kind, tc.result)
			if got := moved(before, snapshot(t, reg)); !maps.Equal(got, tc.want) {
				t.Errorf("moved:\n%s\nwant:\n%s", describe(got), describe(tc.want))
			}
			checkLabels(t, reg, "mia@", "example.org")
		})
	}
}

// A queue in front of a real SMTP server feeds the metrics: one 451, then
// both mails delivered.
func TestMailMetricsOfAQueue(t *testing.T) {
	m, reg := newMetrics(t)
	srv := testenv.StartSMTPServer(t)
	s, err := smtpmail.New(smtpmail.Options{URL: srv.URL(), From: "no-reply@app.example"})
	if err != nil {
		t.Fatal(err)
	}
	q := mail.NewQueue(s, mail.QueueOptions{Metrics: m, Workers: 1, Backoff: 1})
	srv.FailNext(1)
	for _, to := range []string{"a@example.org", "b@example.org"} {
		if err := q.Send(context.Background(), &mail.Message{To: to, Subject: "s", Text: "t", Kind: mail.KindEmailVerify}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Wait(t, 2)
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := snapshot(t, reg)
	for series, want := range map[string]float64{
		"ginauth_mail_total{kind=email_verify,result=queued}":  2,
		"ginauth_mail_total{kind=email_verify,result=sent}":    2,
		"ginauth_mail_total{kind=email_verify,result=retried}": 1,
		"ginauth_mail_total{kind=email_verify,result=failed}":  0,
		"ginauth_mail_queue_depth":                             0,
	} {
		if got, ok := s2[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
}
