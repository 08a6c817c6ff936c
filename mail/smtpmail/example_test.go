package smtpmail_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/mail/smtpmail"
)

// An SMTP sender from the environment, behind a queue; with no SMTP_URL,
// mails go to the log (development only).
func ExampleNew() {
	var sender mail.Sender = mail.LogSender{}
	if u := os.Getenv("SMTP_URL"); u != "" { // smtp://user:pass@host:587
		s, err := smtpmail.New(smtpmail.Options{URL: u, From: "Shop <no-reply@shop.example>"})
		if err != nil {
			log.Fatal(err) // never quotes the password
		}
		log.Printf("mail goes to %s", s) // the URL without its password
		sender = s
	}
	q := mail.NewQueue(sender, mail.QueueOptions{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Close(ctx); err != nil {
			log.Print(err)
		}
	}()
	// Give q to the library, as its mail.Sender.
}
