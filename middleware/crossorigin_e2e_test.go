package middleware_test

// CrossOrigin as an application has it: on the prebuilt routes (through
// handlers.WithCrossOrigin) and on a route of its own, with a trusted origin.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/apptest"
)

func TestCrossOriginProtection(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0], func(c *apptest.Config) { c.Origins = []string{"https://app.example.com"} })
	a.Client(t).Register("tina", "tina's password")
	host := strings.TrimPrefix(a.Server.URL, "http://")
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"no browser headers (API client)", nil, http.StatusOK},
		{"same-origin fetch", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusOK},
		{"user-initiated navigation", []string{"Sec-Fetch-Site", "none"}, http.StatusOK},
		{"same origin by Origin", []string{"Origin", "http://" + host}, http.StatusOK},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site sibling", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"foreign Origin", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"trusted origin", []string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.Client(t)
			r := cl.Do("POST", "/login", apptest.Creds("tina", "tina's password"), tt.headers...)
			if r.Status != tt.status {
				t.Errorf("/login: %d %s, want %d", r.Status, r.Body, tt.status)
			}
			if tt.status == http.StatusForbidden && r.Code() != "cross_origin" {
				t.Errorf("code %q", r.Code())
			}
			if r := cl.Do("POST", "/app-action", nil, tt.headers...); r.Status != map[int]int{200: 204, 403: 403}[tt.status] {
				t.Errorf("the application's own route: %d", r.Status)
			}
		})
	}
	// Safe methods are never refused.
	cl := a.Client(t)
	cl.Login("tina", "tina's password")
	cl.Want(cl.Do("GET", "/me", nil, "Sec-Fetch-Site", "cross-site"), http.StatusOK, "")
}
