package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ginauth/ginauth/bench/internal/proc"
)

// runEnv is what every stack's run shares.
type runEnv struct {
	opts  options
	exe   string
	redis *redisServer
	// node is the installed node stack, nil when it does not run.
	node *nodeSetup
	// ticks is the unit of /proc's CPU times, per second.
	ticks int64
}

// measurement is what one stack measured in one round.
type measurement struct {
	meRPS       float64 // GET /me answered 200, per second
	meP99       float64 // p99 latency of GET /me, in ms
	meCPU       float64 // the app's CPU per GET /me, in µs
	meRedis     float64 // Redis commands per GET /me
	rssMB       float64 // the app's VmRSS at the end of the GET /me phase
	loginRPS    float64 // POST /login answered 200, per second
	loginRedis  float64 // Redis commands per successful POST /login
	driverCPU   float64 // the load driver's own CPU per GET /me, in µs
	redisCPU    float64 // redis-server's CPU per GET /me, in µs
	meFailed    map[int]int64
	loginFailed map[int]int64
}

// compare runs the whole comparison and prints its report on stdout;
// progress goes to stderr.
func compare(o options) error {
	// SIGPIPE too: when whoever reads the report goes away, stop and clean
	// up rather than die with the children and Redis's directory left.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	r, err := startRedis(o.redisServer)
	if err != nil {
		return err
	}
	defer r.stop()
	e := &runEnv{opts: o, exe: exe, redis: r, ticks: proc.ClockTicks()}
	progress("redis-server %s on %s", r.version, r.addr)

	if slices.Contains(o.stacks, nodeStackName) {
		progress("installing the node stack's packages with npm")
		n, err := setupNode(ctx)
		if err != nil {
			progress("skipping the node stack: %v", err)
			e.opts.stacks = slices.DeleteFunc(slices.Clone(o.stacks), func(s string) bool { return s == nodeStackName })
		} else {
			defer n.remove()
			e.node = n
			progress("node %s, with %s", n.version, n.bcrypt)
		}
	}
	if len(e.opts.stacks) == 0 {
		return fmt.Errorf("no stack to run")
	}

	results := map[string][]measurement{}
	for round := 1; round <= o.rounds; round++ {
		ms, err := e.runRound(ctx, round)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		for i, name := range e.opts.stacks {
			m := ms[i]
			progress("round %d/%d %-16s GET /me %8.0f req/s  %6.1f µs CPU/req  p99 %6.2f ms | login %6.1f/s",
				round, o.rounds, name, m.meRPS, m.meCPU, m.meP99, m.loginRPS)
			results[name] = append(results[name], m)
		}
	}
	writeReport(os.Stdout, e, results)
	return nil
}

// progress prints a line on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// running is one stack's child process during a round.
type running struct {
	st   stack
	ch   *child
	base string
	pid  int
}

