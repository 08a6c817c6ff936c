package smtpmail_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/mail/smtpmail"
)

func newSender(t *testing.T, rawURL string) *smtpmail.Sender {
	t.Helper()
	s, err := smtpmail.New(smtpmail.Options{URL: rawURL, From: "Example <no-reply@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A message reaches a real SMTP server, through AUTH, as
// multipart/alternative with its text and HTML intact.
func TestSendDelivers(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	s := newSender(t, srv.URL())
	m := &mail.Message{
		To: "mia@example.org", Subject: "Réinitialiser — your password", Kind: mail.KindPasswordReset,
		Text: "Open https://app.example/reset?token=abc123\nBye.\n",
		HTML: `<p><a href="https://app.example/reset?token=abc123">Reset</a> – ünïcödé</p>`,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := srv.Next(t)
	if len(got.To) != 1 || got.To[0] != m.To {
		t.Errorf("RCPT TO %v, want %s", got.To, m.To)
	}
	if got.From != "no-reply@example.com" {
		t.Errorf("MAIL FROM %q", got.From)
	}
	if got.Subject != m.Subject {
		t.Errorf("subject %q, want %q", got.Subject, m.Subject)
	}
	if got.Text != m.Text {
		t.Errorf("text %q, want %q", got.Text, m.Text)
	}
	if got.HTML != m.HTML {
		t.Errorf("HTML %q, want %q", got.HTML, m.HTML)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type %q, want multipart/alternative", ct)
	}
	if got.TLS {
		t.Error("a server without STARTTLS: the session says TLS")
	}
	if got.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted %q", got.Header.Get("Auto-Submitted"))
	}
	if got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" {
		t.Errorf("no Message-ID or Date: %v", got.Header)
	}
}

// A message with one body is sent as that body alone.
func TestSendOneBody(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	s := newSender(t, srv.URL())
	for _, m := range []*mail.Message{
		{To: "a@example.org", Subject: "text", Text: "only text"},
		{To: "b@example.org", Subject: "html", HTML: "<b>only html</b>"},
	} {
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := srv.Next(t)
		// A single body ends with the line break that ends the mail.
		if strings.TrimSuffix(got.Text, "\n") != m.Text || strings.TrimSuffix(got.HTML, "\n") != m.HTML {
			t.Errorf("%s: got text %q html %q", m.Subject, got.Text, got.HTML)
		}
	}
}

// A wrong password fails the delivery, and the error quotes neither the
// password nor the recipient's address.
func TestSendWrongPassword(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	u, _ := url.Parse(srv.URL())
	u.User = url.UserPassword(testenv.SMTPUser, "wrong-pass-7731")
	s := newSender(t, u.String())
	err := s.Send(context.Background(), &mail.Message{To: "mia@example.org", Subject: "x", Text: "y"})
	if err == nil {
		t.Fatal("delivered with a wrong password")
	}
	for _, secret := range []string{"wrong-pass-7731", "mia@example.org"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q quotes %q", err, secret)
		}
	}
	if !strings.Contains(err.Error(), "example.org") {
		t.Errorf("error %q does not name the recipient's domain", err)
	}
	if got := srv.Pending(); len(got) != 0 {
		t.Errorf("the server kept %d messages", len(got))
	}
	if s.String() != "smtp://"+testenv.SMTPUser+"@"+srv.Addr() {
		t.Errorf("String() = %q", s.String())
	}
}

// A 451 is temporary: the error is not permanent, so a queue tries again.
func TestSendTemporaryFailure(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	srv.FailNext(1)
	s := newSender(t, srv.URL())
	m := &mail.Message{To: "mia@example.org", Subject: "x", Text: "y"}
	err := s.Send(context.Background(), m)
	if err == nil || mail.IsPermanent(err) {
		t.Fatalf("Send = %v, want a temporary error", err)
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	srv.Next(t)
}

// A delivery ends with its context, even on a server that holds it.
func TestSendEndsWithContext(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	srv.Hold()
	s := newSender(t, srv.URL())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, &mail.Message{To: "mia@example.org", Subject: "x", Text: "y"}) }()
	srv.WaitHeld(t)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Send = nil after its context was cancelled on a held delivery")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Send did not end with its context")
	}
}

// Nothing is sent to a server that cannot be reached, and the error says
// so without the password.
func TestSendServerDown(t *testing.T) {
	s := newSender(t, "smtp://u:down-pass-1234@"+testenv.ClosedAddr(t))
	err := s.Send(context.Background(), &mail.Message{To: "mia@example.org", Subject: "x", Text: "y"})
	if err == nil || strings.Contains(err.Error(), "down-pass-1234") {
		t.Errorf("Send = %v", err)
	}
}

