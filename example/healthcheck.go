package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthcheckTimeout bounds the whole probe: under Compose's timeout (5 s),
// so that the command says why rather than being killed.
const healthcheckTimeout = 3 * time.Second

// healthcheck asks the running server that ADDR names for GET /healthz, for
// a container's health check (the image has no shell and no curl): it
// succeeds when the answer is 200. An ADDR on every interface (0.0.0.0, ::,
// or no host) is asked on 127.0.0.1. It reads ADDR alone and opens no
// store: /healthz says that the process serves HTTP, nothing more.
func healthcheck(r *adminRun, _ []string) error {
	addr := r.getenv("ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(r.ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return nil
}
