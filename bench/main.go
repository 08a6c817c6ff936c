// Command bench measures what ginauth costs an application, by serving the
// same login and GET /me routes with ginauth and with other stacks on one
// private Redis, and comparing throughput, CPU, Redis commands and memory.
//
// One command runs the whole comparison:
//
//	go run . -rounds 3 -duration 10s
//
// It starts a redis-server of its own on a free loopback port, then, for
// each round and each stack in a fixed order, runs the stack as a child
// process (this same binary with the serve subcommand, or node for the
// optional Express stack) so that the stack's CPU and memory are measured
// alone. The load driver in this process logs clients in, hammers GET /me
// with their session cookies, then hammers POST /login, reading the child's
// CPU time from /proc and Redis's command counts between phases. It prints a
// markdown table of the medians over the rounds and how ginauth compares.
//
// The stacks are listed in stacks.go and described in README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// options are the settings of a comparison run, from the command line.
type options struct {
	rounds      int
	duration    time.Duration
	slice       time.Duration
	warmup      time.Duration
	conns       int
	loginConns  int
	users       int
	stacks      []string
	redisServer string
	profile     string
}

// main runs the comparison, or, as "bench serve", one stack for it.
func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serveMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench serve:", err)
			os.Exit(1)
		}
		return
	}
	opts, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := compare(opts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// parseOptions reads the command line of a comparison run.
func parseOptions(args []string) (options, error) {
	var o options
	var stacks string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bench [flags]\n\nCompares ginauth with other session stacks on GET /me and POST /login.\n\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.rounds, "rounds", 3, "`number` of rounds; every stack runs once per round and the median is reported")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured phase (GET /me, then POST /login)")
	fs.DurationVar(&o.slice, "slice", time.Second, "length of one stack's turn: the stacks take turns, each measured phase cut into slices, so that a slowdown of the machine falls on all of them")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured GET /me load before the measured phase")
	fs.IntVar(&o.conns, "conns", 64, "concurrent keep-alive connections, each a signed-in client, for GET /me")
	fs.IntVar(&o.loginConns, "login-conns", 8, "concurrent connections for POST /login (and for signing the clients in)")
	fs.IntVar(&o.users, "users", 1000, "users in each stack's user map (clients and logins take them in turn)")
	fs.StringVar(&stacks, "stacks", strings.Join(stackNames(), ","), "comma-separated stacks to run, in this order")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "the redis-server program to start")
	fs.StringVar(&o.profile, "profile", "", "`directory` where each Go stack writes a CPU profile of its measured GET /me phase (STACK-rROUND.pprof)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.rounds < 1:
		return o, fmt.Errorf("-rounds must be at least 1")
	case o.duration <= 0:
		return o, fmt.Errorf("-duration must be positive")
	case o.slice <= 0:
		return o, fmt.Errorf("-slice must be positive")
	case o.warmup < 0:
		return o, fmt.Errorf("-warmup must not be negative")
	case o.conns < 1 || o.loginConns < 1:
		return o, fmt.Errorf("-conns and -login-conns must be at least 1")
	case o.users < o.loginConns:
		// More logins under way than users would put several on one
		// account at once, which ginauth's throttle counts against it.
		return o, fmt.Errorf("-users must be at least -login-conns")
	}
	for _, name := range strings.Split(stacks, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := findStack(name); !ok {
			return o, fmt.Errorf("unknown stack %q (known: %s)", name, strings.Join(stackNames(), ", "))
		}
		o.stacks = append(o.stacks, name)
	}
	if len(o.stacks) == 0 {
		return o, fmt.Errorf("no stack to run")
	}
	return o, nil
}