// New refuses what cannot work, and never quotes the password.
func TestNewRefuses(t *testing.T) {
	cases := []struct{ name, url, from string }{
		{"no scheme", "mail.example.com:587", "a@example.com"},
		{"http", "http://u:topsecret@mail.example.com", "a@example.com"},
		{"no host", "smtp://u:topsecret@:587", "a@example.com"},
		{"no host at all", "smtp://", "a@example.com"},
		{"opaque", "smtp:u:topsecret@mail.example.com", "a@example.com"},
		{"bad port", "smtp://u:topsecret@mail.example.com:99999", "a@example.com"},
		{"port zero", "smtp://u:topsecret@mail.example.com:0", "a@example.com"},
		{"password as port", "smtp://u:topsecret", "a@example.com"},
		{"space", "smtp://u:top secret@mail.example.com", "a@example.com"},
		{"path", "smtp://u:topsecret@mail.example.com/x", "a@example.com"},
		{"query", "smtp://u:topsecret@mail.example.com?tls=no", "a@example.com"},
		{"empty", "", "a@example.com"},
		{"no from", "smtp://mail.example.com", ""},
		{"bad from", "smtp://mail.example.com", "not an address"},
		{"two froms", "smtp://mail.example.com", "a@example.com, b@example.com"},
		{"from with a line break", "smtp://mail.example.com", "a@example.com\r\nBcc: x@example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := smtpmail.New(smtpmail.Options{URL: tc.url, From: tc.from})
			if err == nil {
				t.Fatalf("New(%q, %q) = %v, want an error", tc.url, tc.from, s)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q quotes the password", err)
			}
			if !strings.HasPrefix(err.Error(), "smtpmail: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

// New takes both schemes, with their default ports, and percent-encoded
// credentials.
func TestNewAccepts(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"smtp://mail.example.com", "smtp://mail.example.com"},
		{"smtp://u:p%40ss@mail.example.com:2525", "smtp://u@mail.example.com:2525"},
		{"smtps://u:pass@mail.example.com", "smtps://u@mail.example.com"},
		{"smtp://u:pass@[::1]:25/", "smtp://u@[::1]:25/"},
	} {
		s, err := smtpmail.New(smtpmail.Options{URL: tc.url, From: "a@example.com"})
		if err != nil {
			t.Errorf("New(%q): %v", tc.url, err)
			continue
		}
		if s.String() != tc.want {
			t.Errorf("New(%q).String() = %q, want %q", tc.url, s.String(), tc.want)
		}
	}
}

// An invalid message is refused before any connection.
func TestSendInvalidMessage(t *testing.T) {
	s := newSender(t, "smtp://"+testenv.ClosedAddr(t))
	err := s.Send(context.Background(), &mail.Message{To: "a@example.com\r\nBcc: b@example.com", Subject: "x", Text: "y"})
	if !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("Send = %v, want ErrInvalidMessage", err)
	}
}

// With a server that offers STARTTLS, smtp:// encrypts; smtps:// speaks
// TLS from the start. A certificate the client does not trust fails the
// delivery: there is no fallback to plain text.
func TestSendTLS(t *testing.T) {
	cases := []struct {
		name   string
		start  func(testing.TB) *testenv.SMTPServer
		scheme string
	}{
		{"STARTTLS", testenv.StartSMTPServerStartTLS, "smtp://"},
		{"implicit TLS", testenv.StartSMTPServerTLS, "smtps://"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.start(t)
			if !strings.HasPrefix(srv.URL(), tc.scheme) {
				t.Fatalf("URL %s", srv.URL())
			}
			m := &mail.Message{To: "mia@example.org", Subject: "x", Text: "y"}

			untrusted := newSender(t, srv.URL())
			if err := untrusted.Send(context.Background(), m); err == nil || strings.Contains(err.Error(), testenv.SMTPPassword) {
				t.Errorf("Send with an untrusted certificate = %v, want an error without the password", err)
			}

			s, err := smtpmail.New(smtpmail.Options{URL: srv.URL(), From: "no-reply@example.com", TLSConfig: srv.ClientTLS})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if got := srv.Next(t); !got.TLS || got.Text != "y\n" {
				t.Errorf("delivered TLS=%v text %q, want over TLS", got.TLS, got.Text)
			}
			if n := len(srv.Pending()); n != 0 {
				t.Errorf("%d more deliveries", n)
			}
		})
	}
}
