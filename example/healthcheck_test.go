package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
)

// healthcheck exits 0 when the server that ADDR names answers GET /healthz
// with 200 (an ADDR on every interface is asked on loopback), and 1, with
// one line saying why, when nothing listens there or it answers otherwise.
func TestHealthcheckCommand(t *testing.T) {
	_, srv, _ := testApp(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	cases := []struct {
		addr string
		code int
		says string
	}{
		{srv.Listener.Addr().String(), exitOK, ""},
		{"0.0.0.0:" + strconv.Itoa(port), exitOK, ""},
		{":" + strconv.Itoa(port), exitOK, ""},
		{"[::]:" + strconv.Itoa(port), exitOK, ""},
		{testenv.ClosedAddr(t), exitFailed, "connection refused"},
		{sick.Listener.Addr().String(), exitFailed, "503"},
	}
	for _, c := range cases {
		r := runAdmin(t, map[string]string{"ADDR": c.addr}, "", "healthcheck")
		if r.code != c.code || r.stdout != "" || (c.code != exitOK && (strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.says))) {
			t.Errorf("ADDR=%s: %+v, want exit %d saying %q", c.addr, r, c.code, c.says)
		}
	}
}
