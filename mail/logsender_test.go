package mail_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/mail"
)

// LogSender writes the whole mail at Warn, saying no mail server is
// configured: a developer follows the link from the log.
func TestLogSender(t *testing.T) {
	logs := &testenv.LogBuffer{}
	s := mail.LogSender{Logger: slog.New(slog.NewTextHandler(logs, nil))}
	m := &mail.Message{To: "mia@example.org", Subject: "Reset", Text: "https://app.example/reset?token=abc", HTML: "<p>x</p>", Kind: mail.KindPasswordReset}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	for _, want := range []string{"level=WARN", "no mail server is configured", "mia@example.org", "Reset", "token=abc", "kind=password_reset"} {
		if !strings.Contains(got, want) {
			t.Errorf("log does not show %q:\n%s", want, got)
		}
	}
	if err := s.Send(context.Background(), &mail.Message{To: "x"}); err == nil {
		t.Error("an invalid message was logged as sent")
	}
}
