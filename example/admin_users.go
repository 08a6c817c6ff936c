package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/sessionstore"
)

// maxPasswordLine is the most a command reads of standard input for a
// password: far over auth.MaxPasswordBytes, so that a password too long is
// refused by auth's rule rather than cut short here.
const maxPasswordLine = 4096

// newUserJSON is the JSON of users create.
type newUserJSON struct {
	UserID    string    `json:"userId"`
	Username  string    `json:"username"` // normalized, as it is stored
	CreatedAt time.Time `json:"createdAt"`
}

// revocationJSON is the JSON of the commands that end sessions: users
// passwd, users delete, sessions revoke (with the session ID) and sessions
// revoke-all.
type revocationJSON struct {
	UserID          string `json:"userId"`
	Username        string `json:"username"`
	ID              string `json:"id,omitempty"`
	RevokedSessions int    `json:"revokedSessions"`
}

// usersCreate creates a user through auth's Register, as POST /register
// does (less its per-address throttle): the username is normalized, and the
// password (see readPassword) must pass the same rules.
func usersCreate(r *adminRun, operands []string) error {
	name := operands[0]
	normalized, err := auth.NormalizeUsername(name)
	if err != nil {
		return failed("creating the user", err)
	}
	pw, err := r.readPassword(name)
	if err != nil {
		return err
	}
	a, err := r.open()
	if err != nil {
		return err
	}
	// Asked first, a taken name costs neither a bcrypt hash nor the
	// database's complaint in the log; Register still refuses one taken
	// in a race.
	if _, err := r.findUser(a, normalized); err == nil {
		return fmt.Errorf("a user named %q exists already", normalized)
	} else if !isNotFound(err) {
		return err
	}
	u, err := a.auth.Register(r.ctx, auth.NewUser{Username: name, Password: pw}) // an operator's context: not throttled
	switch {
	case errors.Is(err, auth.ErrUsernameTaken):
		return fmt.Errorf("a user named %q exists already", normalized)
	case err != nil:
		return failed("creating the user", err)
	}
	doc := newUserJSON{UserID: u.AuthID(), Username: u.Username, CreatedAt: u.CreatedAt.UTC()}
	return r.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "created user %q (id %s)\n", doc.Username, doc.UserID)
	})
}

// usersPasswd sets a user's password (see readPassword)
// through auth's SetPassword, which applies the rules of /register and ends
// every session of the user, on every instance.
func usersPasswd(r *adminRun, operands []string) error {
	a, u, err := r.openUser(operands[0])
	if err != nil {
		return err
	}
	pw, err := r.readPassword(u.Username)
	if err != nil {
		return err
	}
	n, err := a.auth.SetPassword(r.ctx, u.AuthID(), pw)
	switch {
	case errors.Is(err, models.ErrUserNotFound): // deleted meanwhile
		return notFound("no user named %q", operands[0])
	case errors.As(err, new(*usersError)): // the hash was not stored
		return failed("setting the password", err)
	case errors.Is(err, sessionstore.ErrUnavailable):
		// SetPassword stores the hash before it ends the sessions, and the
		// users' store's failures are marked (markedUsers): this one is the
		// session store's.
		return failed("set the password, but ending the user's sessions failed (run sessions revoke-all)", err)
	case err != nil:
		return failed("setting the password", err)
	}
	r.noteMemoryStore(a)
	doc := revocationJSON{UserID: u.AuthID(), Username: u.Username, RevokedSessions: n}
	return r.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "set the password of %q; %d %s ended\n", doc.Username, n, plural(n, "session", "sessions"))
	})
}

