package middleware

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/problem"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/account?x=1#y": true, "/a/b": true,
		"": false, "account": false, "//evil.example": false, "/\\evil.example": false,
		"https://evil.example": false, "/a\nb": false, "/a\\b": false, "/" + strings.Repeat("a", 3000): false,
	} {
		if LocalPath(p) != want {
			t.Errorf("LocalPath(%q) = %v", p, !want)
		}
	}
}

// Every error of ginauth's packages reaches the client as its problem of
// the HTTP contract, through any wrapping; what nobody named is a 500.
func TestProblems(t *testing.T) {
	tests := []struct {
		err   error
		want  *problem.Problem
		retry time.Duration
	}{
		{&auth.RetryError{Err: auth.ErrTooManyAttempts, After: 3 * time.Second}, problem.TooManyAttempts, 3 * time.Second},
		{&auth.RetryError{Err: auth.ErrTooManySignups, After: time.Hour}, problem.TooManySignups, time.Hour},
		{&auth.RetryError{Err: fmt.Errorf("%w: queue", auth.ErrBusy), After: time.Second}, problem.Busy, time.Second},
		{auth.ErrWrongPassword, problem.WrongPassword, 0},
		{auth.ErrInvalidCredentials, problem.InvalidCredentials, 0},
		{fmt.Errorf("wrapped: %w", auth.ErrWeakPassword), problem.WeakPassword, 0},
		{auth.ErrCommonPassword, problem.CommonPassword, 0},
		{auth.ErrPasswordIsUsername, problem.PasswordIsUsername, 0},
		{fmt.Errorf("wrapped: %w", auth.ErrBreachedPassword), problem.BreachedPassword, 0},
		{fmt.Errorf("%w: no digit", auth.ErrWeakPassword), problem.WeakPassword, 0},
		{fmt.Errorf("%w: %w", auth.ErrPasswordCheckUnavailable, errors.New("timeout")), problem.PasswordCheckUnavailable, 0},
		// a checker whose store failed: the password was not judged either way
		{fmt.Errorf("%w: %w", auth.ErrPasswordCheckUnavailable, sessionstore.Unavailable(errors.New("down"))), problem.PasswordCheckUnavailable, 0},
		{session.ErrExpired, problem.SessionExpired, 0},
		{session.ErrHTTPSRequired, problem.HTTPSRequired, 0},
		{sessionstore.ErrTooManySessions, problem.TooManySessions, 0},
		{sessionstore.Unavailable(errors.New("down")), problem.StoreUnavailable, 0},
		{sessionstore.ErrNotFound, problem.NotFound, 0},
		{BadRequest("The field \"x\" appears twice."), problem.BadRequest, 0},
		{errors.New("boom"), problem.Internal, 0},
	}
	for _, tt := range tests {
		p, retry := Problem(tt.err)
		if p != tt.want || retry != tt.retry {
			t.Errorf("Problem(%v) = %s, %v; want %s, %v", tt.err, p.Code, retry, tt.want.Code, tt.retry)
		}
	}
	if p, _ := Problem(BadRequest("x")); p.Status != 400 || strings.Contains(p.Message, "x") {
		t.Errorf("BadRequest's problem %+v", p)
	}
}
