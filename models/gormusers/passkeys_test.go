package gormusers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// passkeyAt returns a passkey of the user, its ID and key made from n,
// registered at created.
func passkeyAt(n int, userID string, created time.Time) models.Passkey {
	return models.Passkey{
		ID:              fmt.Appendf(nil, "credential %d", n),
		UserID:          userID,
		Name:            fmt.Sprintf("key %d", n),
		PublicKey:       fmt.Appendf(nil, "public key %d", n),
		AttestationType: "none",
		AAGUID:          bytes.Repeat([]byte{byte(n)}, 16),
		Transports:      []string{"internal", "hybrid"},
		SignCount:       uint32(n),
		BackupEligible:  true,
		CreatedAt:       created.Truncate(time.Millisecond),
	}
}

// samePasskey reports how got differs from want, or "".
func samePasskey(got, want models.Passkey) string {
	switch {
	case !bytes.Equal(got.ID, want.ID), got.UserID != want.UserID, got.Name != want.Name,
		!bytes.Equal(got.PublicKey, want.PublicKey), got.AttestationType != want.AttestationType,
		!bytes.Equal(got.AAGUID, want.AAGUID), !slices.Equal(got.Transports, want.Transports),
		got.SignCount != want.SignCount, got.BackupEligible != want.BackupEligible,
		got.BackedUp != want.BackedUp, !got.CreatedAt.Equal(want.CreatedAt),
		!got.LastUsedAt.Equal(want.LastUsedAt):
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	return ""
}

func TestPasskeyStore(t *testing.T) {
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := subscribers(t, handles(t)())
			if err := s.Migrate(); err != nil { // again: idempotent
				t.Fatalf("migrating again: %v", err)
			}
			want := func(w models.Passkey) {
				t.Helper()
				got, err := s.Passkey(ctx, w.ID)
				if err != nil {
					t.Errorf("Passkey(%q): %v", w.ID, err)
				} else if diff := samePasskey(got, w); diff != "" {
					t.Errorf("Passkey(%q): %s", w.ID, diff)
				}
			}
			gone := func(id []byte) {
				t.Helper()
				if got, err := s.Passkey(ctx, id); !errors.Is(err, models.ErrNoFactor) {
					t.Errorf("Passkey(%q) = %+v, %v; want ErrNoFactor", id, got, err)
				}
			}
			list := func(userID string, want ...models.Passkey) {
				t.Helper()
				got, err := s.Passkeys(ctx, userID)
				if err != nil || got == nil || len(got) != len(want) {
					t.Fatalf("Passkeys(%q) = %d passkeys (nil: %v), %v; want %d", userID, len(got), got == nil, err, len(want))
				}
				for i := range want {
					if diff := samePasskey(got[i], want[i]); diff != "" {
						t.Errorf("Passkeys(%q)[%d]: %s", userID, i, diff)
					}
				}
			}
			gone([]byte("credential 1"))
			list("1")

			t0 := time.Now().Add(-time.Hour)
			a, b, c := passkeyAt(1, "1", t0), passkeyAt(2, "1", t0.Add(time.Second)), passkeyAt(3, "2", t0)
			// Binary IDs, which differ only where a collation or padding
			// would make them equal.
			d := passkeyAt(4, "1", t0.Add(time.Second))
			d.ID = []byte("credential 2 ")
			e := passkeyAt(5, "1", t0.Add(time.Second))
			e.ID = []byte("CREDENTIAL 2")
			// The largest the table keeps, with every byte value.
			big := passkeyAt(6, "3", t0)
			big.ID = bytes.Repeat([]byte{0, 0xff, 'a', 0x80}, 256)[:1023]
			big.PublicKey = bytes.Repeat([]byte{0xff, 0, 1}, 2000)[:4096]
			big.Name = strings.Repeat("é", 64) // 64 characters, 128 bytes
			big.AttestationType = strings.Repeat("a", 64)
			big.SignCount = math.MaxUint32
			big.Transports = []string{strings.Repeat("t", 127), strings.Repeat("u", 127)}
			// The least: no name, AAGUID, attestation type or transports.
			small := models.Passkey{ID: []byte{0}, UserID: "3", PublicKey: []byte{1}, CreatedAt: t0.Truncate(time.Millisecond)}
			taken := passkeyAt(1, "2", t0) // a's ID
			taken.Name = "thief"
			for _, c := range []struct {
				name string
				p    models.Passkey
				want error
			}{
				{"a first passkey", a, nil},
				{"a second of the same user", b, nil},
				{"another user's", c, nil},
				{"an ID with a trailing space", d, nil},
				{"an ID in capitals", e, nil},
				{"the largest fields", big, nil},
				{"the least fields", small, nil},
				{"the same again", a, models.ErrFactorExists},
				{"its ID by another user", taken, models.ErrFactorExists},
			} {
				if err := s.AddPasskey(ctx, c.p); !errors.Is(err, c.want) {
					t.Errorf("%s: AddPasskey = %v, want %v", c.name, err, c.want)
				}
			}
			for _, p := range []models.Passkey{a, b, c, d, e, big, small} {
				want(p)
			}
			gone([]byte("credential 2\x00"))
			gone([]byte("credential 9"))
			// Oldest first; of those registered in one millisecond, by ID
			// ("CREDENTIAL 2" < "credential 2" < "credential 2 ").
			list("1", a, e, b, d)
			list("2", c)
			list("3", small, big) // {0} sorts before big's ID
			list("4")

			// A zero CreatedAt is the time of the call.
			before := time.Now().Truncate(time.Millisecond)
			f := passkeyAt(7, "4", time.Time{})
			if err := s.AddPasskey(ctx, f); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Passkey(ctx, f.ID); err != nil || got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now()) {
				t.Errorf("CreatedAt of a passkey added without one: %v, %v (added after %v)", got.CreatedAt, err, before)
			}

			// Sign-ins: the counter moves from the value read, once.
			at := t0.Add(time.Minute).Truncate(time.Millisecond)
			counterless := passkeyAt(0, "1", t0.Add(2*time.Second))
			counterless.ID = []byte("counterless")
			if err := s.AddPasskey(ctx, counterless); err != nil {
				t.Fatal(err)
			}
			for i, c := range []struct {
				name      string
				key       models.Passkey
				was, now  uint32
				backedUp  bool
				want      bool
				wantCount uint32
			}{
				{"a sign-in", a, 1, 5, true, true, 5},
				{"a replay of its counter", a, 1, 6, false, false, 5},
				{"the next sign-in", a, 5, 6, false, true, 6},
				{"a counter read before the last", a, 5, 7, true, false, 6},
				{"to the largest counter", a, 6, math.MaxUint32, false, true, math.MaxUint32},
				{"another user's passkey", c, 3, 4, false, true, 4},
				{"no counter", counterless, 0, 0, true, true, 0},
				{"no counter again, at the same time", counterless, 0, 0, true, true, 0},
				{"a counter where none was", counterless, 1, 2, true, false, 0},
			} {
				used := at.Add(time.Duration(i) * time.Millisecond)
				if c.name == "no counter again, at the same time" {
					used = used.Add(-time.Millisecond) // nothing changes: MySQL counts no row
				}
				ok, err := s.UsePasskey(ctx, c.key.ID, c.was, c.now, c.backedUp, used)
				if err != nil || ok != c.want {
					t.Errorf("%s: UsePasskey = %v, %v; want %v", c.name, ok, err, c.want)
				}
				got, err := s.Passkey(ctx, c.key.ID)
				if err != nil || got.SignCount != c.wantCount {
					t.Errorf("%s: counter %d, %v; want %d", c.name, got.SignCount, err, c.wantCount)
				}
				if c.want && (got.BackedUp != c.backedUp || !got.LastUsedAt.Equal(used)) {
					t.Errorf("%s: backed up %v, last used %v; want %v, %v", c.name, got.BackedUp, got.LastUsedAt, c.backedUp, used)
				}
			}
			a.SignCount, a.LastUsedAt = math.MaxUint32, at.Add(4*time.Millisecond)
			want(a) // nothing else changed
			want(b) // nor another passkey
			counterless.BackedUp, counterless.LastUsedAt = true, at.Add(6*time.Millisecond)
			want(counterless)
			if ok, err := s.UsePasskey(ctx, []byte("credential 9"), 0, 1, false, at); ok || !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("UsePasskey of an unknown passkey = %v, %v; want ErrNoFactor", ok, err)
			}

			// Renaming and deleting: only the owner's, and nothing else.
			for _, c := range []struct {
				name string
				call func() error
				want error
			}{
				{"renaming one's own", func() error { return s.RenamePasskey(ctx, "1", b.ID, "laptop") }, nil},
				{"renaming it to the same", func() error { return s.RenamePasskey(ctx, "1", b.ID, "laptop") }, nil},
				{"renaming another user's", func() error { return s.RenamePasskey(ctx, "2", b.ID, "mine now") }, models.ErrNoFactor},
				{"renaming an unknown one", func() error { return s.RenamePasskey(ctx, "1", []byte("credential 9"), "x") }, models.ErrNoFactor},
				{"renaming to no name", func() error { return s.RenamePasskey(ctx, "1", d.ID, "") }, nil},
				{"deleting another user's", func() error { return s.DeletePasskey(ctx, "2", a.ID) }, models.ErrNoFactor},
				{"deleting an unknown one", func() error { return s.DeletePasskey(ctx, "1", []byte("credential 9")) }, models.ErrNoFactor},
				{"deleting one's own", func() error { return s.DeletePasskey(ctx, "1", a.ID) }, nil},
				{"deleting it again", func() error { return s.DeletePasskey(ctx, "1", a.ID) }, models.ErrNoFactor},
				{"renaming a deleted one", func() error { return s.RenamePasskey(ctx, "1", a.ID, "x") }, models.ErrNoFactor},
			} {
				if err := c.call(); !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", c.name, err, c.want)
				}
			}
			b.Name, d.Name = "laptop", ""
			gone(a.ID)
			if ok, err := s.UsePasskey(ctx, a.ID, math.MaxUint32, math.MaxUint32, false, at); ok || !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("UsePasskey of a deleted passkey = %v, %v; want ErrNoFactor", ok, err)
			}
			list("1", e, b, d, counterless)
			c.SignCount, c.LastUsedAt = 4, at.Add(5*time.Millisecond)
			list("2", c)
			// A deleted ID can be registered again, by anyone.
			if err := s.AddPasskey(ctx, taken); err != nil {
				t.Errorf("adding a deleted ID again: %v", err)
			}
			want(taken)

			// What the table cannot keep as it is.
			long := strings.Repeat("1", 192)
			with := func(change func(p *models.Passkey)) models.Passkey {
				p := passkeyAt(100, "5", t0)
				change(&p)
				return p
			}
			for _, c := range []struct {
				name string
				p    models.Passkey
			}{
				{"no ID", with(func(p *models.Passkey) { p.ID = nil })},
				{"a long ID", with(func(p *models.Passkey) { p.ID = make([]byte, 1024) })},
				{"no user", with(func(p *models.Passkey) { p.UserID = "" })},
				{"a long user ID", with(func(p *models.Passkey) { p.UserID = long })},
				{"no public key", with(func(p *models.Passkey) { p.PublicKey = nil })},
				{"a long public key", with(func(p *models.Passkey) { p.PublicKey = make([]byte, 4097) })},
				{"a long name", with(func(p *models.Passkey) { p.Name = strings.Repeat("é", 64) + "a" })},
				{"a name that is not UTF-8", with(func(p *models.Passkey) { p.Name = "\xff" })},
				{"a name with NUL", with(func(p *models.Passkey) { p.Name = "a\x00b" })},
				{"a long attestation type", with(func(p *models.Passkey) { p.AttestationType = strings.Repeat("a", 65) })},
				{"a long AAGUID", with(func(p *models.Passkey) { p.AAGUID = make([]byte, 17) })},
				{"an empty transport", with(func(p *models.Passkey) { p.Transports = []string{"usb", ""} })},
				{"a transport with a comma", with(func(p *models.Passkey) { p.Transports = []string{"usb,nfc"} })},
				{"long transports", with(func(p *models.Passkey) { p.Transports = []string{strings.Repeat("t", 128), strings.Repeat("u", 127)} })},
			} {
				if err := s.AddPasskey(ctx, c.p); !errors.Is(err, gormusers.ErrFactorField) {
					t.Errorf("AddPasskey with %s = %v, want ErrFactorField", c.name, err)
				}
			}
			list("5")
			for _, c := range []struct {
				name string
				call func() error
			}{
				{"Passkey, no ID", func() error { _, err := s.Passkey(ctx, nil); return err }},
				{"Passkey, a long ID", func() error { _, err := s.Passkey(ctx, make([]byte, 1024)); return err }},
				{"Passkeys, no user", func() error { _, err := s.Passkeys(ctx, ""); return err }},
				{"Passkeys, a long user ID", func() error { _, err := s.Passkeys(ctx, long); return err }},
				{"UsePasskey, no ID", func() error { _, err := s.UsePasskey(ctx, nil, 0, 1, false, at); return err }},
				{"UsePasskey, no time", func() error { _, err := s.UsePasskey(ctx, b.ID, 2, 3, false, time.Time{}); return err }},
				{"RenamePasskey, no user", func() error { return s.RenamePasskey(ctx, "", b.ID, "x") }},
				{"RenamePasskey, no ID", func() error { return s.RenamePasskey(ctx, "1", nil, "x") }},
				{"RenamePasskey, a long name", func() error { return s.RenamePasskey(ctx, "1", b.ID, strings.Repeat("n", 65)) }},
				{"RenamePasskey, a name not UTF-8", func() error { return s.RenamePasskey(ctx, "1", b.ID, "\xc3") }},
				{"DeletePasskey, no user", func() error { return s.DeletePasskey(ctx, "", b.ID) }},
				{"DeletePasskey, a long ID", func() error { return s.DeletePasskey(ctx, "1", make([]byte, 1024)) }},
			} {
				if err := c.call(); !errors.Is(err, gormusers.ErrFactorField) {
					t.Errorf("%s = %v, want ErrFactorField", c.name, err)
				}
			}
			want(b) // untouched by the refused calls
		})
	}
}

