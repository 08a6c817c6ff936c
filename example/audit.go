package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// openAuditLog opens AUDIT_LOG for appending, creating it if need be: the
// audit trail that every instance and every operator's command writes to
// (each record is one write of one line, so processes appending at once do
// not mix their lines). Without AUDIT_LOG the trail is logw, the log.
func openAuditLog(cfg config, logw io.Writer) (io.Writer, func(), error) {
	if cfg.auditPath == "" {
		return logw, func() {}, nil
	}
	f, err := os.OpenFile(cfg.auditPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("AUDIT_LOG: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}

// operatorAttrs name who runs a command: operator, the name given by
// --operator or OPERATOR, and the system user running the process
// (osUser, when it differs); without a name given, the system user is the
// operator.
func operatorAttrs(given string) []any {
	osUser := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil && u.Username != "" {
		osUser = u.Username
	}
	given = strings.TrimSpace(given)
	if given == "" || given == osUser {
		return []any{slog.String("operator", osUser)}
	}
	return []any{slog.String("operator", given), slog.String("osUser", osUser)}
}

// audited reports whether the command is recorded in the audit trail:
// those that read or change users and sessions, and migrate; not secret
// new, healthcheck or help, which touch neither.
func (c adminCommand) audited() bool {
	return c.group == "users" || c.group == "sessions" || c.group == "migrate"
}

// audit records a command in the audit trail, as event operator_command:
// the command, its operands (a username, a session's public ID: never a
// password, which is no operand), who ran it, and how it ended (result ok,
// failed, refused, not_found, usage; err for the error). The trail is the
// app's when the command opened it, or else AUDIT_LOG or stderr as the
// environment says; an environment the command could not even read is
// recorded on stderr.
func (r *adminRun) audit(cmd adminCommand, operands []string, code int, err error) {
	log := r.auditLog()
	if log == nil {
		return
	}
	attrs := []any{slog.String("event", "operator_command"), slog.String("command", cmd.title())}
	for i, name := range cmd.operands {
		if i < len(operands) {
			attrs = append(attrs, slog.String(strings.ToLower(name), operands[i]))
		}
	}
	result := map[int]string{exitOK: "ok", exitFailed: "failed", exitUsage: "usage", exitNotFound: "not_found"}[code]
	var refused *adminError
	if code == exitFailed && errors.As(err, &refused) {
		result = "refused" // the environment names another store, a table is missing
	}
	attrs = append(attrs, slog.String("result", result))
	if err != nil {
		attrs = append(attrs, slog.String("err", oneLine(err.Error())))
	}
	log.Info("audit", attrs...)
}

// auditLog is the audit trail of the command, with its operator.
func (r *adminRun) auditLog() *slog.Logger {
	if r.app != nil {
		return r.app.audit
	}
	cfg, err := loadConfig(r.getenv)
	if err != nil {
		cfg = config{logFormat: "text"}
		if f, ferr := parseLogFormat(r.getenv("LOG_FORMAT")); ferr == nil {
			cfg.logFormat = f
		}
	}
	w, closeAudit, err := openAuditLog(cfg, r.stderr)
	if err != nil {
		fmt.Fprintln(r.notes, "example: not recorded in the audit trail: "+err.Error())
		return nil
	}
	r.closers = append(r.closers, closeAudit)
	operator := cfg.operator
	if r.operator != "" {
		operator = r.operator
	}
	return auditLogger(cfg, w).With(operatorAttrs(operator)...)
}
