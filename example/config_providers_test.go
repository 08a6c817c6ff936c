package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OIDC_PROVIDERS (or OIDC_PROVIDERS_FILE) and OAUTH_SIGNUP, parsed
// strictly: every mistake is refused at start with a message that says
// what is wrong and never repeats a client secret, nor a piece of one.
func TestConfigProviders(t *testing.T) {
	const secret = "s3cr3t-VALUE-x9"
	corp := "name=corp,issuer=https://login.corp.example,client_id=app-1,client_secret=" + secret
	dir := t.TempDir()
	file := filepath.Join(dir, "providers")
	if err := os.WriteFile(file, []byte(corp+",label=Corp SSO\n\nname=dev,issuer=http://127.0.0.1:9998/,client_id=d,client_secret=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type want struct {
		names  string // the providers' names, comma-separated
		labels string
		trust  string // the names of those trusted for email
		signUp bool
	}
	cases := []struct {
		name string
		env  map[string]string
		want want
		err  string // a part of the error; "": none
	}{
		{name: "unset", env: nil, want: want{signUp: true}},
		{name: "one", env: map[string]string{"OIDC_PROVIDERS": corp},
			want: want{names: "corp", labels: "", signUp: true}},
		{name: "two, label, trust, spaces", env: map[string]string{"OIDC_PROVIDERS": " " + corp + " , label = Corp SSO ; name=google,issuer=https://accounts.google.com,client_id=g,client_secret=gs,trust_email=true;"},
			want: want{names: "corp,google", labels: "Corp SSO,", trust: "google", signUp: true}},
		{name: "file", env: map[string]string{"OIDC_PROVIDERS_FILE": file, "OAUTH_SIGNUP": "false"},
			want: want{names: "corp,dev", labels: "Corp SSO,", signUp: false}},
		{name: "localhost issuer", env: map[string]string{"OIDC_PROVIDERS": "name=dev,issuer=http://localhost:9998,client_id=d,client_secret=x"},
			want: want{names: "dev", labels: "", signUp: true}},
		{name: "signup without providers", env: map[string]string{"OAUTH_SIGNUP": "0"}, want: want{signUp: false}},

		{name: "both", env: map[string]string{"OIDC_PROVIDERS": corp, "OIDC_PROVIDERS_FILE": file}, err: "both set"},
		{name: "missing file", env: map[string]string{"OIDC_PROVIDERS_FILE": filepath.Join(dir, "nope")}, err: "OIDC_PROVIDERS_FILE:"},
		{name: "empty file", env: map[string]string{"OIDC_PROVIDERS_FILE": empty}, err: "is empty"},
		{name: "only separators", env: map[string]string{"OIDC_PROVIDERS": " ; ;"}, err: "names no provider"},
		{name: "bad signup", env: map[string]string{"OAUTH_SIGNUP": "maybe"}, err: "OAUTH_SIGNUP: want true or false"},
		{name: "no name", env: map[string]string{"OIDC_PROVIDERS": strings.TrimPrefix(corp, "name=corp,")}, err: "provider 1: name= is required"},
		{name: "bad name", env: map[string]string{"OIDC_PROVIDERS": strings.Replace(corp, "name=corp", "name=Corp SSO", 1)}, err: "lower-case letters"},
		{name: "same name", env: map[string]string{"OIDC_PROVIDERS": corp + ";" + corp}, err: `provider 2: the name "corp" is taken`},
		{name: "no issuer", env: map[string]string{"OIDC_PROVIDERS": "name=corp,client_id=a,client_secret=" + secret}, err: "provider 1 (corp): issuer= is required"},
		{name: "http issuer", env: map[string]string{"OIDC_PROVIDERS": strings.Replace(corp, "https://", "http://", 1)}, err: "issuer= must be an https URL"},
		{name: "issuer with user", env: map[string]string{"OIDC_PROVIDERS": strings.Replace(corp, "https://", "https://me:"+secret+"@", 1)}, err: "no user"},
		{name: "no client id", env: map[string]string{"OIDC_PROVIDERS": strings.Replace(corp, "client_id=app-1,", "", 1)}, err: "client_id= is required"},
		{name: "no secret", env: map[string]string{"OIDC_PROVIDERS": strings.Replace(corp, "client_secret="+secret, "client_secret=", 1)}, err: "client_secret= is required"},
		{name: "secret with a space", env: map[string]string{"OIDC_PROVIDERS": corp + " " + secret}, err: "printable text, with no spaces"},
		{name: "secret cut by a comma", env: map[string]string{"OIDC_PROVIDERS": corp + "," + secret}, err: "provider 1 (corp): field 5 is not one of name="},
		{name: "secret cut by a comma, with =", env: map[string]string{"OIDC_PROVIDERS": corp + ",x" + secret + "=y"}, err: "field 5 is not one of"},
		{name: "misspelt key", env: map[string]string{"OIDC_PROVIDERS": strings.Replace(corp, "client_id", "clientid", 1)}, err: "field 3 is not one of"},
		{name: "key twice", env: map[string]string{"OIDC_PROVIDERS": corp + ",client_secret=" + secret}, err: "client_secret is given twice"},
		{name: "bad trust", env: map[string]string{"OIDC_PROVIDERS": corp + ",trust_email=yes"}, err: "trust_email= is true or false"},
		{name: "long label", env: map[string]string{"OIDC_PROVIDERS": corp + ",label=" + strings.Repeat("x", 41)}, err: "label= is at most 40"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				switch {
				case err == nil:
					t.Fatalf("no error; want one with %q", tc.err)
				case !strings.Contains(err.Error(), tc.err):
					t.Errorf("error %q; want one with %q", err, tc.err)
				case strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "x9"):
					t.Errorf("the error repeats the secret: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names, labels, trust []string
			for _, p := range cfg.providers {
				names = append(names, p.Name)
				labels = append(labels, p.Label)
				if p.TrustEmail {
					trust = append(trust, p.Name)
				}
			}
			got := want{strings.Join(names, ","), strings.Join(labels, ","), strings.Join(trust, ","), cfg.oauthSignUp}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(cfg.providers) > 0 && cfg.providers[0].Name == "corp" && cfg.providers[0].ClientSecret != secret {
				t.Errorf("corp's secret is %q", cfg.providers[0].ClientSecret)
			}
		})
	}
}
