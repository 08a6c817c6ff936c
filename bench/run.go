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
		for _, name := range e.opts.stacks {
			st, _ := findStack(name)
			m, err := e.runStack(ctx, st, round)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return fmt.Errorf("round %d, stack %s: %w", round, name, err)
			}
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

// runStack starts the stack as a child process and measures its two
// phases: GET /me from signed-in clients, then POST /login from new ones.
func (e *runEnv) runStack(ctx context.Context, st stack, round int) (measurement, error) {
	var m measurement
	o := e.opts
	if err := e.redis.flush(ctx); err != nil {
		return m, err
	}
	ch, err := e.startChild(ctx, st, round)
	if err != nil {
		return m, err
	}
	defer ch.stop()
	base := "http://" + ch.addr
	pid := ch.cmd.Process.Pid

	// Sign the clients in, check that a session works, and warm up.
	meClients := newClients(0, o.conns)
	defer closeClients(meClients)
	if err := signIn(ctx, base, meClients, o.users, o.loginConns); err != nil {
		return m, ch.explain(err)
	}
	if status, _, err := meClients[0].do(meRequest(ctx, base)); err != nil || status != http.StatusOK {
		return m, ch.explain(fmt.Errorf("GET /me with a new session: status %d, error %v", status, err))
	}
	if o.warmup > 0 {
		hammer(ctx, meClients, o.warmup, meLoad(base, false))
	}

	// GET /me.
	before, err := e.snap(ctx, pid)
	if err != nil {
		return m, ch.explain(err)
	}
	ch.signal(syscall.SIGUSR1) // starts the CPU profile, with -profile
	me := hammer(ctx, meClients, o.duration, meLoad(base, true))
	ch.signal(syscall.SIGUSR2)
	after, err := e.snap(ctx, pid)
	if err != nil {
		return m, ch.explain(err)
	}
	rss, err := proc.RSSKB(pid)
	if err != nil {
		return m, ch.explain(err)
	}
	closeClients(meClients)
	if me.ok == 0 {
		return m, ch.explain(fmt.Errorf("no GET /me answered 200 (others: %v)", me.failed))
	}
	m.meRPS = me.perSecond()
	m.meP99 = float64(me.percentile(0.99)) / float64(time.Millisecond)
	m.meCPU = e.micros(after.app-before.app) / float64(me.ok)
	m.driverCPU = e.micros(after.driver-before.driver) / float64(me.ok)
	m.meRedis = float64(after.redis-before.redis-e.redis.own) / float64(me.ok)
	m.rssMB = float64(rss) / 1024
	m.meFailed = me.failed

	// POST /login.
	loginClients := newClients(o.conns, o.loginConns)
	defer closeClients(loginClients)
	before, err = e.snap(ctx, pid)
	if err != nil {
		return m, ch.explain(err)
	}
	login := hammer(ctx, loginClients, o.duration, loginLoad(base, o.users))
	after, err = e.snap(ctx, pid)
	if err != nil {
		return m, ch.explain(err)
	}
	m.loginRPS = login.perSecond()
	if login.ok > 0 {
		m.loginRedis = float64(after.redis-before.redis-e.redis.own) / float64(login.ok)
	}
	m.loginFailed = login.failed
	if ch.hasExited() {
		return m, ch.explain(fmt.Errorf("the stack exited during the run"))
	}
	return m, nil
}

// snapshot holds the counters read between phases.
type snapshot struct {
	app    int64 // the app's CPU ticks
	driver int64 // this process's CPU ticks
	redis  int64 // Redis's executed commands
}

// snap reads the counters.
func (e *runEnv) snap(ctx context.Context, pid int) (snapshot, error) {
	var s snapshot
	var err error
	if s.app, err = proc.CPUTicks(pid); err != nil {
		return s, err
	}
	if s.driver, err = proc.CPUTicks(os.Getpid()); err != nil {
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
