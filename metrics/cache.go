package metrics

import "github.com/prometheus/client_golang/prometheus"

// cacheMetrics count the lookups of the user cache (auth.Config.UserCache.Size).
type cacheMetrics struct {
	lookups   *prometheus.CounterVec
	hit, miss prometheus.Counter
}

func newCacheMetrics(ns string) cacheMetrics {
	c := cacheMetrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "user_cache_lookups_total",
			Help: "Lookups of the cache of users that signed-in requests resolve their user from, by result: hit (no user store query) or miss.",
		}, []string{"result"}),
	}
	c.hit = c.lookups.WithLabelValues("hit")
	c.miss = c.lookups.WithLabelValues("miss")
	return c
}

func (c *cacheMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.lookups}
}

// UserCacheLookup implements auth.Metrics: it adds one to
// user_cache_lookups_total{result="hit"} or {result="miss"}.
func (m *Metrics) UserCacheLookup(hit bool) {
	if hit {
		m.cache.hit.Inc()
	} else {
		m.cache.miss.Inc()
	}
}
