package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

type nopUsers struct{ models.UserStore[*models.User] }

func validConfig() Config[*models.User] {
	sm, err := session.New(session.Config{
		Store:   memstore.New(memstore.Options{SweepInterval: -1}),
		Secrets: [][]byte{[]byte("auth-test-secret-0123456789abcdef!!")},
	})
	if err != nil {
		panic(err)
	}
	return Config[*models.User]{Sessions: sm, Users: nopUsers{}}
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config[*models.User])
	}{
		{"no session manager", func(c *Config[*models.User]) { c.Sessions = nil }},
		{"no users", func(c *Config[*models.User]) { c.Users = nil }},
		{"weak bcrypt", func(c *Config[*models.User]) { c.Passwords.BcryptCost = 8 }},
		{"invalid bcrypt", func(c *Config[*models.User]) { c.Passwords.BcryptCost, c.Passwords.AllowLowCost = 2, true }},
		{"short passwords", func(c *Config[*models.User]) { c.Passwords.MinLength = 6 }},
		{"negative hash slots", func(c *Config[*models.User]) { c.Passwords.MaxConcurrentHashes = -1 }},
		{"a throttle rule that never locks", func(c *Config[*models.User]) { c.Throttle.PerIP.Failures = -1 }},
		{"a nil password check", func(c *Config[*models.User]) { c.Passwords.Checks = []PasswordChecker{nil} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.edit(&cfg)
			a, err := New(cfg)
			if a != nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("New = %v, %v; want an ErrConfig", a, err)
			}
			// One line, one prefix.
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "auth: unsafe configuration: ") ||
				strings.Contains(msg[len("auth: unsafe configuration: "):], "auth:") {
				t.Errorf("error %q: want one line, one prefix", msg)
			}
		})
	}
	a, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	// OWASP defaults.
	if a.hasher.cost != 12 || a.minPass != 8 || a.throttle.PerAccount.Failures != 5 {
		t.Errorf("defaults: cost %d, minimum password %d, throttle %+v", a.hasher.cost, a.minPass, a.throttle)
	}
	if a.cache == nil {
		t.Error("no user cache by default")
	}
}

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"  Alice ", "alice", true},
		{"ＡＬＩＣＥ", "alice", true}, // fullwidth
		{"ﬁona", "fiona", true},  // ligature
		{"bob.smith+tag@example.org", "bob.smith+tag@example.org", true},
		{"Ĵosé", "ĵosé", true},
		{"jose\u0301", "josé", true}, // decomposed accent composes
		{"дмитрий", "дмитрий", true},
		{"山田", "山田", true},
		{"", "", false},
		{"   ", "", false},
		{"a b", "", false},
		{"a\x00b", "", false},
		{"bad\xffutf8", "", false},
		{"semi;colon", "", false},
		{"slash/", "", false},
		{"pаypal", "", false}, // Cyrillic а among Latin letters
		{"αlpha", "", false},  // Greek with Latin
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), "", false},
		{strings.Repeat("山", 64), "", false}, // 192 bytes
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidUsername) {
			t.Errorf("error %v is not ErrInvalidUsername", err)
		}
	}
}

// New names must also be valid under RFC 8265's UsernameCaseMapped; names
// accepted before that check still normalize (and so sign in).
func TestNormalizeNewUsername(t *testing.T) {
	for in, want := range map[string]string{
		"Alice": "alice", "ｊｏｓé": "josé", "user.name+tag@example.org": "user.name+tag@example.org",
		"abʹ": "", "abˆ": "", "a\u034fb": "",
	} {
		got, err := normalizeNewUsername(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("normalizeNewUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, err := NormalizeUsername("abʹ"); err != nil || got != "abʹ" {
		t.Errorf("a name registered before the PRECIS check no longer normalizes: %q, %v", got, err)
	}
}

func TestNormalizeNewPassword(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"12345678", nil},
		{"1234567", ErrWeakPassword},
		{"", ErrWeakPassword},
		{"ééééééé", ErrWeakPassword}, // 7 characters, 14 bytes
		{"éééééééé", nil},
		{strings.Repeat("x", 72), nil},
		{strings.Repeat("x", 73), ErrPasswordTooLong},
		{strings.Repeat("é", 37), ErrPasswordTooLong}, // 74 bytes: never truncated
		{"bad\xffutf8 pw", ErrInvalidPassword},
		{"ﷺ", ErrWeakPassword},                       // one character as typed, 18 after NFKC
		{"ﬃﬃﬃﬃ", ErrWeakPassword},                    // four ligatures, twelve letters after NFKC
		{strings.Repeat("ﷺ", 8), ErrPasswordTooLong}, // long enough as typed, over 72 bytes hashed
		{"ｐａｓｓｗｏｒｄ", nil},                            // 8 fullwidth characters
	}
	for _, tt := range tests {
		_, err := normalizeNewPassword(tt.in, 8)
		if !errors.Is(err, tt.want) && (err != nil || tt.want != nil) {
			t.Errorf("normalizeNewPassword(%q) = %v, want %v", tt.in, err, tt.want)
		}
	}
	// Composed and decomposed spellings are one password.
	a, _ := normalizeNewPassword("caf\u00e9 au lait", 8)
	b, _ := normalizeNewPassword("cafe\u0301 au lait", 8)
	if a != b {
		t.Errorf("NFKC: %q != %q", a, b)
	}
}

