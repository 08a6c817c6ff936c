package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// hashMetrics follow the bcrypt slots (auth.Config.Passwords.MaxConcurrentHashes).
type hashMetrics struct {
	inFlight prometheus.Gauge
	wait     prometheus.Histogram
	busy     prometheus.Counter
}

// hashWaitBuckets span a free slot (0, in the first bucket) to past the
// default HashQueueTimeout of 2 s, in seconds.
var hashWaitBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5}

func newHashMetrics(ns string) hashMetrics {
	return hashMetrics{
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "bcrypt_in_flight",
			Help: "bcrypt computations running now (at most Config.Passwords.MaxConcurrentHashes).",
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "bcrypt_queue_wait_seconds",
			Help:    "How long a bcrypt computation waited for a slot before it started (0 when one was free).",
			Buckets: hashWaitBuckets,
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "bcrypt_busy_total",
			Help: "Requests turned away busy because no bcrypt slot was free in time (Config.Passwords.HashQueueTimeout), or the client left while waiting.",
		}),
	}
}

func (h *hashMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{h.inFlight, h.wait, h.busy}
}

// HashStarted implements auth.Metrics: a bcrypt computation took a slot
// after waiting wait. It adds one to bcrypt_in_flight and observes wait in
// bcrypt_queue_wait_seconds.
func (m *Metrics) HashStarted(wait time.Duration) {
	m.hashes.inFlight.Inc()
	m.hashes.wait.Observe(wait.Seconds())
}

// HashDone implements auth.Metrics: a bcrypt computation gave its slot
// back. It takes one from bcrypt_in_flight.
func (m *Metrics) HashDone() { m.hashes.inFlight.Dec() }

// HashBusy implements auth.Metrics: a request found no bcrypt slot in time.
// It adds one to bcrypt_busy_total.
func (m *Metrics) HashBusy() { m.hashes.busy.Inc() }
