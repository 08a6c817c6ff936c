package gormusers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// identityAt returns an identity of the user at provider, linked at
// created.
func identityAt(provider, subject, userID string, created time.Time) models.Identity {
	return models.Identity{
		Provider:  provider,
		Subject:   subject,
		UserID:    userID,
		Email:     fmt.Sprintf("%s@%s.example", subject, provider),
		CreatedAt: created.Truncate(time.Millisecond),
	}
}

// sameIdentity reports how got differs from want, or "".
func sameIdentity(got, want models.Identity) string {
	if got.Provider != want.Provider || got.Subject != want.Subject || got.UserID != want.UserID ||
		got.Email != want.Email || !got.CreatedAt.Equal(want.CreatedAt) || !got.LastUsedAt.Equal(want.LastUsedAt) {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

func TestIdentityStore(t *testing.T) {
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := subscribers(t, handles(t)())
			if err := s.Migrate(); err != nil { // again: idempotent
				t.Fatalf("migrating again: %v", err)
			}
			want := func(w models.Identity) {
				t.Helper()
				got, err := s.Identity(ctx, w.Provider, w.Subject)
				if err != nil {
					t.Errorf("Identity(%q, %q): %v", w.Provider, w.Subject, err)
				} else if diff := sameIdentity(got, w); diff != "" {
					t.Errorf("Identity(%q, %q): %s", w.Provider, w.Subject, diff)
				}
			}
			gone := func(provider, subject string) {
				t.Helper()
				if got, err := s.Identity(ctx, provider, subject); !errors.Is(err, models.ErrNoFactor) {
					t.Errorf("Identity(%q, %q) = %+v, %v; want ErrNoFactor", provider, subject, got, err)
				}
			}
			list := func(userID string, want ...models.Identity) {
				t.Helper()
				got, err := s.Identities(ctx, userID)
				if err != nil || got == nil || len(got) != len(want) {
					t.Fatalf("Identities(%q) = %d identities (nil: %v), %v; want %d", userID, len(got), got == nil, err, len(want))
				}
				for i := range want {
					if diff := sameIdentity(got[i], want[i]); diff != "" {
						t.Errorf("Identities(%q)[%d]: %s", userID, i, diff)
					}
				}
			}
			gone("google", "ABC")
			list("1")

			t0 := time.Now().Add(-time.Hour)
			t1 := t0.Add(time.Second)
			a := identityAt("google", "ABC", "1", t0)
			// Subjects and providers that differ only where a collation,
			// padding or a missing separator would make them one.
			lower := identityAt("google", "abc", "1", t1)
			spaced := identityAt("google", "ABC ", "1", t1)
			corp := identityAt("corp", "ABC", "2", t0)
			upper := identityAt("Google", "ABC", "2", t1)
			joined := identityAt("googl", "eABC", "2", t1)
			nfc := identityAt("corp", "\u00e9", "1", t1)            // é
			nfd := identityAt("corp", "e\u0301", "1", t1)           // e and a combining acute
			later := identityAt("a", "z", "1", t1.Add(time.Second)) // later, though "a" sorts first
			// The largest the table keeps.
			big := identityAt(strings.Repeat("é", 32), strings.Repeat("é", 127)+"s", "3", t0)
			big.Email = strings.Repeat("m", 65) + "@" + strings.Repeat("é", 93) + ".x" // 254 bytes
			big.LastUsedAt = t1.Truncate(time.Millisecond)
			// The least: no email.
			small := models.Identity{Provider: "p", Subject: "s", UserID: "3", CreatedAt: t0.Truncate(time.Millisecond)}
			taken := identityAt("google", "ABC", "2", t0) // a's
			taken.Email = "thief@x.example"
			for _, c := range []struct {
				name string
				id   models.Identity
				want error
			}{
				{"a first identity", a, nil},
				{"its subject in small letters", lower, nil},
				{"its subject with a trailing space", spaced, nil},
				{"its subject at another provider, another user's", corp, nil},
				{"its provider in capitals", upper, nil},
				{"the provider's last letter moved to the subject", joined, nil},
				{"a composed subject", nfc, nil},
				{"the same decomposed", nfd, nil},
				{"a later one", later, nil},
				{"the largest fields", big, nil},
				{"the least fields", small, nil},
				{"the same again", a, models.ErrIdentityExists},
				{"the same by another user", taken, models.ErrIdentityExists},
				{"another's by its owner again", corp, models.ErrIdentityExists},
			} {
				if err := s.LinkIdentity(ctx, c.id); !errors.Is(err, c.want) {
					t.Errorf("%s: LinkIdentity = %v, want %v", c.name, err, c.want)
				}
			}
			for _, id := range []models.Identity{a, lower, spaced, corp, upper, joined, nfc, nfd, later, big, small} {
				want(id)
			}
			gone("google", "Abc")
			gone("GOOGLE", "ABC")
			gone("google", "ABC  ")
			gone("corp", "abc")
			// Oldest first; of those linked in one millisecond, by provider
			// then subject, byte for byte ("corp" < "google"; "ABC " <
			// "abc"; "e\u0301" < "\u00e9").
			list("1", a, nfd, nfc, spaced, lower, later)
			list("2", corp, upper, joined) // "Google" < "googl"
			list("3", small, big)          // both at t0: "p" < "é..." in bytes
			list("4")

			// A zero CreatedAt is the time of the call.
			before := time.Now().Truncate(time.Millisecond)
			now := identityAt("google", "now", "4", time.Time{})
			if err := s.LinkIdentity(ctx, now); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Identity(ctx, "google", "now"); err != nil || got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now()) {
				t.Errorf("CreatedAt of an identity linked without one: %v, %v (linked after %v)", got.CreatedAt, err, before)
			}

			// Sign-ins: the last use and the email, of that identity only.
			at := t0.Add(time.Minute).Truncate(time.Millisecond)
			for _, c := range []struct {
				name  string
				id    *models.Identity
				email string
				at    time.Time
			}{
				{"a sign-in", &a, "new@x.example", at},
				{"the same again: nothing changes", &a, "new@x.example", at},
				{"with no email", &lower, "", at.Add(time.Millisecond)},
				{"another user's identity", &corp, "corp@x.example", at.Add(2 * time.Millisecond)},
			} {
				if err := s.UseIdentity(ctx, c.id.Provider, c.id.Subject, c.email, c.at); err != nil {
					t.Errorf("%s: UseIdentity = %v", c.name, err)
				}
				c.id.Email, c.id.LastUsedAt = c.email, c.at
				want(*c.id)
			}
			want(spaced) // untouched by the sign-ins of look-alikes
			want(upper)
			if err := s.UseIdentity(ctx, "google", "Abc", "x@x.example", at); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("UseIdentity of an unknown identity = %v, want ErrNoFactor", err)
			}

			// Unlinking: only the owner's, and nothing else.
			for _, c := range []struct {
				name string
				call func() error
				want error
			}{
				{"another user's", func() error { return s.UnlinkIdentity(ctx, "2", "google", "ABC") }, models.ErrNoFactor},
				{"one's own, another case", func() error { return s.UnlinkIdentity(ctx, "1", "google", "Abc") }, models.ErrNoFactor},
				{"one's own, at another provider", func() error { return s.UnlinkIdentity(ctx, "1", "corp", "ABC") }, models.ErrNoFactor},
				{"an unknown one", func() error { return s.UnlinkIdentity(ctx, "1", "google", "nobody") }, models.ErrNoFactor},
				{"one's own", func() error { return s.UnlinkIdentity(ctx, "1", "google", "ABC") }, nil},
				{"it again", func() error { return s.UnlinkIdentity(ctx, "1", "google", "ABC") }, models.ErrNoFactor},
				{"its sign-in", func() error { return s.UseIdentity(ctx, "google", "ABC", "", at) }, models.ErrNoFactor},
			} {
				if err := c.call(); !errors.Is(err, c.want) {
					t.Errorf("unlinking %s: %v, want %v", c.name, err, c.want)
				}
			}
			gone("google", "ABC")
			list("1", nfd, nfc, spaced, lower, later)
			list("2", corp, upper, joined)
			// An unlinked identity can be linked again, by anyone.
			if err := s.LinkIdentity(ctx, taken); err != nil {
				t.Errorf("linking an unlinked identity again: %v", err)
			}
			want(taken)

			// What the table cannot keep as it is.
			long := strings.Repeat("1", 192)
			with := func(change func(id *models.Identity)) models.Identity {
				id := identityAt("google", "new", "5", t0)
				change(&id)
				return id
			}
			for _, c := range []struct {
				name string
				id   models.Identity
			}{
				{"no provider", with(func(id *models.Identity) { id.Provider = "" })},
				{"a long provider", with(func(id *models.Identity) { id.Provider = strings.Repeat("p", 65) })},
				{"a provider that is not UTF-8", with(func(id *models.Identity) { id.Provider = "go\xffgle" })},
				{"a provider with NUL", with(func(id *models.Identity) { id.Provider = "google\x00" })},
				{"no subject", with(func(id *models.Identity) { id.Subject = "" })},
				{"a long subject", with(func(id *models.Identity) { id.Subject = strings.Repeat("é", 128) })},
				{"a subject that is not UTF-8", with(func(id *models.Identity) { id.Subject = "\xc3" })},
				{"a subject with NUL", with(func(id *models.Identity) { id.Subject = "\x00new" })},
				{"no user", with(func(id *models.Identity) { id.UserID = "" })},
				{"a long user ID", with(func(id *models.Identity) { id.UserID = long })},
				{"a long email", with(func(id *models.Identity) { id.Email = strings.Repeat("m", 255) })},
				{"an email that is not UTF-8", with(func(id *models.Identity) { id.Email = "\xff@x" })},
				{"an email with NUL", with(func(id *models.Identity) { id.Email = "a\x00@x" })},
			} {
				if err := s.LinkIdentity(ctx, c.id); !errors.Is(err, gormusers.ErrFactorField) {
					t.Errorf("LinkIdentity with %s = %v, want ErrFactorField", c.name, err)
				}
			}
			list("5")
			for _, c := range []struct {
				name string
				call func() error
			}{
				{"Identity, no provider", func() error { _, err := s.Identity(ctx, "", "ABC"); return err }},
				{"Identity, a long subject", func() error { _, err := s.Identity(ctx, "google", strings.Repeat("s", 256)); return err }},
				{"Identities, no user", func() error { _, err := s.Identities(ctx, ""); return err }},
				{"Identities, a long user ID", func() error { _, err := s.Identities(ctx, long); return err }},
				{"UseIdentity, no subject", func() error { return s.UseIdentity(ctx, "google", "", "", at) }},
				{"UseIdentity, a long email", func() error { return s.UseIdentity(ctx, "google", "abc", strings.Repeat("m", 255), at) }},
				{"UseIdentity, no time", func() error { return s.UseIdentity(ctx, "google", "abc", "", time.Time{}) }},
				{"UnlinkIdentity, no user", func() error { return s.UnlinkIdentity(ctx, "", "google", "abc") }},
				{"UnlinkIdentity, a provider with NUL", func() error { return s.UnlinkIdentity(ctx, "1", "goo\x00gle", "abc") }},
			} {
				if err := c.call(); !errors.Is(err, gormusers.ErrFactorField) {
					t.Errorf("%s = %v, want ErrFactorField", c.name, err)
				}
			}
			want(lower) // untouched by the refused calls
		})
	}
}

