package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// nodeStackName is the name of the optional Express stack.
const nodeStackName = "node"

// nodeServer is the Express application of the node stack.
//
//go:embed node/server.cjs
var nodeServer []byte

// nodePackages are the node stack's packages, at the major versions that
// run on Node 20. bcrypt ships prebuilt binaries; when it cannot be
// installed the pure JavaScript bcryptjs takes its place.
var (
	nodePackages = []string{"express@5", "express-session@1", "passport@0.7", "passport-local@1", "connect-redis@9", "redis@5"}
	nodeBcrypt   = []string{"bcrypt@6", "bcryptjs@3"}
)

// nodeSetup is the node stack, installed in a temporary directory.
type nodeSetup struct {
	dir     string
	node    string
	version string
	bcrypt  string
}

// setupNode installs the node stack's packages into a new temporary
// directory with npm, and says which bcrypt the server will load. It fails
// when node or npm is missing or the installation fails.
func setupNode(ctx context.Context) (*nodeSetup, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not installed")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, errors.New("npm is not installed")
	}
	version, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %w", err)
	}
	dir, err := os.MkdirTemp("", "ginauth-bench-node-")
	if err != nil {
		return nil, err
	}
	s := &nodeSetup{dir: dir, node: node, version: strings.TrimSpace(string(version))}
	if err := s.install(ctx, npm); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

// install writes the server and installs its packages, trying each bcrypt
// in turn.
func (s *nodeSetup) install(ctx context.Context, npm string) error {
	if err := os.WriteFile(filepath.Join(s.dir, "package.json"), []byte(`{"private": true, "name": "ginauth-bench-node"}`+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "server.cjs"), nodeServer, 0o644); err != nil {
		return err
	}
	var failures []string
	for _, b := range nodeBcrypt {
		name, err := s.installWith(ctx, npm, b)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		s.bcrypt = name
		return nil
	}
	return errors.New(strings.Join(failures, "; "))
}

// installWith installs the packages and bcrypt package b (name@version),
// and checks that it loads. It returns b's name.
func (s *nodeSetup) installWith(ctx context.Context, npm, b string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	args := append([]string{"install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"}, nodePackages...)
	cmd := exec.CommandContext(ctx, npm, append(args, b)...)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install with %s: %w: %s", b, err, lastLines(string(out), 5))
	}
	name, _, _ := strings.Cut(b, "@")
	check := exec.CommandContext(ctx, s.node, "-e", `require(process.argv[1]).hashSync("x", 4)`, name)
	check.Dir = s.dir
	if out, err := check.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s does not load: %w: %s", name, err, lastLines(string(out), 5))
	}
	return name, nil
}

// command returns the command that serves the node stack on addr.
func (s *nodeSetup) command(addr, redisAddr string, users int) *exec.Cmd {
	cmd := exec.Command(s.node, "server.cjs")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(),
		"NODE_ENV=production",
		"BENCH_ADDR="+addr,
		"BENCH_REDIS="+redisAddr,
		fmt.Sprintf("BENCH_USERS=%d", users),
		"BENCH_PASSWORD="+benchPassword,
	)
	return cmd
}

// remove deletes the temporary directory and its packages.
func (s *nodeSetup) remove() { _ = os.RemoveAll(s.dir) }

// lastLines returns the last n lines of s, on one line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}
