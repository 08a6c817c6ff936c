package metrics

import "github.com/prometheus/client_golang/prometheus"

// invalidationMetrics follow the link of auth.Config.UserCache.Invalidation.
// Both series appear at the first report, so that an application without
// a shared invalidation exports neither (and no alert fires on a link it
// does not have), and a counter exists at 0 before its first loss.
type invalidationMetrics struct {
	listening *prometheus.GaugeVec
	losses    *prometheus.CounterVec
}

func newInvalidationMetrics(ns string) invalidationMetrics {
	return invalidationMetrics{
		listening: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Name: "user_invalidation_listening",
			Help: "1 while this instance listens for the user invalidations of other instances (Config.UserCache.Invalidation), 0 while its link is down: it then hears of changed users only as its cache entries expire.",
		}, nil),
		losses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "user_invalidation_losses_total",
			Help: "Times the user invalidation link was lost (or could not be made at start); invalidations sent meanwhile never reach this instance.",
		}, nil),
	}
}

func (i *invalidationMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{i.listening, i.losses}
}

// UserInvalidationListening implements auth.InvalidationMetrics: it sets
// user_invalidation_listening to 1 or 0, and counts each loss in
// user_invalidation_losses_total.
func (m *Metrics) UserInvalidationListening(listening bool) {
	losses := m.invalidation.losses.WithLabelValues()
	if listening {
		m.invalidation.listening.WithLabelValues().Set(1)
		return
	}
	m.invalidation.listening.WithLabelValues().Set(0)
	losses.Inc()
}
