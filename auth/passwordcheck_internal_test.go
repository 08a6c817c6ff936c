package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
)

// checkFunc is a PasswordChecker made of a function.
type checkFunc func(ctx context.Context, pw string) error

func (f checkFunc) CheckPassword(ctx context.Context, pw string) error { return f(ctx, pw) }

// refuse is a checker that refuses one password with err.
func refuse(pw string, err error) PasswordChecker {
	return checkFunc(func(_ context.Context, got string) error {
		if got == pw {
			return err
		}
		return nil
	})
}

func checkingAuth(p Passwords) *Auth[*models.User] {
	return &Auth[*models.User]{minPass: 8, checks: passwordChecks(p)}
}

func TestCheckNewPassword(t *testing.T) {
	down := errors.New("breach service down")
	house := fmt.Errorf("%w: names the company", ErrWeakPassword)
	tests := []struct {
		name     string
		p        Passwords
		username string
		pw       string
		want     error // nil: accepted
	}{
		{"uncommon", Passwords{}, "alice", "tender lizard kettle", nil},
		{"length rules first", Passwords{}, "alice", "1234567", ErrWeakPassword},
		{"too long before the list", Passwords{}, "alice", strings.Repeat("x", 73), ErrPasswordTooLong},
		{"the most common", Passwords{}, "alice", "12345678", ErrCommonPassword},
		{"on the list", Passwords{}, "alice", "password123", ErrCommonPassword},
		{"the last on the list", Passwords{}, "alice", "159753456", ErrCommonPassword},
		{"the first past the list", Passwords{}, "alice", "timothy1", nil},
		{"any letter case", Passwords{}, "alice", "PassWord123", ErrCommonPassword},
		{"fullwidth, after NFKC", Passwords{}, "alice", "ｐａｓｓｗｏｒｄ", ErrCommonPassword},
		{"common matches weak", Passwords{}, "alice", "iloveyou", ErrWeakPassword},
		{"allowed common", Passwords{AllowCommon: true}, "alice", "password123", nil},
		{"the username", Passwords{}, "alice.smith", "alice.smith", ErrPasswordIsUsername},
		{"the username, other case", Passwords{}, "alice.smith", "Alice.Smith", ErrPasswordIsUsername},
		{"the username is common too", Passwords{}, "alice.smith", "ALICE.SMITH", ErrCommonPassword},
		{"the username even when common is allowed", Passwords{AllowCommon: true}, "alice.smith", "alice.smith", ErrPasswordIsUsername},
		{"the username inside is fine", Passwords{}, "alice.smith", "alice.smith forever", nil},
		{"no username (an operator's)", Passwords{}, "", "tender lizard kettle", nil},
		{"a checker's refusal", Passwords{Checks: []PasswordChecker{refuse("tender lizard kettle", house)}}, "alice", "tender lizard kettle", house},
		{"a breach", Passwords{Checks: []PasswordChecker{refuse("tender lizard kettle", ErrBreachedPassword)}}, "alice", "tender lizard kettle", ErrBreachedPassword},
		{"a breach is weak", Passwords{Checks: []PasswordChecker{refuse("tender lizard kettle", ErrBreachedPassword)}}, "alice", "tender lizard kettle", ErrWeakPassword},
		{"a checker that could not run", Passwords{Checks: []PasswordChecker{refuse("tender lizard kettle", down)}}, "alice", "tender lizard kettle", ErrPasswordCheckUnavailable},
		{"its cause kept", Passwords{Checks: []PasswordChecker{refuse("tender lizard kettle", down)}}, "alice", "tender lizard kettle", down},
		{"the list before the checks", Passwords{Checks: []PasswordChecker{refuse("password123", down)}}, "alice", "password123", ErrCommonPassword},
		{"the first refusal wins", Passwords{Checks: []PasswordChecker{refuse("tender lizard kettle", house), refuse("tender lizard kettle", down)}}, "alice", "tender lizard kettle", house},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkingAuth(tt.p).checkNewPassword(context.Background(), tt.username, tt.pw)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == nil && got != normalizePassword(tt.pw):
				t.Fatalf("normalized to %q", got)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("err = %v, want %v", err, tt.want)
			case tt.want != nil && got != "":
				t.Fatalf("a refused password returned %q", got)
			}
		})
	}
}

