package testenv

import (
	"net/smtp"
	"strings"
	"testing"
)

// sendRaw sends raw through the standard library's client, with AUTH
// PLAIN (which it allows without TLS on 127.0.0.1).
func sendRaw(srv *SMTPServer, to, raw string) error {
	auth := smtp.PlainAuth("", SMTPUser, SMTPPassword, "127.0.0.1")
	return smtp.SendMail(srv.Addr(), auth, "from@example.com", []string{to}, []byte(strings.ReplaceAll(raw, "\n", "\r\n")))
}

const nestedMail = `From: from@example.com
To: mia@example.org
Subject: =?UTF-8?q?R=C3=A9initialiser?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9 token=3Dabc
--inner
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: base64

PHA+Y2Fmw6k8L3A+
--inner--
--outer--
`

// The server parses what it is given: an encoded subject, nested parts,
// quoted-printable and base64.
func TestSMTPServerParses(t *testing.T) {
	srv := StartSMTPServer(t)
	if err := sendRaw(srv, "mia@example.org", nestedMail); err != nil {
		t.Fatal(err)
	}
	m := srv.Next(t)
	if m.Subject != "Réinitialiser" || m.Text != "café token=abc" || m.HTML != "<p>café</p>" {
		t.Errorf("parsed subject %q, text %q, HTML %q", m.Subject, m.Text, m.HTML)
	}
	if m.From != "from@example.com" || len(m.To) != 1 || m.To[0] != "mia@example.org" || m.TLS {
		t.Errorf("envelope %q → %q, TLS %v", m.From, m.To, m.TLS)
	}
}

// A wrong password is refused, FailNext answers 451 and keeps nothing, and
// the next delivery goes through.
func TestSMTPServerRefuses(t *testing.T) {
	srv := StartSMTPServer(t)
	bad := smtp.PlainAuth("", SMTPUser, "wrong", "127.0.0.1")
	if err := smtp.SendMail(srv.Addr(), bad, "f@example.com", []string{"t@example.com"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Error("a wrong password was accepted")
	}
	if err := smtp.SendMail(srv.Addr(), nil, "f@example.com", []string{"t@example.com"}, []byte("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Error("a delivery without AUTH was accepted")
	}
	srv.FailNext(1)
	if err := sendRaw(srv, "t@example.com", "Subject: x\n\nx\n"); err == nil || !strings.Contains(err.Error(), "451") {
		t.Errorf("FailNext: %v, want 451", err)
	}
	if err := sendRaw(srv, "t@example.com", "Subject: y\n\ny\n"); err != nil {
		t.Fatal(err)
	}
	if m := srv.Next(t); m.Subject != "y" {
		t.Errorf("delivered %q", m.Subject)
	}
	if n := len(srv.Pending()); n != 0 {
		t.Errorf("%d more deliveries", n)
	}
}
