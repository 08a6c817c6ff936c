package session

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore/memstore"
)

func validConfig() Config {
	return Config{
		Store:   memstore.New(memstore.Options{SweepInterval: -1}),
		Secrets: [][]byte{[]byte("session-test-secret-0123456789abcdef")},
	}
}

// The cookie is named __Host-sid whenever it can be, unless the
// application opts out.
func TestCookieWireName(t *testing.T) {
	tests := []struct {
		name   string
		cookie Cookie
		want   string
	}{
		{"zero value", Cookie{}, "sid"},
		{"Secure", Cookie{Secure: true}, "__Host-sid"},
		{"Secure, own name", Cookie{Secure: true, Name: "app"}, "__Host-app"},
		{"Secure, Path /", Cookie{Secure: true, Path: "/"}, "__Host-sid"},
		{"Secure, Domain", Cookie{Secure: true, Domain: "example.com"}, "sid"},
		{"Secure, Path /app", Cookie{Secure: true, Path: "/app"}, "sid"},
		{"Secure, opted out", Cookie{Secure: true, HostPrefix: HostPrefixOff}, "sid"},
		{"required", Cookie{Secure: true, HostPrefix: HostPrefixRequired}, "__Host-sid"},
		{"__Secure- name", Cookie{Secure: true, Name: "__Secure-sid"}, "__Secure-sid"},
		{"__Secure- name, Domain", Cookie{Secure: true, Name: "__Secure-sid", Domain: "example.com"}, "__Secure-sid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.Cookie = tt.cookie
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.CookieName(); got != tt.want {
				t.Errorf("cookie name %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no store", func(c *Config) { c.Store = nil }},
		{"no secret", func(c *Config) { c.Secrets = nil }},
		{"short secret", func(c *Config) { c.Secrets = [][]byte{[]byte("too short")} }},
		{"short old secret", func(c *Config) { c.Secrets = append(c.Secrets, []byte("old")) }},
		{"SameSite=None without Secure", func(c *Config) { c.Cookie.SameSite = http.SameSiteNoneMode }},
		{"Partitioned without Secure", func(c *Config) { c.Cookie.Partitioned = true }},
		{"__Host- without Secure", func(c *Config) { c.Cookie.HostPrefix = HostPrefixRequired }},
		{"__Host- with Domain", func(c *Config) {
			c.Cookie.HostPrefix, c.Cookie.Secure, c.Cookie.Domain = HostPrefixRequired, true, "example.com"
		}},
		{"__Host- with Path", func(c *Config) {
			c.Cookie.HostPrefix, c.Cookie.Secure, c.Cookie.Path = HostPrefixRequired, true, "/app"
		}},
		{"unknown HostPrefix", func(c *Config) { c.Cookie.HostPrefix = 7 }},
		{"__Host- spelled in the name", func(c *Config) { c.Cookie.Name, c.Cookie.Secure = "__host-sid", true }},
		{"__Secure- name without Secure", func(c *Config) { c.Cookie.Name = "__Secure-sid" }},
		{"bad cookie name", func(c *Config) { c.Cookie.Name = "s id;" }},
		{"negative idle", func(c *Config) { c.Lifetime.Idle = -time.Minute }},
		{"touch >= idle", func(c *Config) { c.Lifetime.Idle, c.Lifetime.TouchInterval = time.Minute, time.Minute }},
		{"idle > absolute", func(c *Config) { c.Lifetime.Idle, c.Lifetime.Absolute = 2*time.Hour, time.Hour }},
		{"negative anonymous timeout", func(c *Config) { c.Lifetime.Anonymous = -time.Minute }},
		{"negative remember", func(c *Config) { c.Lifetime.Remember = -time.Minute }},
		{"bad proxy", func(c *Config) { c.TrustedProxies = []string{"not-an-ip"} }},
		{"negative session limit", func(c *Config) { c.MaxSessionsPerUser = -1 }},
		{"unknown over-limit policy", func(c *Config) { c.MaxSessionsPerUser, c.OverLimit = 2, 9 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.edit(&cfg)
			m, err := New(cfg)
			if m != nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("New = %v, %v; want an ErrConfig", m, err)
			}
			// One line, one prefix.
			msg := err.Error()
			const prefix = "session: unsafe configuration: "
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, prefix) ||
				strings.Contains(msg[len(prefix):], "session:") || strings.Contains(msg, "sessionstore:") {
				t.Errorf("error %q: want one line, one prefix", msg)
			}
		})
	}
	m, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	// OWASP defaults.
	want := Lifetime{Idle: 30 * time.Minute, Absolute: 24 * time.Hour, Anonymous: time.Hour, TouchInterval: time.Minute, Remember: 24 * time.Hour}
	if got := m.Lifetime(); got != want {
		t.Errorf("default lifetime %+v, want %+v", got, want)
	}
	if m.cookie.SameSite != http.SameSiteLaxMode || m.CookieName() != "sid" || m.rules.saveEmpty || m.rules.limit.Max != 0 {
		t.Errorf("defaults: cookie %+v, rules %+v", m.cookie, m.rules)
	}
	cfg := validConfig()
	cfg.Lifetime.Absolute = 10 * time.Minute
	if m, err := New(cfg); err != nil || m.Lifetime().Idle != 10*time.Minute {
		t.Errorf("a short absolute timeout with the default idle timeout: %v", err)
	}
}

func TestClientIPAndScheme(t *testing.T) {
	px, err := parseProxies([]string{"10.0.0.0/8", "192.168.1.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer, xff, proto string
		tls                    bool
		ip                     string
		https                  bool
	}{
		{"direct", "203.0.113.5:1234", "", "", false, "203.0.113.5", false},
		{"untrusted peer's headers are ignored", "203.0.113.5:1234", "1.2.3.4", "https", false, "203.0.113.5", false},
		{"trusted proxy", "10.1.2.3:80", "198.51.100.7", "https", false, "198.51.100.7", true},
		{"spoofed hop before the real client", "10.1.2.3:80", "6.6.6.6, 198.51.100.7", "https", false, "198.51.100.7", true},
		{"chain of trusted proxies", "10.1.2.3:80", "198.51.100.7, 192.168.1.1, 10.9.9.9", "https", false, "198.51.100.7", true},
		{"garbage hop", "10.1.2.3:80", "junk, 10.9.9.9", "http", false, "10.9.9.9", false},
		{"no header from a trusted proxy", "10.1.2.3:80", "", "", false, "10.1.2.3", false},
		{"IPv6 loopback proxy", "[::1]:80", "2001:db8::1", "https", false, "2001:db8::1", true},
		{"direct TLS", "203.0.113.5:1234", "", "", true, "203.0.113.5", true},
		{"XFP: the nearest proxy's value wins over the client's", "10.1.2.3:80", "198.51.100.7", "https, http", false, "198.51.100.7", false},
		{"XFP appended by the nearest proxy", "10.1.2.3:80", "198.51.100.7", "http, https", false, "198.51.100.7", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := px.clientIP(r); got != tt.ip {
			t.Errorf("%s: clientIP = %q, want %q", tt.name, got, tt.ip)
		}
		if got := px.https(r); got != tt.https {
			t.Errorf("%s: https = %v, want %v", tt.name, got, tt.https)
		}
	}
	var none proxies
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:80"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := none.clientIP(r); got != "10.1.2.3" {
		t.Errorf("with no trusted proxies clientIP = %q", got)
	}
}