// usersDelete deletes a user and ends their sessions. The sessions go
// first, so that a session store that cannot be reached leaves everything as
// it was, for the operator to try again; then the user, out of the database
// and out of every instance's cache; then the sessions of a login that ran
// meanwhile. (A session left behind would end at its next request anyway:
// its user is gone.)
func usersDelete(r *adminRun, operands []string) error {
	a, u, err := r.openUser(operands[0])
	if err != nil {
		return err
	}
	id := u.AuthID()
	n, err := a.auth.RevokeAll(r.ctx, id)
	if err != nil {
		return failed("ending the user's sessions (the user is not deleted)", err)
	}
	res := a.db.WithContext(r.ctx).Delete(u)
	switch {
	case res.Error != nil:
		return failed(fmt.Sprintf("deleting the user (%d %s ended)", n, plural(n, "session", "sessions")), res.Error)
	case res.RowsAffected == 0: // deleted meanwhile
		return notFound("no user named %q", operands[0])
	}
	a.auth.InvalidateUser(id)
	more, err := a.store.DestroyUser(r.ctx, id)
	if err != nil {
		return failed("deleted the user, but ending the sessions of a sign-in that raced with it failed (they end at their next request)", err)
	}
	n += more
	r.noteMemoryStore(a)
	doc := revocationJSON{UserID: id, Username: u.Username, RevokedSessions: n}
	return r.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "deleted user %q (id %s); %d %s ended\n", doc.Username, id, n, plural(n, "session", "sessions"))
	})
}

// openUser opens the app and finds the user that the command names.
func (r *adminRun) openUser(name string) (*app, *Account, error) {
	a, err := r.open()
	if err != nil {
		return nil, nil, err
	}
	u, err := r.findUser(a, name)
	if err != nil {
		return nil, nil, err
	}
	return a, u, nil
}

// findUser returns the user that name names once normalized, as at sign-in,
// or a not-found error.
func (r *adminRun) findUser(a *app, name string) (*Account, error) {
	u, err := a.auth.FindUser(r.ctx, name)
	switch {
	case errors.Is(err, models.ErrUserNotFound):
		return nil, notFound("no user named %q", name)
	case err != nil:
		return nil, failed("finding the user", err)
	}
	return u, nil
}

// readPassword reads a password. On a terminal it asks for it on stderr,
// reads it without showing it, and asks again to make sure of it;
// otherwise (a pipe, a file: a script) it reads the first line of standard
// input, without its line ending.
func (r *adminRun) readPassword(username string) (string, error) {
	if f, ok := r.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return r.promptPassword(int(f.Fd()), username)
	}
	line, err := bufio.NewReader(io.LimitReader(r.stdin, maxPasswordLine)).ReadString('\n')
	switch {
	case errors.Is(err, io.EOF) && line == "":
		return "", usageError("no password on standard input; give it one line, as in printf '%%s\\n' \"$PASSWORD\" | example users create NAME")
	case err != nil && !errors.Is(err, io.EOF):
		return "", failed("reading the password", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// promptPassword asks for a password twice on the terminal fd, with echo
// off, and returns it once both agree.
func (r *adminRun) promptPassword(fd int, username string) (string, error) {
	var typed [2]string
	for i, prompt := range []string{"Password for %s: ", "Password for %s, again: "} {
		fmt.Fprintf(r.stderr, prompt, username)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(r.stderr) // the Enter that was not shown
		if err != nil {
			return "", failed("reading the password", err)
		}
		typed[i] = string(b)
	}
	switch {
	case typed[0] == "":
		return "", usageError("no password typed")
	case typed[0] != typed[1]:
		return "", errors.New("the two passwords differ; nothing was changed")
	}
	return typed[0], nil
}

// noteMemoryStore warns, on stderr, that the sessions a command ended are
// not the servers' when SESSION_STORE=memory: those live in each server's
// memory, which no command reaches.
func (r *adminRun) noteMemoryStore(a *app) {
	if a.cfg.storeName == "memory" {
		fmt.Fprintln(r.notes, "example: note: with SESSION_STORE=memory the servers' sessions are in their own memory, out of this command's reach")
	}
}

// isNotFound reports whether err is a command's not-found error.
func isNotFound(err error) bool {
	var ae *adminError
	return errors.As(err, &ae) && ae.code == exitNotFound
}

// mailJSON is the JSON of the commands that mail a user: users set-email
// and users send-reset.
type mailJSON struct {
	UserID   string `json:"userId"`
	Username string `json:"username"`
	Email    string `json:"email"` // normalized, as it is stored; "" once removed
	Mailed   bool   `json:"mailed"`
}

// usersSetEmail sets a user's address at once, unverified, through auth's
// ChangeEmail with the operator's context (no confirmation by the old
// address, no throttle), and waits until the verification link it mails
// is delivered. An empty EMAIL removes the address.
func usersSetEmail(r *adminRun, operands []string) error {
	email := operands[1]
	if email != "" {
		var err error
		if email, err = auth.NormalizeEmail(email); err != nil {
			return failed("setting the address", err)
		}
	}
	a, u, err := r.openUser(operands[0])
	if err != nil {
		return err
	}
	err = a.auth.ChangeEmail(r.ctx, u.AuthID(), email) // an operator's context
	switch {
	case errors.Is(err, auth.ErrEmailTaken):
		return fmt.Errorf("the address %s is another user's", email)
	case errors.Is(err, models.ErrUserNotFound): // deleted meanwhile
		return notFound("no user named %q", operands[0])
	case err != nil:
		return failed("setting the address", err)
	}
	doc := mailJSON{UserID: u.AuthID(), Username: u.Username, Email: email, Mailed: email != ""}
	if email != "" {
		if err := a.deliverMail(r.ctx); err != nil {
			return failed("set the address, but mailing its verification link failed (run users set-email again)", err)
		}
	}
	return r.print(doc, func(w io.Writer) {
		if email == "" {
			fmt.Fprintf(w, "removed the address of %q\n", doc.Username)
			return
		}
		fmt.Fprintf(w, "set the address of %q to %s, unverified; mailed it a link to verify it\n", doc.Username, email)
	})
}

// usersSendReset mails a user a password reset link, through auth's
// SendPasswordReset with the operator's context (not throttled), and
// waits until it is delivered. The user's password and sessions stay as
// they are until the link is used.
func usersSendReset(r *adminRun, operands []string) error {
	a, u, err := r.openUser(operands[0])
	if err != nil {
		return err
	}
	err = a.auth.SendPasswordReset(r.ctx, auth.Lookup{Username: u.Username})
	switch {
	case errors.Is(err, auth.ErrNoEmail):
		return fmt.Errorf("user %q has no email address: give them one with users set-email", u.Username)
	case errors.Is(err, models.ErrUserNotFound): // deleted meanwhile
		return notFound("no user named %q", operands[0])
	case err != nil:
		return failed("sending the reset link", err)
	}
	if err := a.deliverMail(r.ctx); err != nil {
		return failed("mailing the reset link", err)
	}
	doc := mailJSON{UserID: u.AuthID(), Username: u.Username, Email: u.AuthEmail(), Mailed: true}
	return r.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "mailed %q a link to choose a new password, to %s\n", doc.Username, doc.Email)
	})
}