// Concurrent registrations of one credential ID, sign-ins with one
// counter value, and deletions of one passkey, from two instances: one of
// each succeeds.
func TestPasskeyRace(t *testing.T) {
	const rounds = 5
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := handles(t)
			one := subscribers(t, open())
			two := gormusers.New[Subscriber](open())
			t0 := time.Now()

			for round := range rounds {
				var mu sync.Mutex
				n, winner := 0, ""
				wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
					mu.Lock()
					n++
					userID := fmt.Sprint(n)
					mu.Unlock()
					err := s.AddPasskey(ctx, passkeyAt(round, userID, t0))
					if errors.Is(err, models.ErrFactorExists) {
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
					t.Fatalf("round %d: the ID was added %d times, want once", round, wins)
				}
				got, err := one.Passkey(ctx, passkeyAt(round, "", t0).ID)
				if err != nil || got.UserID != winner {
					t.Errorf("round %d: the passkey is %q's (%v), the winner %q", round, got.UserID, err, winner)
				}
			}

			id := passkeyAt(0, "", t0).ID
			for round := range rounds {
				was := uint32(round) // passkeyAt(0) starts at 0
				wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
					return s.UsePasskey(ctx, id, was, was+1, true, time.Now())
				})
				if wins != 1 {
					t.Errorf("counter %d was moved on %d times, want once", was, wins)
				}
			}
			if got, err := one.Passkey(ctx, id); err != nil || got.SignCount != rounds || !got.BackedUp || got.LastUsedAt.IsZero() {
				t.Errorf("after the races: %+v, %v; want counter %d", got, err, rounds)
			}

			// A counterless authenticator: nothing tells its sign-ins
			// apart, and every one is recorded.
			p := passkeyAt(rounds, "1", t0)
			p.SignCount = 0
			if err := one.AddPasskey(ctx, p); err != nil {
				t.Fatal(err)
			}
			if wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
				return s.UsePasskey(ctx, p.ID, 0, 0, false, time.Now())
			}); wins != 12 {
				t.Errorf("%d of 12 concurrent sign-ins without a counter were recorded", wins)
			}

			// Concurrent deletions by the owner: one deletes it.
			owner := mustOwner(t, one, id)
			wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
				err := s.DeletePasskey(ctx, owner, id)
				if errors.Is(err, models.ErrNoFactor) {
					return false, nil
				}
				return err == nil, err
			})
			if wins != 1 {
				t.Errorf("the passkey was deleted %d times, want once", wins)
			}
			// And sign-ins racing the deletion: none fails otherwise than
			// as ErrNoFactor.
			p.ID = []byte("deleted while used")
			if err := one.AddPasskey(ctx, p); err != nil {
				t.Fatal(err)
			}
			race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
				if s == two {
					return false, ignore(s.DeletePasskey(ctx, "1", p.ID), models.ErrNoFactor)
				}
				ok, err := s.UsePasskey(ctx, p.ID, 0, 1, false, time.Now())
				return ok, ignore(err, models.ErrNoFactor)
			})
			if _, err := one.Passkey(ctx, p.ID); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("Passkey after the deletions = %v, want ErrNoFactor", err)
			}
		})
	}
}

// mustOwner returns the ID of the user whose passkey id is.
func mustOwner(t *testing.T, s *gormusers.Store[Subscriber, *Subscriber], id []byte) string {
	t.Helper()
	p, err := s.Passkey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.UserID
}

// ignore returns err unless it is target.
func ignore(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}
