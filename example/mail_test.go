package main

import (
	"strings"
	"testing"
)

// SMTP_URL, MAIL_FROM and BASE_URL: the defaults of local development (mail
// to the log, links to ADDR), and what is refused, with a message that
// names the variable and never repeats SMTP_URL's password.
func TestConfigMail(t *testing.T) {
	load := func(env map[string]string) (config, error) {
		return loadConfig(func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || c.smtpURL != "" || c.mailFrom != defaultMailFrom || c.baseURL != "http://127.0.0.1:8080" {
		t.Errorf("nothing set: %q %q %q, %v; want the log, %q and http://127.0.0.1:8080", c.smtpURL, c.mailFrom, c.baseURL, err, defaultMailFrom)
	}
	for addr, want := range map[string]string{
		"0.0.0.0:8080":   "http://localhost:8080",
		":9000":          "http://localhost:9000",
		"[::]:8080":      "http://localhost:8080",
		"[::1]:8080":     "http://[::1]:8080",
		"localhost:3000": "http://localhost:3000",
	} {
		if c, err := load(map[string]string{"ADDR": addr}); err != nil || c.baseURL != want {
			t.Errorf("ADDR=%s: BASE_URL %q, %v; want %s", addr, c.baseURL, err, want)
		}
	}
	good := map[string]string{
		"COOKIE_SECURE": "true",
		"SMTP_URL":      "smtps://mailer:hunter2@mail.example",
		"MAIL_FROM":     "Shop <no-reply@shop.example>",
		"BASE_URL":      "https://shop.example/app/",
	}
	c, err = load(good)
	if err != nil || c.baseURL != "https://shop.example/app" || c.mailFrom != good["MAIL_FROM"] || c.smtpURL != good["SMTP_URL"] {
		t.Errorf("behind HTTPS with a mail server: %+v, %v", c, err)
	}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range good {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // a part of the error
	}{
		{"COOKIE_SECURE without SMTP_URL", with("SMTP_URL", "", "BASE_URL", "https://shop.example"), "COOKIE_SECURE is true but SMTP_URL is not set"},
		{"COOKIE_SECURE without BASE_URL", with("BASE_URL", ""), "set BASE_URL to its https:// address"},
		{"COOKIE_SECURE with an http BASE_URL", with("BASE_URL", "http://shop.example"), "set BASE_URL to its https:// address"},
		{"an SMTP_URL of another scheme", with("SMTP_URL", "http://mailer:hunter2@mail.example"), "SMTP_URL"},
		{"an SMTP_URL without a host", with("SMTP_URL", "smtp://mailer:hunter2@"), "SMTP_URL"},
		{"an SMTP_URL that does not parse", with("SMTP_URL", "smtp://mailer:hunter2"), "SMTP_URL"},
		{"an SMTP_URL with a path", with("SMTP_URL", "smtp://mailer:hunter2@mail.example/x"), "SMTP_URL"},
		{"a MAIL_FROM of two addresses", with("MAIL_FROM", "a@x.example, b@x.example"), "MAIL_FROM"},
		{"a MAIL_FROM that is no address, mail to the log", map[string]string{"MAIL_FROM": "nobody"}, "MAIL_FROM"},
		{"a relative BASE_URL", map[string]string{"BASE_URL": "/app"}, "BASE_URL"},
		{"a BASE_URL of another scheme", map[string]string{"BASE_URL": "ftp://shop.example"}, "BASE_URL"},
		{"a BASE_URL with a query", map[string]string{"BASE_URL": "http://localhost:8080/?a=b"}, "BASE_URL"},
		{"a BASE_URL with a fragment", map[string]string{"BASE_URL": "http://localhost:8080/#top"}, "BASE_URL"},
		{"a BASE_URL with a user", map[string]string{"BASE_URL": "https://me:pw@shop.example"}, "BASE_URL"},
		{"a BASE_URL over plain HTTP to another host", map[string]string{"BASE_URL": "http://shop.example"}, "plain HTTP"},
		{"a BASE_URL with no host", map[string]string{"BASE_URL": "https://"}, "BASE_URL"},
	} {
		_, err := load(tc.env)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tc.name)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v; want it to say %q", tc.name, err, tc.want)
		case strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%s: the error quotes the password: %v", tc.name, err)
		}
	}
}
