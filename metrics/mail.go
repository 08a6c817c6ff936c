package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ginauth/ginauth/mail"
)

// mailKindOther is the kind label of a mail of a kind the library does
// not send (one of the application's own).
const mailKindOther = "other"

// mailResults are the values of the result label of mail_total, in order.
var mailResults = []mail.Result{
	mail.ResultQueued, mail.ResultSent, mail.ResultRetried, mail.ResultFailed, mail.ResultDropped, mail.ResultLost,
}

// mailMetrics follow a mail.Queue. Their series appear at the queue's
// first report (NewQueue reports its depth), all of them at zero, so that
// an application without a mail queue exports none.
type mailMetrics struct {
	total *prometheus.CounterVec
	depth *prometheus.GaugeVec

	once   sync.Once
	series map[string]map[mail.Result]prometheus.Counter // kind, result; read-only after once
	gauge  prometheus.Gauge
}

func newMailMetrics(ns string) mailMetrics {
	return mailMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "mail_total",
			Help: "Mails by kind (the library's kinds, other for the application's own) and result: queued (accepted by the queue), sent (accepted by the mail server), retried (an attempt failed, another follows), failed (every attempt failed, or the server refused for good), dropped (refused: the queue was full), lost (still queued when the queue closed).",
		}, []string{"kind", "result"}),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "mail_queue_depth",
			Help: "Mails the queue holds: waiting, being sent, or waiting for a retry. A crash loses them.",
		}, nil),
	}
}

func (mm *mailMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{mm.total, mm.depth}
}

// init makes every series, at zero, at the first report.
func (mm *mailMetrics) init() {
	mm.once.Do(func() {
		mm.series = make(map[string]map[mail.Result]prometheus.Counter)
		for _, kind := range append(mail.Kinds(), mailKindOther) {
			byResult := make(map[mail.Result]prometheus.Counter, len(mailResults))
			for _, r := range mailResults {
				byResult[r] = mm.total.WithLabelValues(kind, string(r))
			}
			mm.series[kind] = byResult
		}
		mm.gauge = mm.depth.WithLabelValues()
	})
}

// MailResult implements mail.QueueMetrics: it adds one to
// mail_total{kind,result}. A kind the library does not send counts as
// "other", and a result it does not know counts nowhere, so that labels
// keep their fixed sets of values.
func (m *Metrics) MailResult(kind string, r mail.Result) {
	m.mail.init()
	byResult, ok := m.mail.series[kind]
	if !ok {
		byResult = m.mail.series[mailKindOther]
	}
	if c, ok := byResult[r]; ok {
		c.Inc()
	}
}

// MailQueueDepth implements mail.QueueMetrics: it sets mail_queue_depth.
func (m *Metrics) MailQueueDepth(depth int) {
	m.mail.init()
	m.mail.gauge.Set(float64(depth))
}

var _ mail.QueueMetrics = (*Metrics)(nil)
