package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"

	"github.com/ginauth/ginauth/bench/internal/proc"
)

// writeReport prints the machine, the settings, the table of medians and
// how ginauth compares, in markdown.
func writeReport(w io.Writer, e *runEnv, results map[string][]measurement) {
	o := e.opts
	fmt.Fprintf(w, "## ginauth compared: medians of %d round(s)\n\n", o.rounds)
	node := ""
	if e.node != nil {
		node = fmt.Sprintf("; node %s with %s", e.node.version, e.node.bcrypt)
	}
	fmt.Fprintf(w, "machine: %s, %d cores, %s/%s; %s; redis-server %s%s\n",
		proc.CPUModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), e.redis.version, node)
	fmt.Fprintf(w, "settings: GET /me from %d connections (%s warm-up, then %s), POST /login from %d connections (%s); %d users; bcrypt cost %d; the stacks run at once and take turns of %s under load, in the order %s, starting one further each pass, in each of %d round(s)\n\n",
		o.conns, o.warmup, o.duration, o.loginConns, o.duration, o.users, bcryptCost, min(o.slice, o.duration), strings.Join(e.opts.stacks, ", "), o.rounds)

	med := map[string]measurement{}
	fmt.Fprintln(w, "| stack | GET /me req/s | GET /me p99 ms | app CPU µs/req | Redis cmds/req | RSS MB | login/s | Redis cmds/login |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, name := range e.opts.stacks {
		ms := results[name]
		if len(ms) == 0 {
			continue
		}
		m := medianOf(ms)
		med[name] = m
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.1f | %.2f | %.1f | %.1f | %.2f |\n",
			name, m.meRPS, m.meP99, m.meCPU, m.meRedis, m.rssMB, m.loginRPS, m.loginRedis)
	}
	fmt.Fprintln(w)

	if g, ok := med["ginauth"]; ok {
		var parts []string
		if f, ok := med["floor"]; ok {
			parts = append(parts, fmt.Sprintf("%.0f%% of floor's req/s", 100*g.meRPS/f.meRPS))
		}
		if c, ok := med["gincontrib"]; ok {
			parts = append(parts, fmt.Sprintf("%.2f× gincontrib's", g.meRPS/c.meRPS))
		}
		if n, ok := med[nodeStackName]; ok {
			parts = append(parts, fmt.Sprintf("%.2f× node's", g.meRPS/n.meRPS))
		}
		if f, ok := med["floor"]; ok {
			parts = append(parts, fmt.Sprintf("app CPU per request %.2f× floor's", g.meCPU/f.meCPU))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "ginauth GET /me: %s.\n", strings.Join(parts, ", "))
		}
		var logins []string
		if a, ok := med["ginauth-allcores"]; ok && g.loginRPS > 0 {
			logins = append(logins, fmt.Sprintf("ginauth-allcores %.2f× ginauth (which keeps half the cores for signed-in requests)", a.loginRPS/g.loginRPS))
			if c, ok := med["gincontrib"]; ok && c.loginRPS > 0 {
				logins = append(logins, fmt.Sprintf("%.2f× gincontrib", a.loginRPS/c.loginRPS))
			}
		}
		if len(logins) > 0 {
			fmt.Fprintf(w, "login/s: %s.\n", strings.Join(logins, ", "))
		}
	}

	var shared []string
	for _, name := range e.opts.stacks {
		if m, ok := med[name]; ok {
			shared = append(shared, fmt.Sprintf("%s %.1f + %.1f + %.1f = %.1f", name, m.meCPU, m.driverCPU, m.redisCPU, m.meCPU+m.driverCPU+m.redisCPU))
		}
	}
	fmt.Fprintf(w, "CPU per GET /me on the %d shared cores, in µs, app + load driver + redis-server: %s. The cores busy, req/s is about %d×10⁶ over that sum: the driver's and Redis's share is what narrows the req/s ratios against the CPU ratios.\n",
		runtime.NumCPU(), strings.Join(shared, "; "), runtime.NumCPU())
	fmt.Fprintf(w, "answers other than 200, over all rounds: %s.\n", failures(e.opts.stacks, results))
}

// medianOf returns the median of each figure over the rounds, and the
// failures of all rounds added up.
func medianOf(ms []measurement) measurement {
	pick := func(f func(measurement) float64) float64 {
		xs := make([]float64, len(ms))
		for i, m := range ms {
			xs[i] = f(m)
		}
		return median(xs)
	}
	m := measurement{
		meRPS:       pick(func(m measurement) float64 { return m.meRPS }),
		meP99:       pick(func(m measurement) float64 { return m.meP99 }),
		meCPU:       pick(func(m measurement) float64 { return m.meCPU }),
		meRedis:     pick(func(m measurement) float64 { return m.meRedis }),
		rssMB:       pick(func(m measurement) float64 { return m.rssMB }),
		loginRPS:    pick(func(m measurement) float64 { return m.loginRPS }),
		loginRedis:  pick(func(m measurement) float64 { return m.loginRedis }),
		driverCPU:   pick(func(m measurement) float64 { return m.driverCPU }),
		redisCPU:    pick(func(m measurement) float64 { return m.redisCPU }),
		meFailed:    map[int]int64{},
		loginFailed: map[int]int64{},
	}
	for _, r := range ms {
		for s, n := range r.meFailed {
			m.meFailed[s] += n
		}
		for s, n := range r.loginFailed {
			m.loginFailed[s] += n
		}
	}
	return m
}

// median returns the middle value of xs, or the mean of the two middle
// ones.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// failures lists the answers other than 200 per stack and route, "none"
// when there were none. Status 0 stands for a transport error.
func failures(order []string, results map[string][]measurement) string {
	var out []string
	for _, name := range order {
		var me, login map[int]int64
		for _, m := range results[name] {
			me = addCounts(me, m.meFailed)
			login = addCounts(login, m.loginFailed)
		}
		for _, route := range []struct {
			name   string
			counts map[int]int64
		}{{"GET /me", me}, {"POST /login", login}} {
			for _, status := range slices.Sorted(maps.Keys(route.counts)) {
				what := fmt.Sprintf("status %d", status)
				if status == 0 {
					what = "transport error"
				}
				out = append(out, fmt.Sprintf("%s %s %s ×%d", name, route.name, what, route.counts[status]))
			}
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// addCounts adds b's counts to a, making a when it is nil.
func addCounts(a, b map[int]int64) map[int]int64 {
	if a == nil {
		a = map[int]int64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}