// Concurrent links of one identity by different users, and unlinks of one
// identity by its owner, from two instances: one of each succeeds.
func TestIdentityRace(t *testing.T) {
	const rounds = 5
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := handles(t)
			one := subscribers(t, open())
			two := gormusers.New[Subscriber](open())
			t0 := time.Now()

			for round := range rounds {
				subject := fmt.Sprintf("subject %d", round)
				var mu sync.Mutex
				n, winner := 0, ""
				wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
					mu.Lock()
					n++
					userID := fmt.Sprint(n)
					mu.Unlock()
					err := s.LinkIdentity(ctx, identityAt("google", subject, userID, t0))
					if errors.Is(err, models.ErrIdentityExists) {
						return false, nil
					}
					if err == nil {
						mu.Lock()
						winner = userID
						mu.Unlock()
					}
					return err == nil, err
				})
				if wins != 1 {
					t.Fatalf("round %d: the identity was linked %d times, want once", round, wins)
				}
				got, err := one.Identity(ctx, "google", subject)
				if err != nil || got.UserID != winner {
					t.Errorf("round %d: the identity is %q's (%v), the winner %q", round, got.UserID, err, winner)
				}
				// Every loser has none.
				for u := 1; u <= n; u++ {
					ids, err := two.Identities(ctx, fmt.Sprint(u))
					if mine := fmt.Sprint(u) == winner; err != nil || mine != hasSubject(ids, subject) {
						t.Errorf("round %d: user %d has %+v, %v", round, u, ids, err)
					}
				}
			}

			// Concurrent unlinks by the owner: one unlinks it.
			owner, err := one.Identity(ctx, "google", "subject 0")
			if err != nil {
				t.Fatal(err)
			}
			wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
				err := s.UnlinkIdentity(ctx, owner.UserID, "google", "subject 0")
				if errors.Is(err, models.ErrNoFactor) {
					return false, nil
				}
				return err == nil, err
			})
			if wins != 1 {
				t.Errorf("the identity was unlinked %d times, want once", wins)
			}

			// Sign-ins racing an unlink: none fails otherwise than as
			// ErrNoFactor, and the identity is gone after.
			owner, err = one.Identity(ctx, "google", "subject 1")
			if err != nil {
				t.Fatal(err)
			}
			race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
				if s == two {
					err := s.UnlinkIdentity(ctx, owner.UserID, "google", "subject 1")
					return err == nil, ignore(err, models.ErrNoFactor)
				}
				return false, ignore(s.UseIdentity(ctx, "google", "subject 1", "x@x.example", time.Now()), models.ErrNoFactor)
			})
			if _, err := one.Identity(ctx, "google", "subject 1"); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("Identity after the unlinks = %v, want ErrNoFactor", err)
			}
		})
	}
}

func hasSubject(ids []models.Identity, subject string) bool {
	for _, id := range ids {
		if id.Subject == subject {
			return true
		}
	}
	return false
}
