package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"math/big"
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
	srv      *smtp.Server
	addr     string
	implicit bool

	// ClientTLS is what a client needs to trust the server's certificate
	// (issued for 127.0.0.1 by a CA of the test's own); nil for a server
	// without TLS.
	ClientTLS *tls.Config

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
	TLS     bool   // whether the session was encrypted (STARTTLS or implicit TLS)
	Raw     []byte
}

// TLS modes of an SMTPServer.
type smtpTLS int

const (
	smtpPlain    smtpTLS = iota // no TLS
	smtpStartTLS                // STARTTLS offered
	smtpImplicit                // TLS from the start (smtps)
)

// StartSMTPServer starts a server without TLS that lives until the test
// ends.
func StartSMTPServer(t testing.TB) *SMTPServer { return startSMTPServer(t, smtpPlain) }

// StartSMTPServerStartTLS starts a server that offers STARTTLS, with a
// certificate that ClientTLS trusts.
func StartSMTPServerStartTLS(t testing.TB) *SMTPServer { return startSMTPServer(t, smtpStartTLS) }

// StartSMTPServerTLS starts a server that speaks TLS from the start
// (smtps), with a certificate that ClientTLS trusts.
func StartSMTPServerTLS(t testing.TB) *SMTPServer { return startSMTPServer(t, smtpImplicit) }

func startSMTPServer(t testing.TB, mode smtpTLS) *SMTPServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{
		addr:      l.Addr().String(),
		implicit:  mode == smtpImplicit,
		delivered: make(chan *DeliveredMail, 1000),
		held:      make(chan struct{}, 1000),
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, conn: c}, nil
	}))
	if mode != smtpPlain {
		var serverTLS *tls.Config
		serverTLS, s.ClientTLS = testCertificate(t)
		s.srv.TLSConfig = serverTLS
		if mode == smtpImplicit {
			l = tls.NewListener(l, serverTLS)
		}
	}
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

// URL is smtp://SMTPUser:SMTPPassword@Addr, or smtps:// for a server
// of StartSMTPServerTLS.
func (s *SMTPServer) URL() string {
	scheme := "smtp"
	if s.implicit {
		scheme = "smtps"
	}
	return (&url.URL{Scheme: scheme, User: url.UserPassword(SMTPUser, SMTPPassword), Host: s.addr}).String()
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
	conn   *smtp.Conn
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
	_, m.TLS = ss.conn.TLSConnectionState()
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

// testCertificate makes a CA and a certificate it issues for 127.0.0.1:
// the server's configuration, and a client's that trusts the CA only.
func testCertificate(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ginauth test SMTP server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}
	return server, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
