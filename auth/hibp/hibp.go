// Package hibp checks new passwords against the Pwned Passwords corpus of
// Have I Been Pwned, through its range API, without the password or its
// full hash leaving the process.
//
// A Checker is an auth.PasswordChecker: add it to the application's
// auth.Passwords.Checks and every new password (registration, SetPassword,
// ChangePassword, reset) is looked up; one seen in a breach is refused with
// auth.ErrBreachedPassword, which the HTTP edge answers 400
// {"code":"breached_password"}. The check is off until an application adds
// it.
//
// # What leaves the process
//
// The range API works by k-anonymity: the Checker hashes the password with
// SHA-1 and sends only the first 5 hexadecimal digits of the hash (20 of its
// 160 bits), which about a million known hashes share. The service answers
// the suffixes of every breached hash with that prefix, and the Checker
// looks for its own suffix among them, in process. Every request carries
// "Add-Padding: true", so the service pads its answer with random suffixes
// of count 0 (ignored here) and the size of the response does not tell an
// observer of the encrypted traffic which prefix was asked.
//
// The suffix is compared as plain bytes (ignoring letter case), not in
// constant time: this is no secret comparison. The list compared against
// is public data the service sent, and the suffix is compared in process;
// what the timing of that could tell an observer is at most the position
// of a match in a list the service already holds, and the service never
// learns more than the prefix. The full hash is never sent, logged or
// kept.
//
// # When the service does not answer
//
// A check that times out (Options.Timeout, 2 seconds by default), cannot
// reach the service, gets a status other than 200, or a response that is
// malformed or over 1 MiB, has failed. By default the Checker fails open:
// it logs a warning (Options.Logger), counts the failure (Failures) and
// accepts the password, so that an outage of a third-party service never
// stops anyone from registering or changing a password; the built-in list
// of common passwords still applies. With Options.FailClosed it returns an
// error wrapping auth.ErrPasswordCheckUnavailable instead, which the HTTP
// edge answers 503 {"code":"password_check_unavailable"}: the password is
// neither accepted nor refused, nothing changes, and the client may try
// again. It is never a 400: the password was not found wanting, the check
// did not run.
package hibp

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ginauth/ginauth/auth"
)

// DefaultURL is the range API of Have I Been Pwned's Pwned Passwords. The
// first five hex digits of a password's SHA-1 are appended to it.
const DefaultURL = "https://api.pwnedpasswords.com/range/"

// MaxResponseBytes bounds how much of a response a check reads: an answer
// of the real service is about 40 KB with padding. A longer one is a
// failure, so that a broken or hostile server cannot exhaust memory.
const MaxResponseBytes = 1 << 20

// Options configure a Checker. The zero value checks against the public
// service, fails open, and refuses a password seen at least once.
type Options struct {
	// URL is the range API's address, to which the 5-digit prefix is
	// appended. Default DefaultURL. Set it to a mirror of your own (the
	// corpus can be downloaded and served locally).
	URL string

	// Client sends the requests. Default: a client of the Checker's own,
	// on http.DefaultTransport.
	Client *http.Client

	// Timeout bounds one check, from the request to the last byte read.
	// Default 2 seconds. The request's own deadline, when sooner, applies.
	Timeout time.Duration

	// FailClosed makes a check that could not run return an error wrapping
	// auth.ErrPasswordCheckUnavailable (the client is answered 503, and
	// nothing changes) instead of accepting the password.
	FailClosed bool

	// MinCount is how many times a password must have been seen in
	// breaches to be refused. Default 1: any breached password.
	MinCount int

	// UserAgent is sent with each request, as the service asks. Default
	// "ginauth-hibp".
	UserAgent string

	// Logger receives a warning for each check that could not run. Default
	// slog.Default().
	Logger *slog.Logger
}

// Checker looks new passwords up in the Pwned Passwords range API. It is
// an auth.PasswordChecker; create it with New. It is safe for concurrent
// use.
type Checker struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	failClosed bool
	minCount   int
	userAgent  string
	log        *slog.Logger
	failures   atomic.Uint64
}

// ErrOptions is wrapped by every error New returns for options it cannot
// use.
var ErrOptions = errors.New("hibp: invalid options")

