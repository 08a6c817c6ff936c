// Package smtpmail is a mail.Sender that hands messages to an SMTP server,
// on github.com/wneessen/go-mail.
//
// It connects once per message, with STARTTLS when the server offers it
// (smtp://) or with TLS from the start (smtps://), and sends the text and
// HTML bodies as multipart/alternative. Give it to a mail.Queue, so that
// requests never wait for the server.
package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/ginauth/ginauth/mail"
)

// Default ports, when the URL names none.
const (
	DefaultPort    = 587 // smtp://: mail submission, STARTTLS when offered
	DefaultTLSPort = 465 // smtps://: TLS from the start
)

// DefaultTimeout bounds a delivery whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// Options configures New.
type Options struct {
	// URL says where and how to connect:
	//
	//	smtp://user:password@host:port   STARTTLS when the server offers it, plain otherwise (port 587 by default)
	//	smtps://user:password@host:port  TLS from the start (port 465 by default)
	//
	// User and password are optional (no AUTH without them) and
	// percent-encoded. Credentials are sent only over TLS or to a loopback
	// address: a server on another host that offers no STARTTLS gets no
	// password, and the delivery fails.
	URL string
	// From is the sender, such as "Shop <no-reply@shop.example>".
	From string
	// TLSConfig, if set, is used for TLS (a private CA's RootCAs, for
	// one); its ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// Timeout bounds a delivery whose context has no deadline. Default
	// DefaultTimeout.
	Timeout time.Duration
}

// Sender sends messages through one SMTP server. Make it with New; it is
// safe for concurrent use.
type Sender struct {
	host        string
	port        int
	implicitTLS bool
	user, pass  string
	auth        bool
	from        *netmail.Address
	tls         *tls.Config
	timeout     time.Duration
	redacted    string
}

var _ mail.Sender = (*Sender)(nil)

// New checks opts and returns a Sender. It refuses what cannot work: a
// URL that does not parse, a scheme other than smtp and smtps, no host, a
// bad port, a path or query, a From that is not one address. Its errors
// never quote the password.
func New(opts Options) (*Sender, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		// Neither the URL nor url.Parse's reason is quoted: in
		// "smtp://user:pass" (no @), the reason quotes the password as a
		// port.
		return nil, errors.New("smtpmail: the URL does not parse: want smtp://user:password@host:port (its text is not repeated here, since it may hold the password)")
	}
	s := &Sender{timeout: opts.Timeout}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	switch u.Scheme {
	case "smtp":
		s.port = DefaultPort
	case "smtps":
		s.port, s.implicitTLS = DefaultTLSPort, true
	default:
		return nil, fmt.Errorf("smtpmail: URL scheme %q: want smtp:// or smtps://", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, errors.New("smtpmail: the URL names no host: want smtp://user:password@host:port")
	}
	s.host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("smtpmail: URL port %q: want 1 to 65535", p)
		}
		s.port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("smtpmail: the URL has a path, query or fragment, which mean nothing here: want smtp://user:password@host:port")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		s.auth = s.user != ""
	}
	if s.from, err = netmail.ParseAddress(opts.From); err != nil || strings.ContainsAny(opts.From, "\r\n") {
		return nil, fmt.Errorf("smtpmail: From %q is not one address", opts.From)
	}
	if opts.TLSConfig != nil {
		s.tls = opts.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	if s.tls.MinVersion == 0 {
		s.tls.MinVersion = tls.VersionTLS12
	}
	r := *u
	if s.user != "" {
		r.User = url.User(s.user)
	}
	s.redacted = r.String()
	return s, nil
}

// String returns the URL without its password, for logs.
func (s *Sender) String() string { return s.redacted }

// Send delivers m: it connects, authenticates, sends, and quits, all
// within ctx (and Options.Timeout when ctx has no deadline). An error the
// server gives with a 5xx code is wrapped with mail.Permanent, so that a
// mail.Queue does not try again. Errors name the recipient's domain, not
// the address, and never quote the password.
func (s *Sender) Send(ctx context.Context, m *mail.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(s.host, s.clientOptions(ctx)...)
	if err != nil {
		return s.fail(m, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return s.fail(m, err)
	}
	return nil
}

func (s *Sender) message(m *mail.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: the recipient is not one address", mail.ErrInvalidMessage)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	// Tell autoresponders (out of office) not to answer (RFC 3834).
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.Text != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	default:
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

func (s *Sender) clientOptions(ctx context.Context) []gomail.Option {
	timeout := s.timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(s.dial(ctx)),
	}
	if s.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.auth {
		// PLAIN and LOGIN refuse to send the password in clear to anything
		// but a loopback address.
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	return opts
}

// dial connects (with TLS for smtps://) and closes the connection when
// ctx ends, so that a delivery stuck on a slow server ends with its
// context.
func (s *Sender) dial(ctx context.Context) gomail.DialContextFunc {
	return func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		var c net.Conn
		var err error
		if s.implicitTLS {
			c, err = (&tls.Dialer{NetDialer: &d, Config: s.tls}).DialContext(dctx, network, addr)
		} else {
			c, err = d.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { _ = c.Close() })
		return c, nil
	}
}

// fail returns err with the password and the recipient's address taken
// out, as permanent when the server answered 5xx.
func (s *Sender) fail(m *mail.Message, err error) error {
	text := err.Error()
	clean := redact(text, s.pass)
	if a, perr := netmail.ParseAddress(m.To); perr == nil {
		clean = strings.ReplaceAll(clean, a.Address, mail.MaskAddress(a.Address))
	}
	var out error
	if clean == text {
		out = fmt.Errorf("smtpmail: sending %s mail to a recipient at %s via %s: %w", m.Kind, mail.Domain(m.To), s.redactedAddr(), err)
	} else {
		// The chain would quote what was taken out: end it here.
		out = fmt.Errorf("smtpmail: sending %s mail to a recipient at %s via %s: %s", m.Kind, mail.Domain(m.To), s.redactedAddr(), clean)
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		return mail.Permanent(out)
	}
	return out
}

func (s *Sender) redactedAddr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// redact replaces secret in text.
func redact(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, "xxxxx")
}