// twoFactorResetJSON is the JSON of users 2fa-reset.
type twoFactorResetJSON struct {
	UserID          string `json:"userId"`
	Username        string `json:"username"`
	HadSecondFactor bool   `json:"hadSecondFactor"` // an authenticator app was on
	RevokedSessions int    `json:"revokedSessions"`
}

// usersTwoFactorReset is support's way back in for a user who lost their
// authenticator app and their recovery codes: auth.ResetSecondFactor
// removes the app's enrolment (confirmed or not), the recovery codes and
// the passkeys, and ends every session of the user, so that whoever signs in next does
// so with the password alone, and nothing signed in under the old factors
// lives on. The factors go first: a session store that cannot be reached
// leaves the user able to sign in, and the operator runs sessions
// revoke-all.
// Support must make sure of the person's identity before: the command
// lowers the account to its password.
func usersTwoFactorReset(r *adminRun, operands []string) error {
	a, u, err := r.openUser(operands[0])
	if err != nil {
		return err
	}
	id := u.AuthID()
	had, err := a.auth.HasSecondFactor(r.ctx, id)
	if err != nil {
		return failed("reading the user's second factor", err)
	}
	n, err := a.auth.ResetSecondFactor(r.ctx, id) // an operator's context
	if err != nil {
		return failed("resetting the user's second factor (if the sessions could not be ended, run sessions revoke-all)", err)
	}
	r.noteMemoryStore(a)
	doc := twoFactorResetJSON{UserID: id, Username: u.Username, HadSecondFactor: had, RevokedSessions: n}
	return r.print(doc, func(w io.Writer) {
		was := "had no authenticator app on"
		if had {
			was = "had an authenticator app on, now removed"
		}
		fmt.Fprintf(w, "reset two-step sign-in of %q (%s; recovery codes removed); %d %s ended\n",
			doc.Username, was, n, plural(n, "session", "sessions"))
	})
}
