package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ginauth/ginauth/sessionstore"
)

// sessionJSON is one session in the JSON of sessions list. It names the
// session by its public ID, never by the secret its cookie carries.
type sessionJSON struct {
	ID           string    `json:"id"`
	CreatedAt    time.Time `json:"createdAt"`
	LastActivity time.Time `json:"lastActivity"`
	ExpiresAt    time.Time `json:"expiresAt"`
	IPAddress    string    `json:"ipAddress"`
	UserAgent    string    `json:"userAgent"`
}

// sessionListJSON is the JSON of sessions list.
type sessionListJSON struct {
	UserID   string        `json:"userId"`
	Username string        `json:"username"`
	Sessions []sessionJSON `json:"sessions"` // oldest first; [] when none
}

// sessionsList prints the live sessions of a user, oldest first, from the
// session store's per-user index.
func sessionsList(r *adminRun, operands []string) error {
	a, err := r.openSessions()
	if err != nil {
		return err
	}
	u, err := r.findUser(a, operands[0])
	if err != nil {
		return err
	}
	infos, err := a.store.List(r.ctx, u.AuthID())
	if err != nil {
		return failed("listing the sessions", err)
	}
	doc := sessionListJSON{UserID: u.AuthID(), Username: u.Username, Sessions: make([]sessionJSON, 0, len(infos))}
	for _, in := range infos {
		doc.Sessions = append(doc.Sessions, sessionJSON{
			ID:           in.ID,
			CreatedAt:    in.CreatedAt.UTC(),
			LastActivity: in.LastActivity.UTC(),
			ExpiresAt:    in.ExpiresAt.UTC(),
			IPAddress:    in.IPAddress,
			UserAgent:    in.UserAgent,
		})
	}
	return r.print(doc, func(w io.Writer) {
		if len(doc.Sessions) == 0 {
			fmt.Fprintf(w, "%q has no live sessions\n", doc.Username)
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tLAST ACTIVE\tEXPIRES\tIP\tUSER AGENT")
		for _, s := range doc.Sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, stamp(s.CreatedAt), stamp(s.LastActivity),
				stamp(s.ExpiresAt), printable(s.IPAddress), printable(s.UserAgent))
		}
		_ = tw.Flush()
	})
}

// sessionsRevoke ends one session of a user, named by its public ID. An ID
// of another user's session is no session of this one.
func sessionsRevoke(r *adminRun, operands []string) error {
	id := strings.ToLower(operands[1])
	if !sessionstore.ValidID(id) {
		return usageError("%q is not a session ID (32 hex digits, from sessions list)", operands[1])
	}
	a, err := r.openSessions()
	if err != nil {
		return err
	}
	u, err := r.findUser(a, operands[0])
	if err != nil {
		return err
	}
	err = a.auth.Revoke(r.ctx, u.AuthID(), id) // reported as an account event
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		return notFound("%q has no live session %s", u.Username, id)
	case err != nil:
		return failed("ending the session", err)
	}
	doc := revocationJSON{UserID: u.AuthID(), Username: u.Username, ID: id, RevokedSessions: 1}
	return r.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "ended session %s of %q\n", id, doc.Username)
	})
}

// sessionsRevokeAll ends every session of a user, in one batch.
func sessionsRevokeAll(r *adminRun, operands []string) error {
	a, err := r.openSessions()
	if err != nil {
		return err
	}
	u, err := r.findUser(a, operands[0])
	if err != nil {
		return err
	}
	n, err := a.auth.RevokeAll(r.ctx, u.AuthID()) // reported as an account event
	if err != nil {
		return failed("ending the sessions", err)
	}
	doc := revocationJSON{UserID: u.AuthID(), Username: u.Username, RevokedSessions: n}
	return r.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "ended %d %s of %q\n", n, plural(n, "session", "sessions"), doc.Username)
	})
}

// openSessions opens the app for a command on sessions, which cannot work
// on SESSION_STORE=memory: there each server keeps its sessions in its own
// memory.
func (r *adminRun) openSessions() (*app, error) {
	a, err := r.open()
	if err != nil {
		return nil, err
	}
	if a.cfg.storeName == "memory" {
		return nil, errors.New("SESSION_STORE=memory keeps the sessions in each server's memory, out of a command's reach")
	}
	return a, nil
}

// stamp writes a time for the text output: RFC 3339, in UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// printable makes a value that a client chose (its user agent) safe to
// print on a terminal and in a table: control characters (escape sequences,
// tabs, new lines) become "?", and an empty value "-".
func printable(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsGraphic(r) {
			return r
		}
		return '?'
	}, s)
}
