//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ginauth/ginauth/internal/testenv"
)

// openPTY opens a pseudo-terminal pair with the kernel's /dev/ptmx: the
// side a person types into (ptmx), and the terminal a command reads (pts).
func openPTY(t *testing.T) (ptmx, pts *os.File) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal", err.Error())
	}
	t.Cleanup(func() { _ = ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		testenv.Missing(t, "a pseudo-terminal", "unlocking it: "+err.Error())
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal", "naming it: "+err.Error())
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		testenv.Missing(t, "a pseudo-terminal", "opening it: "+err.Error())
	}
	t.Cleanup(func() { _ = pts.Close() })
	return ptmx, pts
}

// On a terminal, users create asks for the password on stderr, twice, and
// the terminal does not show it as it is typed.
func TestPasswordFromATerminalIsNotEchoed(t *testing.T) {
	env := map[string]string{"DATABASE_URL": filepath.Join(t.TempDir(), "x.db"), "SESSION_STORE": "gorm"}
	if r := runAdmin(t, env, "", "migrate"); r.code != exitOK {
		t.Fatalf("migrate: %+v", r)
	}
	ptmx, pts := openPTY(t)
	// What the terminal shows: everything the command's side echoes.
	var shown testenv.LogBuffer
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := ptmx.Read(buf)
			_, _ = shown.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	var stdout bytes.Buffer
	stderr := &testenv.LogBuffer{}
	done := make(chan int)
	go func() {
		done <- admin([]string{"users", "create", "tess"}, func(k string) string { return env[k] }, pts, &stdout, stderr)
	}()
	// Type the password after each prompt, as a person would.
	const password = "typed password 1"
	for i := range 2 {
		testenv.Eventually(t, "the prompt", func() bool { return strings.Count(stderr.String(), "Password for tess") > i })
		time.Sleep(50 * time.Millisecond) // let the command turn echo off before the keys arrive
		if _, err := ptmx.WriteString(password + "\r"); err != nil {
			t.Fatal(err)
		}
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("users create still waiting; stderr %q, terminal %q", stderr.String(), shown.String())
	}
	if code != exitOK || !strings.Contains(stdout.String(), `created user "tess"`) {
		t.Fatalf("users create on a terminal: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(shown.String(), "typed") {
		t.Errorf("the terminal showed the password: %q", shown.String())
	}
	srv := newAdminServer(t, env)
	if code, _ := srv.signIn("tess", password, "x"); code != 200 {
		t.Errorf("signing in with the typed password: %d", code)
	}
}