// runRound measures every stack in one round. All the stacks run at once,
// each in its own child process, and take turns under load: every phase
// (GET /me from signed-in clients, then POST /login from new ones) is cut
// into slices of -slice, and each pass over the stacks gives each one
// slice, starting one stack further each pass. A slowdown of the machine
// that lasts seconds, which a shared VM has, thus falls on every stack
// alike instead of on whichever ran at the time.
func (e *runEnv) runRound(ctx context.Context, round int) ([]measurement, error) {
	o := e.opts
	if err := e.redis.flush(ctx); err != nil {
		return nil, err
	}
	rs := make([]*running, 0, len(o.stacks))
	defer func() {
		for _, r := range rs {
			r.ch.stop()
		}
	}()
	meClients := make([][]*client, len(o.stacks))
	defer func() {
		for _, cs := range meClients {
			closeClients(cs)
		}
	}()
	for i, name := range o.stacks {
		st, _ := findStack(name)
		ch, err := e.startChild(ctx, st, round)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r := &running{st: st, ch: ch, base: "http://" + ch.addr, pid: ch.cmd.Process.Pid}
		rs = append(rs, r)
		// Sign the clients in and check that a session works.
		meClients[i] = newClients(0, o.conns)
		if err := signIn(ctx, r.base, meClients[i], o.users, o.loginConns); err != nil {
			return nil, r.fail(err)
		}
		if status, _, err := meClients[i][0].do(meRequest(ctx, r.base)); err != nil || status != http.StatusOK {
			return nil, r.fail(fmt.Errorf("GET /me with a new session: status %d, error %v", status, err))
		}
	}
	if o.warmup > 0 {
		for i, r := range rs {
			hammer(ctx, meClients[i], o.warmup, meLoad(r.base, false))
		}
	}

	ms := make([]measurement, len(rs))
	for _, r := range rs {
		r.ch.signal(syscall.SIGUSR1) // starts the CPU profile, with -profile
	}
	me, err := e.interleave(ctx, rs, func(i int) ([]*client, load) { return meClients[i], meLoad(rs[i].base, true) })
	for _, r := range rs {
		r.ch.signal(syscall.SIGUSR2)
	}
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		rss, err := proc.RSSKB(r.pid)
		if err != nil {
			return nil, r.fail(err)
		}
		closeClients(meClients[i])
		p := me[i]
		if p.ok == 0 {
			return nil, r.fail(fmt.Errorf("no GET /me answered 200 (others: %v)", p.failed))
		}
		ms[i] = measurement{
			meRPS:     p.perSecond(),
			meP99:     float64(p.percentile(0.99)) / float64(time.Millisecond),
			meCPU:     e.micros(p.appTicks) / float64(p.ok),
			driverCPU: e.micros(p.driverTicks) / float64(p.ok),
			redisCPU:  e.micros(p.redisTicks) / float64(p.ok),
			meRedis:   float64(p.redis) / float64(p.ok),
			rssMB:     float64(rss) / 1024,
			meFailed:  p.failed,
		}
	}

	loginClients := make([][]*client, len(rs))
	for i := range rs {
		loginClients[i] = newClients(o.conns, o.loginConns)
		defer closeClients(loginClients[i])
	}
	login, err := e.interleave(ctx, rs, func(i int) ([]*client, load) { return loginClients[i], loginLoad(rs[i].base, o.users) })
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		p := login[i]
		ms[i].loginRPS = p.perSecond()
		if p.ok > 0 {
			ms[i].loginRedis = float64(p.redis) / float64(p.ok)
		}
		ms[i].loginFailed = p.failed
		if r.ch.hasExited() {
			return nil, r.fail(fmt.Errorf("the stack exited during the run"))
		}
	}
	return ms, nil
}

// fail names the stack and adds what its child printed to err.
func (r *running) fail(err error) error {
	return fmt.Errorf("%s: %w", r.st.name, r.ch.explain(err))
}

// measured is one stack's share of an interleaved phase: what the load
// driver saw over its slices, and the counters read around them.
type measured struct {
	phaseResult
	appTicks    int64 // the app's CPU over the whole phase
	driverTicks int64 // the driver's CPU during the stack's slices
	redisTicks  int64 // redis-server's CPU during the stack's slices
	redis       int64 // Redis commands during the stack's slices
}

