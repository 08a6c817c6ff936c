package testenv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP credentials of the servers that StartSMTPServer starts.
const (
	SMTPUser     = "mailer"
	SMTPPassword = "s3cret-smtp-pass"
)

// SMTPServer is a real SMTP server in the test's process (emersion/go-smtp)
// on a free loopback port. It asks for AUTH PLAIN with SMTPUser and
// SMTPPassword (allowed without TLS, on loopback only), keeps what it is
// given, and can refuse or hold deliveries so that tests can see retries
// and a slow server.
type SMTPServer struct {
	srv  *smtp.Server
	addr string

	delivered chan *DeliveredMail

	mu       sync.Mutex
	failNext int
	hold     chan struct{} // non-nil: deliveries wait until it is closed
	held     chan struct{} // receives one value per delivery that starts waiting
}

// DeliveredMail is one message the server accepted, parsed.
type DeliveredMail struct {
	From    string   // the envelope sender (MAIL FROM)
	To      []string // the envelope recipients (RCPT TO)
	Header  netmail.Header
	Subject string // decoded
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	Raw     []byte
}

// StartSMTPServer starts a server that lives until the test ends.
func StartSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{
		addr:      l.Addr().String(),
		delivered: make(chan *DeliveredMail, 1000),
		held:      make(chan struct{}, 1000),
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(l)
	}()
	t.Cleanup(func() {
		s.Release()
		_ = s.srv.Close()
		<-done
	})
	return s
}

// Addr is the server's host:port.
func (s *SMTPServer) Addr() string { return s.addr }

// URL is smtp://SMTPUser:SMTPPassword@Addr.
func (s *SMTPServer) URL() string {
	return (&url.URL{Scheme: "smtp", User: url.UserPassword(SMTPUser, SMTPPassword), Host: s.addr}).String()
}

// FailNext makes the server answer the next n messages, at the end of
// DATA, with 451 (try again later), and keep none of them.
func (s *SMTPServer) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Hold makes the server slow: from now on, each delivery waits, after its
// data, until Release. WaitHeld tells when one is waiting.
func (s *SMTPServer) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil {
		s.hold = make(chan struct{})
	}
}

// Release lets every held delivery, and the later ones, go on.
func (s *SMTPServer) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// WaitHeld waits until a delivery is held by Hold, and fails the test
// after 20s.
func (s *SMTPServer) WaitHeld(t testing.TB) {
	t.Helper()
	select {
	case <-s.held:
	case <-time.After(20 * time.Second):
		t.Fatal("SMTP server: no delivery was held within 20s")
	}
}

// Next waits for the next message the server accepts, and fails the test
// after 20s.
func (s *SMTPServer) Next(t testing.TB) *DeliveredMail {
	t.Helper()
	select {
	case m := <-s.delivered:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("SMTP server: no message delivered within 20s")
		return nil
	}
}

// Wait waits for the next n messages (see Next).
func (s *SMTPServer) Wait(t testing.TB, n int) []*DeliveredMail {
	t.Helper()
	ms := make([]*DeliveredMail, 0, n)
	for range n {
		ms = append(ms, s.Next(t))
	}
	return ms
}

// Pending returns the messages accepted and not yet taken by Next, without
// waiting.
func (s *SMTPServer) Pending() []*DeliveredMail {
	var ms []*DeliveredMail
	for {
		select {
		case m := <-s.delivered:
			ms = append(ms, m)
		default:
			return ms
		}
	}
}

type smtpSession struct {
	s      *SMTPServer
	authed bool
	from   string
	to     []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if (identity != "" && identity != user) || user != SMTPUser || pass != SMTPPassword {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	s.mu.Lock()
	hold := s.hold
	fail := s.failNext > 0
	if fail {
		s.failNext--
	}
	s.mu.Unlock()
	if hold != nil {
		s.held <- struct{}{}
		<-hold
	}
	if fail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	m, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Unparsable message: " + err.Error()}
	}
	m.From, m.To = ss.from, append([]string(nil), ss.to...)
	s.delivered <- m
	return nil
}

func (ss *smtpSession) Reset() { ss.from, ss.to = "", nil }

func (ss *smtpSession) Logout() error { return nil }

// parseMail reads raw into its header, subject and its text and HTML
// parts, whatever the nesting of multipart parts.
func parseMail(raw []byte) (*DeliveredMail, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m := &DeliveredMail{Header: msg.Header, Raw: raw}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return nil, err
	}
	err = m.readPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m, err
}

func (m *DeliveredMail) readPart(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			// NextPart decodes quoted-printable itself, and then drops the header.
			if err := m.readPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: body})
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		m.Text = text
	case "text/html":
		m.HTML = text
	}
	return nil
}

// crlfStripper drops the line breaks of a base64 body.
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}
