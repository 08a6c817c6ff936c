package mail_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ginauth/ginauth/mail"
)

// printer is a Sender of the application's own: it prints instead of
// sending (in production, it would call a mail provider's API).
type printer struct{}

func (printer) Send(_ context.Context, m *mail.Message) error {
	fmt.Printf("to %s: %q (%s)\n", m.To, m.Subject, m.Kind)
	return nil
}

// A password reset mail made from the default templates, queued, and
// delivered before the queue closes.
func Example() {
	templates := mail.DefaultTemplates()
	m, err := templates.Render(mail.KindPasswordReset, "mia@example.com", mail.TemplateData{
		AppName:   "Shop",
		Username:  "mia",
		Link:      "https://shop.example/password/reset?token=...",
		ExpiresIn: 30 * time.Minute,
	})
	if err != nil {
		panic(err)
	}

	q := mail.NewQueue(printer{}, mail.QueueOptions{})
	if err := q.Send(context.Background(), m); err != nil { // returns at once
		panic(err)
	}

	// At shutdown: deliver what is queued, for up to 10 seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		fmt.Println(err) // how many mails were lost
	}
	// Output: to mia@example.com: "Reset your Shop password" (password_reset)
}
