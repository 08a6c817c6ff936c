package mail

import (
	"context"
	"log/slog"
)

// LogSender is the Sender of development: it writes each message, body
// included, to a log at Warn, with a line saying that no mail server is
// configured, so that a developer can follow a reset link without running
// one. The body holds single-use tokens: never use it in production, where
// logs are kept and read by others. The zero value logs to slog.Default().
type LogSender struct {
	Logger *slog.Logger
}

// Send logs m and returns nil.
func (s LogSender) Send(ctx context.Context, m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	attrs := []any{"kind", m.Kind, "to", m.To, "subject", m.Subject}
	if m.Text != "" {
		attrs = append(attrs, "text", m.Text)
	} else {
		attrs = append(attrs, "html", m.HTML)
	}
	l.WarnContext(ctx, "ginauth: no mail server is configured; this mail was written to the log instead of being sent (development only: it holds the mail's links)", attrs...)
	return nil
}