// interleave runs one phase on every stack, -duration each, in turns of
// -slice; what(i) gives stack i's clients and load. A stack's app CPU is
// read once around the whole phase, since it is idle in the others'
// slices; the driver's CPU and Redis's commands are read around each
// slice, since they serve every stack.
func (e *runEnv) interleave(ctx context.Context, rs []*running, what func(i int) ([]*client, load)) ([]measured, error) {
	o := e.opts
	out := make([]measured, len(rs))
	appBefore := make([]int64, len(rs))
	for i, r := range rs {
		t, err := proc.CPUTicks(r.pid)
		if err != nil {
			return nil, r.fail(err)
		}
		appBefore[i] = t
		out[i].failed = map[int]int64{}
	}
	slice := min(o.slice, o.duration)
	loads := make([]load, len(rs))
	clients := make([][]*client, len(rs))
	for i := range rs {
		clients[i], loads[i] = what(i)
	}
	for pass, left := 0, o.duration; left > 0; pass, left = pass+1, left-slice {
		d := min(slice, left)
		for k := range rs {
			i := (pass + k) % len(rs)
			before, err := e.snap(ctx)
			if err != nil {
				return nil, err
			}
			p := hammer(ctx, clients[i], d, loads[i])
			after, err := e.snap(ctx)
			if err != nil {
				return nil, err
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			m := &out[i]
			m.add(p)
			m.driverTicks += after.driver - before.driver
			m.redisTicks += after.redisCPU - before.redisCPU
			m.redis += after.redis - before.redis - e.redis.own
		}
	}
	for i, r := range rs {
		t, err := proc.CPUTicks(r.pid)
		if err != nil {
			return nil, r.fail(err)
		}
		out[i].appTicks = t - appBefore[i]
		slices.Sort(out[i].latencies)
	}
	return out, nil
}

// snapshot holds the counters read around a slice.
type snapshot struct {
	driver   int64 // this process's CPU ticks
	redisCPU int64 // redis-server's CPU ticks
	redis    int64 // Redis's executed commands
}

// snap reads the counters.
func (e *runEnv) snap(ctx context.Context) (snapshot, error) {
	var s snapshot
	var err error
	if s.driver, err = proc.CPUTicks(os.Getpid()); err != nil {
		return s, err
	}
	if s.redisCPU, err = proc.CPUTicks(e.redis.cmd.Process.Pid); err != nil {
		return s, err
	}
	if s.redis, err = e.redis.commands(ctx); err != nil {
		return s, fmt.Errorf("reading Redis's command counts: %w", err)
	}
	return s, nil
}

// micros converts clock ticks to microseconds.
func (e *runEnv) micros(ticks int64) float64 {
	return float64(ticks) * 1e6 / float64(e.ticks)
}

// child is a stack running as a child process.
type child struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	log    *proc.TailBuffer
	// profiled: the child profiles its CPU between SIGUSR1 and SIGUSR2.
	profiled bool
}

// signal sends sig to a child that profiles, and gives it a moment to act
// on it (the load has not started, or has ended, meanwhile).
func (ch *child) signal(sig syscall.Signal) {
	if ch.profiled && ch.cmd.Process.Signal(sig) == nil {
		time.Sleep(100 * time.Millisecond)
	}
}

// startChild starts the stack on a free loopback port, and waits until it
// answers HTTP.
func (e *runEnv) startChild(ctx context.Context, st stack, round int) (*child, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	ch := &child{addr: "127.0.0.1:" + strconv.Itoa(port), log: proc.NewTailBuffer(8192), exited: make(chan struct{})}
	if st.handler == nil {
		ch.cmd = e.node.command(ch.addr, e.redis.addr, e.opts.users)
	} else {
		ch.cmd = exec.Command(e.exe, "serve", "-stack", st.name, "-addr", ch.addr,
			"-redis", e.redis.addr, "-users", strconv.Itoa(e.opts.users))
		if e.opts.profile != "" {
			ch.cmd.Args = append(ch.cmd.Args, "-cpuprofile", filepath.Join(e.opts.profile, fmt.Sprintf("%s-r%d.pprof", st.name, round)))
			ch.profiled = true
		}
	}
	ch.cmd.Stdout, ch.cmd.Stderr = ch.log, ch.log
	ch.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := ch.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = ch.cmd.Wait(); close(ch.exited) }()
	if err := ch.waitReady(ctx, 60*time.Second); err != nil {
		ch.stop()
		return nil, ch.explain(err)
	}
	return ch, nil
}

// waitReady waits until the child answers GET /me, whatever the status.
func (ch *child) waitReady(ctx context.Context, limit time.Duration) error {
	probe := &http.Client{Timeout: time.Second}
	defer probe.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for {
		if ch.hasExited() {
			return fmt.Errorf("the stack exited at start-up")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ch.addr+"/me", nil)
		if resp, err := probe.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the stack did not answer within %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasExited reports whether the child has ended.
func (ch *child) hasExited() bool {
	select {
	case <-ch.exited:
		return true
	default:
		return false
	}
}

// stop ends the child.
func (ch *child) stop() { proc.Stop(ch.cmd.Process, ch.exited, 5*time.Second) }

// explain adds what the child printed to err.
func (ch *child) explain(err error) error {
	return fmt.Errorf("%w\nthe stack's output:\n%s", err, ch.log.String())
}
