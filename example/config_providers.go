package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ginauth/ginauth/auth/oauth"
)

// providerNameRE is what auth/oauth takes as a provider's name: it is in
// the routes, the identities kept and the metrics.
var providerNameRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$`)

// providerKeys are the fields of one provider in OIDC_PROVIDERS.
var providerKeys = []string{"name", "issuer", "client_id", "client_secret", "label", "trust_email"}

// loadProviders reads the OpenID Providers people may sign in with:
// OIDC_PROVIDERS, or the file OIDC_PROVIDERS_FILE names (never both),
// and OAUTH_SIGNUP. The value is a list of providers separated by ";" (in
// the file, line breaks separate them too), each a list of key=value
// fields separated by ",":
//
//	name=corp,issuer=https://login.corp.example,client_id=ID,client_secret=SECRET[,label=Corp SSO][,trust_email=true]
//
// name is the provider's stable name (lower-case letters, digits and
// dashes, at most 32: it is in the callback's address and in the
// identities kept, so renaming one unlinks them); issuer the OpenID
// Provider's issuer URL (https, or http on localhost); label what the
// buttons call it (default: the name); trust_email lets an address the
// provider says is verified sign in to the account that has it. No value
// may hold "," or ";". Unset, there are no providers. Messages never
// repeat a value but a provider's name: a client secret, or a piece of one
// that a stray "," or ";" cut off, is in none.
func (c *config) loadProviders(list, file, signUp string) error {
	c.oauthSignUp = true
	if signUp != "" {
		b, err := strconv.ParseBool(signUp)
		if err != nil {
			return fmt.Errorf("OAUTH_SIGNUP: want true or false, got %q", signUp)
		}
		c.oauthSignUp = b
	}
	source := "OIDC_PROVIDERS"
	if file != "" {
		if list != "" {
			return errors.New("OIDC_PROVIDERS and OIDC_PROVIDERS_FILE are both set: use one")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("OIDC_PROVIDERS_FILE: %w", err)
		}
		if list = strings.TrimSpace(string(b)); list == "" {
			return fmt.Errorf("OIDC_PROVIDERS_FILE: %s is empty", file)
		}
		source = "OIDC_PROVIDERS_FILE"
	}
	entries := strings.FieldsFunc(list, func(r rune) bool { return r == ';' || r == '\n' })
	n := 0
	for _, entry := range entries {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		n++
		p, err := parseProvider(entry)
		if err != nil {
			if providerNameRE.MatchString(p.Name) {
				return fmt.Errorf("%s: provider %d (%s): %w", source, n, p.Name, err)
			}
			return fmt.Errorf("%s: provider %d: %w", source, n, err)
		}
		for _, q := range c.providers {
			if q.Name == p.Name {
				return fmt.Errorf("%s: provider %d: the name %q is taken by another provider", source, n, p.Name)
			}
		}
		c.providers = append(c.providers, p)
	}
	if list != "" && len(c.providers) == 0 {
		return fmt.Errorf("%s names no provider", source)
	}
	return nil
}

// parseProvider reads one provider of OIDC_PROVIDERS (see loadProviders).
func parseProvider(entry string) (oauth.Provider, error) {
	fields := map[string]string{}
	for i, f := range strings.Split(entry, ",") {
		key, value, ok := strings.Cut(f, "=")
		key = strings.TrimSpace(key)
		if !ok || !knownKey(key) {
			// Neither the field nor its key is repeated: it may be the
			// end of a secret that held a ",".
			return oauth.Provider{Name: fields["name"]}, fmt.Errorf("field %d is not one of name=, issuer=, client_id=, client_secret=, label=, trust_email= "+
				"(no value may hold \",\" or \";\")", i+1)
		}
		if _, dup := fields[key]; dup {
			return oauth.Provider{Name: fields["name"]}, fmt.Errorf("%s is given twice", key)
		}
		fields[key] = strings.TrimSpace(value)
	}
	p := oauth.Provider{
		Name:         fields["name"],
		Label:        fields["label"],
		Issuer:       fields["issuer"],
		ClientID:     fields["client_id"],
		ClientSecret: fields["client_secret"],
	}
	if !providerNameRE.MatchString(p.Name) {
		return p, errors.New("name= is required: 1 to 32 lower-case letters, digits or dashes (such as google or corp-sso)")
	}
	if err := checkIssuer(p.Issuer); err != nil {
		return p, err
	}
	if p.ClientID == "" {
		return p, errors.New("client_id= is required: the ID the provider gave the app")
	}
	if p.ClientSecret == "" {
		return p, errors.New("client_secret= is required: the secret the provider gave the app")
	}
	if !credential(p.ClientID) || !credential(p.ClientSecret) {
		return p, errors.New("client_id and client_secret are printable text, with no spaces")
	}
	if utf8.RuneCountInString(p.Label) > 40 || !utf8.ValidString(p.Label) || strings.IndexFunc(p.Label, unicode.IsControl) >= 0 {
		return p, errors.New("label= is at most 40 characters of text")
	}
	if v, ok := fields["trust_email"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return p, errors.New("trust_email= is true or false")
		}
		p.TrustEmail = b
	}
	return p, nil
}

func knownKey(key string) bool {
	for _, k := range providerKeys {
		if k == key {
			return true
		}
	}
	return false
}

// credential reports whether s is printable ASCII without spaces, as
// client IDs and secrets are.
func credential(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// checkIssuer refuses an issuer that auth/oauth would, at start: not an
// absolute https URL (http only on localhost), or one with a user, query
// or fragment. It does not repeat the issuer, which such a URL could hold
// a password in.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("issuer= is required: the OpenID Provider's issuer URL, such as https://accounts.google.com")
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && providerLocalhost(u.Hostname()))) {
		return errors.New("issuer= must be an https URL (http only on localhost), with no user, query or fragment")
	}
	return nil
}

// providerLocalhost reports whether host is one auth/oauth lets a provider
// or the app be reached at over http.
func providerLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
