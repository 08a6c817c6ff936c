package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ginauth/ginauth/auth"
)

// Options configures New. The zero value registers the metrics, named
// ginauth_*, on prometheus.DefaultRegisterer.
type Options struct {
	// Registerer is where New registers the metrics. Default
	// prometheus.DefaultRegisterer (what promhttp.Handler serves).
	Registerer prometheus.Registerer

	// Namespace is the first part of every metric name. Default "ginauth".
	Namespace string

	// Providers are the names of the application's sign-in providers
	// (auth/oauth's Provider.Name): the fixed set of values of
	// ginauth_provider_logins_total's provider label. Sign-ins with a
	// provider not named here count in no series.
	Providers []string
}

// Metrics holds ginauth's Prometheus metrics and feeds them from the hooks
// of the auth package: it is the auth.Metrics of Config.Metrics, OnEvent
// wraps Config.OnEvent, and Store wraps Config.Store. It is also the
// mail.QueueMetrics of a mail queue (mail.QueueOptions.Metrics), and a
// prometheus.Collector of all of them. Make one with New (the zero value
// is not usable); every method is safe for concurrent use.
type Metrics struct {
	events eventMetrics
	hashes hashMetrics
	cache  cacheMetrics
	stores storeMetrics

	invalidation invalidationMetrics
	mail         mailMetrics
}

var _ auth.InvalidationMetrics = (*Metrics)(nil)

// New makes the metrics and registers them, all or none, on
// opts.Registerer. It fails when that registry already holds metrics of the
// same names: make one Metrics per registry and share it between Auths.
func New(opts Options) (*Metrics, error) {
	if opts.Registerer == nil {
		opts.Registerer = prometheus.DefaultRegisterer
	}
	if opts.Namespace == "" {
		opts.Namespace = "ginauth"
	}
	m := &Metrics{
		events: newEventMetrics(opts.Namespace, opts.Providers),
		hashes: newHashMetrics(opts.Namespace),
		cache:  newCacheMetrics(opts.Namespace),
		stores: newStoreMetrics(opts.Namespace),

		invalidation: newInvalidationMetrics(opts.Namespace),
		mail:         newMailMetrics(opts.Namespace),
	}
	if err := opts.Registerer.Register(m); err != nil {
		return nil, fmt.Errorf("metrics: registering ginauth's metrics: %w", err)
	}
	return m, nil
}

// collectors are every collector that m is made of.
func (m *Metrics) collectors() []prometheus.Collector {
	var cs []prometheus.Collector
	cs = append(cs, m.events.collectors()...)
	cs = append(cs, m.hashes.collectors()...)
	cs = append(cs, m.cache.collectors()...)
	cs = append(cs, m.stores.collectors()...)
	cs = append(cs, m.invalidation.collectors()...)
	cs = append(cs, m.mail.collectors()...)
	return cs
}

// Describe sends the descriptions of every metric of m, as
// prometheus.Collector asks.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect sends the current value of every metric of m, as
// prometheus.Collector asks.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}
