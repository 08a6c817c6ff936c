package auth

import (
	"context"
	_ "embed" // the list of common passwords
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// PasswordChecker judges new passwords: an application's own rule, or a
// breach corpus (the hibp package). Passwords.Checks lists the checkers an
// Auth runs, in order, on every new password (registration, SetPassword,
// ChangePassword), after the length rules and the built-in checks.
//
// CheckPassword receives the password as it will be hashed: NFKC-normalized,
// 8 to 72 bytes, not yet lower-cased. It returns nil to accept it. To refuse
// it, it returns ErrCommonPassword, ErrBreachedPassword or any error
// matching ErrWeakPassword (fmt.Errorf("%w: ...", auth.ErrWeakPassword)):
// the client is told 400 with the matching code. Any other error means the
// check could not run; the password is then neither accepted nor refused,
// and the caller gets an error matching ErrPasswordCheckUnavailable (503).
// Whether a failure should refuse or let the password through is the
// checker's own policy: a checker that fails open logs, counts and returns
// nil.
//
// ctx is the request's context (its deadline and cancellation), or the
// operator's. CheckPassword is called concurrently and must not keep the
// password.
type PasswordChecker interface {
	CheckPassword(ctx context.Context, password string) error
}

// checkNewPassword is the one judge of a new password, whatever sets it
// (registration, SetPassword, ChangePassword, a reset): it applies the
// length rules (normalizeNewPassword), refuses the username
// (ErrPasswordIsUsername) and, unless Passwords.AllowCommon, the common
// passwords (ErrCommonPassword), then runs Passwords.Checks in order. It
// returns the normalized password, to hash, or the first refusal; an error
// of a checker that is not a refusal comes wrapped in
// ErrPasswordCheckUnavailable. username is the normalized name of the user
// whose password it is.
func (a *Auth[U]) checkNewPassword(ctx context.Context, username, pw string) (string, error) {
	pw, err := normalizeNewPassword(pw, a.minPass)
	if err != nil {
		return "", err
	}
	if username != "" && strings.EqualFold(pw, username) {
		return "", ErrPasswordIsUsername
	}
	if c, ok := ctx.(*gin.Context); ok && c.Request != nil {
		ctx = c.Request.Context()
	}
	for _, check := range a.checks {
		if err := check.CheckPassword(ctx, pw); err != nil {
			return "", checkerError(err)
		}
	}
	return pw, nil
}

// checkerError is what a checker's error means: a refusal as it is,
// anything else a check that could not run.
func checkerError(err error) error {
	if errors.Is(err, ErrWeakPassword) || errors.Is(err, ErrPasswordCheckUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrPasswordCheckUnavailable, err)
}

// foldPassword is the form a password is compared in against the list:
// lower case, after NFKC (which the caller applied).
func foldPassword(pw string) string { return strings.ToLower(pw) }

// commonPasswordsFile holds the 10,000 most common passwords, most common
// first, one per line, lower case: the first 10,000 entries of zxcvbn's
// data/passwords.txt (https://github.com/dropbox/zxcvbn, MIT license,
// Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.), which ranks
// passwords by frequency in Mark Burnett's corpus of 10 million passwords
// from public breaches (xato.net, 2015). The copy it was taken from is
// github.com/trustelem/zxcvbn v1.0.1's data/passwords.txt (MIT), whose
// lines are "password count": common-passwords.txt keeps the words, in the
// same order, without the counts. TestCommonPasswordsFile checks both.
//
//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords is the set of commonPasswordsFile, built at the first
// new password, so that an application that never sets one pays nothing
// but the 76 KB of the file in its binary. BenchmarkCommonPasswordsLoad
// measures what the first one pays.
var commonPasswords = sync.OnceValue(buildCommonPasswords)

// buildCommonPasswords makes the set; its keys share the embedded file's
// memory.
func buildCommonPasswords() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	for line := range strings.Lines(commonPasswordsFile) {
		if w := strings.TrimSuffix(line, "\n"); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
}

// commonList is the built-in check against the common passwords.
type commonList struct{}

// CheckPassword refuses a password on the list, in any letter case.
func (commonList) CheckPassword(_ context.Context, pw string) error {
	if _, ok := commonPasswords()[foldPassword(pw)]; ok {
		return ErrCommonPassword
	}
	return nil
}

// passwordChecks lists the checks of new passwords after the length rules
// and the username: the common list unless allowed, then the
// application's, in a slice of the Auth's own.
func passwordChecks(p Passwords) []PasswordChecker {
	var checks []PasswordChecker
	if !p.AllowCommon {
		checks = append(checks, commonList{})
	}
	return append(checks, p.Checks...)
}