// Checkers get the password as it will be hashed (NFKC), and the request's
// context, never the gin.Context; none runs after a refusal.
func TestPasswordCheckersSeeTheNormalizedPasswordAndTheRequest(t *testing.T) {
	type key struct{}
	var seen []string
	second := false
	first := checkFunc(func(ctx context.Context, pw string) error {
		if _, isGin := ctx.(*gin.Context); isGin || ctx.Value(key{}) != "request" {
			t.Errorf("checker got context %T without the request's values", ctx)
		}
		seen = append(seen, pw)
		if pw == "refuse me please" {
			return ErrWeakPassword
		}
		return nil
	})
	then := checkFunc(func(context.Context, string) error { second = true; return nil })
	a := checkingAuth(Passwords{Checks: []PasswordChecker{first, then}})
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("POST", "/register", nil)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), key{}, "request"))

	if _, err := a.checkNewPassword(c, "bob", "ﬃ tender kettle"); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "ffi tender kettle" || !second {
		t.Fatalf("checkers saw %q (second ran: %v); want the NFKC form, both run", seen, second)
	}
	second = false
	if _, err := a.checkNewPassword(c, "bob", "refuse me please"); !errors.Is(err, ErrWeakPassword) || second {
		t.Fatalf("err = %v, second ran: %v; want the first refusal, the second not asked", err, second)
	}
}

// Refusals match their code's sentinel, most specific first, and print on
// one line with the package's prefix.
func TestPasswordRefusals(t *testing.T) {
	tests := []struct {
		err      error
		matches  []error
		excludes []error
	}{
		{ErrCommonPassword, []error{ErrWeakPassword}, []error{ErrPasswordIsUsername, ErrBreachedPassword}},
		{ErrPasswordIsUsername, []error{ErrCommonPassword, ErrWeakPassword}, []error{ErrBreachedPassword}},
		{ErrBreachedPassword, []error{ErrWeakPassword}, []error{ErrCommonPassword}},
		{ErrPasswordCheckUnavailable, nil, []error{ErrWeakPassword}},
	}
	for _, tt := range tests {
		for _, m := range tt.matches {
			if !errors.Is(tt.err, m) {
				t.Errorf("%v does not match %v", tt.err, m)
			}
		}
		for _, m := range tt.excludes {
			if errors.Is(tt.err, m) {
				t.Errorf("%v matches %v", tt.err, m)
			}
		}
		if msg := tt.err.Error(); !strings.HasPrefix(msg, "auth: ") || strings.Count(msg, "auth:") != 1 {
			t.Errorf("message %q", msg)
		}
	}
}

// The embedded list is the first 10,000 words of its source, distinct, in
// the source's order, lower case, one per line; when the source is in the
// module cache (or ZXCVBN_PASSWORDS names it), the words are compared with
// it and its counts must never grow.
func TestCommonPasswordsFile(t *testing.T) {
	words := strings.Split(commonPasswordsFile, "\n")
	if words[len(words)-1] != "" {
		t.Fatal("the file does not end with a newline")
	}
	words = words[:len(words)-1]
	if len(words) != 10000 {
		t.Fatalf("%d lines, want 10000", len(words))
	}
	seen := make(map[string]bool, len(words))
	for i, w := range words {
		if w == "" || w != strings.ToLower(w) || strings.ContainsAny(w, " \t\r") || !isASCII(w) {
			t.Errorf("line %d %q: want a lower-case ASCII word", i+1, w)
		}
		if seen[w] {
			t.Errorf("line %d %q repeats", i+1, w)
		}
		seen[w] = true
	}
	if n := len(commonPasswords()); n != 10000 {
		t.Errorf("the set has %d passwords", n)
	}
	if size := len(commonPasswordsFile); size > 100<<10 {
		t.Errorf("the file is %d bytes; it was 76 KB", size)
	}

	src := os.Getenv("ZXCVBN_PASSWORDS")
	if src == "" {
		cache := os.Getenv("GOMODCACHE")
		if cache == "" {
			cache = filepath.Join(build.Default.GOPATH, "pkg", "mod")
		}
		src = filepath.Join(cache, "github.com", "trustelem", "zxcvbn@v1.0.1", "data", "passwords.txt")
	}
	f, err := os.Open(src)
	if err != nil {
		testenv.Optional(t, "zxcvbn's passwords.txt", fmt.Sprintf("not here (%v); set ZXCVBN_PASSWORDS to compare", err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	last := -1
	for i := 0; i < len(words) && sc.Scan(); i++ {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			t.Fatalf("source line %d %q: want \"password count\"", i+1, sc.Text())
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil || (last >= 0 && n > last) {
			t.Fatalf("source line %d %q: counts must not grow (previous %d)", i+1, sc.Text(), last)
		}
		last = n
		if fields[0] != words[i] {
			t.Fatalf("line %d is %q, the source's is %q", i+1, words[i], fields[0])
		}
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// BenchmarkCommonPasswordCheck measures the built-in check of a new
// password: NFKC, the username, the list (built before the timer).
func BenchmarkCommonPasswordCheck(b *testing.B) {
	a := checkingAuth(Passwords{})
	ctx := context.Background()
	for _, pw := range []string{"tender lizard kettle", "Password123"} {
		b.Run(pw, func(b *testing.B) {
			_, _ = a.checkNewPassword(ctx, "alice", pw)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = a.checkNewPassword(ctx, "alice", pw)
			}
		})
	}
}

// BenchmarkCommonPasswordsLoad measures building the set, which the first
// new password of a process pays.
func BenchmarkCommonPasswordsLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		buildCommonPasswords()
	}
}
