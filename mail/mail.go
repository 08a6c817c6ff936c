// Package mail sends the messages of the account features (password reset,
// email verification, security notices) off the request path.
//
// An application gives the library a [Sender]: the SMTP one of package
// mail/smtpmail, [LogSender] in development, or its own (an HTTP API of a
// mail provider). Wrapped in a [Queue], any Sender returns at once, and
// delivers in the background with retries:
//
//	smtp, err := smtpmail.New(smtpmail.Options{URL: os.Getenv("SMTP_URL"), From: "Shop <no-reply@shop.example>"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	q := mail.NewQueue(smtp, mail.QueueOptions{Metrics: m}) // m: a *metrics.Metrics, or nil
//	defer q.Close(shutdownCtx)                             // delivers what is queued, until shutdownCtx ends
//
// The queue is in memory: a crash (or a kill, or a Close whose context
// ends first) loses every message queued and not yet delivered, those
// waiting for a retry included. The library only queues mails that a user
// can ask for again (a reset link, a verification link) or that are
// notices, so a lost mail costs a user a second request, never an account.
// An application that cannot accept that gives the library a Sender that
// writes to a durable outbox of its own.
//
// # Contents and secrets
//
// Messages come from [Templates]: a subject, a text body and an HTML body
// per kind of mail, which the application can replace one by one. The
// HTML goes through html/template, so a username such as "<script>" is
// escaped.
//
// Bodies carry single-use tokens. Neither the queue nor the SMTP sender
// logs a body, a subject or a full recipient address: their logs name the
// kind of the mail and the recipient's domain only. [LogSender] is the
// exception, on purpose: it exists to print mails in development.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
)

// Message is one mail to one recipient.
type Message struct {
	// To is the recipient: one address, such as "mia@example.com" (a
	// display name, "Mia <mia@example.com>", is allowed).
	To string
	// Subject is the subject line, on one line.
	Subject string
	// Text and HTML are the two forms of the body; a Sender sends both, as
	// alternatives, when both are set. At least one is set.
	Text, HTML string
	// Kind names what the mail is ("password_reset", one of the Kind
	// constants, or a name of the application's own) for logs and
	// metrics. It is never shown to the recipient.
	Kind string
}

// Sender delivers messages. Send returns when the message has been handed
// to the mail system (accepted by the SMTP server), or with the reason it
// could not be; it gives up when ctx ends. Implementations are safe for
// concurrent use.
//
// [Queue] is a Sender that returns at once and delivers in the
// background: give the library a Queue, never a slow Sender directly.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// The kinds of mail the library sends, with [DefaultTemplates] for each.
// [TemplateData] lists the fields each one uses.
const (
	KindPasswordReset         = "password_reset"          // a link to choose a new password
	KindEmailVerify           = "email_verify"            // a link that proves the address belongs to the user
	KindEmailChange           = "email_change"            // to the new address: a link that confirms the change
	KindEmailChanged          = "email_changed"           // to the old address: the address was changed
	KindEmailTaken            = "email_taken"             // to an address someone tried to register or move to again
	KindNoticeNewSignIn       = "notice_new_sign_in"      // a sign-in from a device not seen before
	KindNoticePasswordChanged = "notice_password_changed" // the password was changed or reset
	KindNoticeLocked          = "notice_locked"           // sign-in was locked by the throttle
	KindNoticeSecondFactor    = "notice_second_factor"    // a second factor was set up, removed or used (TemplateData.Change)
)

// Kinds returns the kinds of mail the library sends, in a fixed order.
func Kinds() []string {
	return []string{
		KindPasswordReset, KindEmailVerify, KindEmailChange, KindEmailChanged, KindEmailTaken,
		KindNoticeNewSignIn, KindNoticePasswordChanged, KindNoticeLocked, KindNoticeSecondFactor,
	}
}

// ErrInvalidMessage is returned (wrapped) for a message that no Sender
// could deliver: nil, no or several recipients, no body, a line break in
// the subject.
var ErrInvalidMessage = errors.New("mail: invalid message")

// Validate reports, as an error wrapping [ErrInvalidMessage], what makes m
// undeliverable. It never quotes the body.
func (m *Message) Validate() error {
	if m == nil {
		return fmt.Errorf("%w: nil", ErrInvalidMessage)
	}
	if strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("%w: a line break in the recipient", ErrInvalidMessage)
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("%w: the recipient is not one address", ErrInvalidMessage)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: a line break in the subject", ErrInvalidMessage)
	}
	if m.Text == "" && m.HTML == "" {
		return fmt.Errorf("%w: no body", ErrInvalidMessage)
	}
	return nil
}

// Domain returns the domain of addr ("example.com" for "Mia
// <mia@example.com>"), or "" when addr is not an address. Logs name a
// recipient by this, never by the full address.
func Domain(addr string) string {
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(a.Address, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(a.Address[i+1:])
}

// MaskAddress returns addr with its local part hidden but for its first
// character: "m***@example.com" for "mia@example.com". The default
// templates show a new address to the old one this way
// (TemplateData.NewEmail is shown as given: mask it before Render). It
// returns "***" for what is not an address.
func MaskAddress(addr string) string {
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return "***"
	}
	i := strings.LastIndexByte(a.Address, '@')
	if i <= 0 {
		return "***"
	}
	local := []rune(a.Address[:i])
	return string(local[0]) + "***" + a.Address[i:]
}
