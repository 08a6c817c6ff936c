package e2e

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// exampleBinary is the example app, built once for the whole run.
var exampleBinary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ginauth-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	exampleBinary = filepath.Join(dir, "example")
	build := exec.Command("go", "build", "-o", exampleBinary, "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the example app: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// instance is one process of the example app.
type instance struct {
	t    testing.TB
	name string
	env  map[string]string
	addr string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// startInstance starts the example app with env (plus ADDR on a free
// port) and waits until it answers.
func startInstance(t testing.TB, name string, env map[string]string) *instance {
	t.Helper()
	in := &instance{t: t, name: name, env: env, addr: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	in.start()
	t.Cleanup(func() { in.kill() })
	return in
}

func (in *instance) start() {
	in.t.Helper()
	cmd := exec.Command(exampleBinary)
	cmd.Env = append(os.Environ(), "ADDR="+in.addr, "GIN_MODE=release")
	for k, v := range in.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	in.out = newTail(64 << 10)
	cmd.Stdout, cmd.Stderr = in.out, in.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		in.t.Fatalf("%s: starting the example app: %v", in.name, err)
	}
	in.cmd, in.done, in.err = cmd, make(chan struct{}), nil
	go func() { in.err = cmd.Wait(); close(in.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-in.done:
			in.t.Fatalf("%s exited at start-up (%v):\n%s", in.name, in.err, in.out)
		default:
		}
		if res, err := http.Get(in.url("/me")); err == nil {
			res.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%s did not answer within 30s:\n%s", in.name, in.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

// restart stops the instance gracefully and starts it again on the same
// address with env changed by change.
func (in *instance) restart(change map[string]string) {
	in.t.Helper()
	in.stop()
	env := make(map[string]string, len(in.env))
	for k, v := range in.env {
		env[k] = v
	}
	for k, v := range change {
		env[k] = v
	}
	in.env = env
	in.start()
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	if err := in.terminate(); err != nil {
		in.t.Fatalf("%s: %v\n%s", in.name, err, in.out)
	}
}

// terminate sends SIGTERM and returns how the process ended: nil for a
// clean exit within 20 seconds.
func (in *instance) terminate() error {
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
		if in.err != nil {
			return fmt.Errorf("exited after SIGTERM with %v", in.err)
		}
		return nil
	case <-time.After(20 * time.Second):
		in.kill()
		return errors.New("still running 20s after SIGTERM")
	}
}

func (in *instance) kill() {
	if in.cmd != nil && in.cmd.Process != nil {
		_ = in.cmd.Process.Kill()
		<-in.done
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail keeps the last bytes a process wrote, for failure messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

// contains reports whether the process wrote s (in what is kept).
func (t *tail) contains(s string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Contains(t.buf, []byte(s))
}
