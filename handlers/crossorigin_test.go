package handlers_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCrossOriginProtection(t *testing.T) {
	a := newEnv(t, backends[0], func(c *authConfig) { c.origins = []string{"https://app.example.com"} })
	a.client(t).register("tina", "tina's password")
	host := strings.TrimPrefix(a.srv.URL, "http://")
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
			cl := a.client(t)
			r := cl.do("POST", "/login", creds("tina", "tina's password"), tt.headers...)
			if r.status != tt.status {
				t.Errorf("/login: %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status == http.StatusForbidden && r.code() != "cross_origin" {
				t.Errorf("code %q", r.code())
			}
			if r := cl.do("POST", "/app-action", nil, tt.headers...); r.status != map[int]int{200: 204, 403: 403}[tt.status] {
				t.Errorf("the application's own route: %d", r.status)
			}
		})
	}
	// Safe methods are never refused.
	cl := a.client(t)
	cl.login("tina", "tina's password")
	cl.want(cl.do("GET", "/me", nil, "Sec-Fetch-Site", "cross-site"), http.StatusOK, "")
}