func TestDummyHashCostsAsMuchAsARealOne(t *testing.T) {
	for _, cost := range []int{4, 10, 12} {
		d := dummyHash(cost)
		if c, err := bcrypt.Cost(d); err != nil || c != cost {
			t.Errorf("dummy hash cost = %d, %v; want %d", c, err, cost)
		}
		// A well-formed hash: the comparison runs bcrypt and fails on the
		// result, not on the format.
		if err := bcrypt.CompareHashAndPassword(d, []byte("anything")); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			t.Errorf("comparing with the dummy: %v", err)
		}
	}
	h := newHasher(4)
	for _, pw := range []string{"", "x", strings.Repeat("y", 100)} {
		if h.compare("", pw) {
			t.Errorf("compare against no hash of %q matched", pw)
		}
	}
	good, _ := h.hash("right password")
	if !h.compare(good, "right password") {
		t.Error("right password refused")
	}
	if h.compare("$2a$04$garbage", "right password") {
		t.Error("a malformed stored hash matched")
	}
}

func TestGateBoundsConcurrentHashing(t *testing.T) {
	g := newGate(2, 5*time.Millisecond, noMetrics{})
	ctx := context.Background()
	r1, err1 := g.enter(ctx, "a")
	r2, err2 := g.enter(ctx, "a")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, err := g.enter(ctx, "a")
	var re *RetryError
	if !errors.As(err, &re) || !errors.Is(err, ErrBusy) || re.After <= 0 {
		t.Fatalf("third hash while two run = %v; want ErrBusy with Retry-After", err)
	}
	r1()
	r3, err := g.enter(ctx, "b")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
}

func TestAddressBlock(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"":                     "",
		"not an address":       "not an address",
	} {
		if got := addressBlock(in); got != want {
			t.Errorf("addressBlock(%q) = %q, want %q", in, got, want)
		}
	}
}

// foldingUsers is a user store whose lookups ignore the name, as a
// collation that folds accents and case would for look-alikes: it answers
// its one user for every name, or its error.
type foldingUsers struct {
	nopUsers
	user *models.User
	err  error
}

func (f foldingUsers) FindByUsername(context.Context, string) (*models.User, error) {
	return f.user, f.err
}

// FindUser, like a login, takes only the user whose name is exactly the
// normalized one, whatever the store returns.
func TestFindUserMatchesExactly(t *testing.T) {
	alice := &models.User{ID: 1, Username: "alice"}
	down := errors.New("connection refused")
	tests := []struct {
		name    string
		users   foldingUsers
		lookup  string
		want    *models.User
		wantErr error
	}{
		{"same name", foldingUsers{user: alice}, "alice", alice, nil},
		{"another spelling of the name", foldingUsers{user: alice}, " ＡＬＩＣＥ ", alice, nil},
		{"an accented look-alike", foldingUsers{user: alice}, "âlice", nil, models.ErrUserNotFound},
		{"a combining accent", foldingUsers{user: alice}, "alice\u0301", nil, models.ErrUserNotFound},
		{"a malformed name", foldingUsers{user: alice}, "al ice!", nil, models.ErrUserNotFound},
		{"no such user", foldingUsers{err: models.ErrUserNotFound}, "bob", nil, models.ErrUserNotFound},
		{"the store is down", foldingUsers{err: down}, "alice", nil, sessionstore.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.Users = tt.users
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close() })
			got, err := a.FindUser(context.Background(), tt.lookup)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("FindUser(%q) = %v, %v; want %v, %v", tt.lookup, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestMailBacklogShare: one client address holds at most jobsPerAddress
// of the background backlog, so that a few addresses asking as fast as
// their throttle allows cannot fill it; another address's work, and a
// notice (no address), still get in, and the share comes back as the
// address's jobs run.
func TestMailBacklogShare(t *testing.T) {
	a := &Auth[*models.User]{rec: &recovery[*models.User]{jobs: make(chan func(context.Context), jobBacklog)}, log: slog.New(slog.DiscardHandler)}
	ran := 0
	job := func(context.Context) { ran++ }
	for range 3 * jobsPerAddress {
		a.laterFor("ip:203.0.113.7", job)
	}
	if n := len(a.rec.jobs); n != jobsPerAddress {
		t.Fatalf("one address queued %d jobs, want its share, %d", n, jobsPerAddress)
	}
	a.laterFor("ip:198.51.100.9", job)
	a.later(job)
	if n := len(a.rec.jobs); n != jobsPerAddress+2 {
		t.Fatalf("after another address's job and a notice: %d queued, want %d", n, jobsPerAddress+2)
	}
	(<-a.rec.jobs)(context.Background()) // one of the first address's runs
	a.laterFor("ip:203.0.113.7", job)
	if n := len(a.rec.jobs); n != jobsPerAddress+2 || ran != 1 {
		t.Fatalf("after one of its jobs ran, the address could queue one more: %d queued (want %d), %d ran", n, jobsPerAddress+2, ran)
	}
	for len(a.rec.jobs) > 0 {
		(<-a.rec.jobs)(context.Background())
	}
	if len(a.rec.waiting) != 0 {
		t.Errorf("counts left after every job ran: %v", a.rec.waiting)
	}
}