// New returns a Checker with the options, or an error wrapping ErrOptions
// for a URL that is not absolute http(s), or a negative Timeout or
// MinCount.
func New(o Options) (*Checker, error) {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: URL %q is not an http(s) address to append a prefix to", ErrOptions, o.URL)
	}
	if o.Timeout < 0 || o.MinCount < 0 {
		return nil, fmt.Errorf("%w: negative Timeout or MinCount", ErrOptions)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MinCount == 0 {
		o.MinCount = 1
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.UserAgent == "" {
		o.UserAgent = "ginauth-hibp"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Checker{
		url:        o.URL,
		client:     o.Client,
		timeout:    o.Timeout,
		failClosed: o.FailClosed,
		minCount:   o.MinCount,
		userAgent:  o.UserAgent,
		log:        o.Logger,
	}, nil
}

// CheckPassword returns auth.ErrBreachedPassword when the password has been
// seen in breaches at least MinCount times, and nil when it has not. When
// the service cannot say, it returns nil (failing open, the default) or an
// error wrapping auth.ErrPasswordCheckUnavailable (Options.FailClosed); a
// context cancelled by the caller returns its error either way.
func (c *Checker) CheckPassword(ctx context.Context, password string) error {
	sum := sha1.Sum([]byte(password))
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := hash[:5], hash[5:]

	count, err := c.lookup(ctx, prefix, suffix)
	switch {
	case err == nil && count >= c.minCount:
		return auth.ErrBreachedPassword
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err() // the caller gave up: not the service's failure
	}
	c.failures.Add(1)
	if c.failClosed {
		c.log.Warn("ginauth: the breached-password check failed; the password was neither accepted nor refused", "err", err)
		return fmt.Errorf("%w: %w", auth.ErrPasswordCheckUnavailable, err)
	}
	c.log.Warn("ginauth: the breached-password check failed; the password was accepted unchecked (fail open)", "err", err)
	return nil
}

// Failures returns how many checks could not run since the Checker was
// made, whether they failed open or closed: feed it to a counter metric.
func (c *Checker) Failures() uint64 { return c.failures.Load() }

// lookup asks the range API for the prefix and returns the count of the
// suffix in its answer (0: not found). Its errors never carry the prefix,
// the URL or the response.
func (c *Checker) lookup(ctx context.Context, prefix, suffix string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+prefix, nil)
	if err != nil {
		return 0, errors.New("hibp: cannot build the request")
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", c.userAgent)
	res, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which names the prefix
		}
		return 0, fmt.Errorf("hibp: request failed: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10)) // lets the connection be reused
		return 0, fmt.Errorf("hibp: the service answered %s", res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	switch {
	case err != nil:
		return 0, fmt.Errorf("hibp: reading the response: %w", err)
	case len(body) > MaxResponseBytes:
		return 0, fmt.Errorf("hibp: the response is over %d bytes", MaxResponseBytes)
	}
	return parseRange(body, suffix)
}

// ErrMalformed is what a response that is not a range answer fails with.
var ErrMalformed = errors.New("hibp: malformed range response")

// parseRange reads a range answer, lines "SUFFIX:COUNT" (35 hex digits, a
// decimal count; CRLF or LF; upper or lower case), and returns the count
// of suffix, an upper-case suffix of 35 hex digits: 0 when it is absent, or
// present only as padding (count 0). Anything else in the answer makes it
// malformed: a server that sends it cannot be trusted to have said "not
// found".
func parseRange(body []byte, suffix string) (int, error) {
	found := 0
	for n := 1; len(body) > 0; n++ {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		s, countText, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(s) != 35 || !isHex(s) {
			return 0, fmt.Errorf("%w: line %d has no 35-digit suffix", ErrMalformed, n)
		}
		count, err := strconv.Atoi(string(countText))
		if err != nil || count < 0 || countText[0] == '+' {
			return 0, fmt.Errorf("%w: line %d has no count", ErrMalformed, n)
		}
		if count > 0 && bytes.EqualFold(s, []byte(suffix)) {
			found = max(found, count)
		}
	}
	return found, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
