package gormusers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
)

// sealed returns a stand-in for a sealed secret, made from n.
func sealed(n int) []byte { return fmt.Appendf(nil, "sealed secret %d", n) }

// codes returns the hashes of n recovery codes made from set.
func codes(set, n int) [][32]byte {
	hs := make([][32]byte, n)
	for i := range hs {
		hs[i] = sha256.Sum256(fmt.Appendf(nil, "code %d-%d", set, i))
	}
	return hs
}

func TestTOTPStore(t *testing.T) {
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := subscribers(t, handles(t)())
			if err := s.Migrate(); err != nil { // again: idempotent
				t.Fatalf("migrating again: %v", err)
			}
			want := func(userID string, w models.TOTP) {
				t.Helper()
				got, err := s.TOTP(ctx, userID)
				if err != nil || !bytes.Equal(got.Sealed, w.Sealed) || got.Confirmed != w.Confirmed || got.LastStep != w.LastStep {
					t.Errorf("TOTP(%q) = %+v, %v; want %+v", userID, got, err, w)
				}
			}
			use := func(userID string, step int64) bool {
				t.Helper()
				ok, err := s.UseTOTPStep(ctx, userID, step)
				if err != nil {
					t.Fatalf("UseTOTPStep(%q, %d): %v", userID, step, err)
				}
				return ok
			}
			if _, err := s.TOTP(ctx, "1"); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("TOTP without an enrolment = %v, want ErrNoFactor", err)
			}

			// Enrol, replace while unconfirmed, confirm.
			for _, c := range []struct {
				name string
				call func() error
				want error
			}{
				{"a first enrolment", func() error { return s.SetTOTP(ctx, "1", sealed(1)) }, nil},
				{"the same again", func() error { return s.SetTOTP(ctx, "1", sealed(1)) }, nil},
				{"a replacement while unconfirmed", func() error { return s.SetTOTP(ctx, "1", sealed(2)) }, nil},
				{"no step used while unconfirmed", func() error { _, err := s.UseTOTPStep(ctx, "1", 5); return err }, models.ErrNoFactor},
				{"confirming the replaced secret", func() error { return s.ConfirmTOTP(ctx, "1", sealed(1), 100) }, models.ErrNoFactor},
				{"confirming another user's", func() error { return s.ConfirmTOTP(ctx, "2", sealed(2), 100) }, models.ErrNoFactor},
				{"confirming the current secret", func() error { return s.ConfirmTOTP(ctx, "1", sealed(2), 100) }, nil},
				{"confirming again", func() error { return s.ConfirmTOTP(ctx, "1", sealed(2), 101) }, models.ErrNoFactor},
				{"enrolling while confirmed", func() error { return s.SetTOTP(ctx, "1", sealed(3)) }, models.ErrFactorExists},
				{"the same secret while confirmed", func() error { return s.SetTOTP(ctx, "1", sealed(2)) }, models.ErrFactorExists},
				{"another user enrolling", func() error { return s.SetTOTP(ctx, "2", sealed(4)) }, nil},
			} {
				if err := c.call(); !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", c.name, err, c.want)
				}
			}
			want("1", models.TOTP{Sealed: sealed(2), Confirmed: true, LastStep: 100})
			want("2", models.TOTP{Sealed: sealed(4)})

			// Steps: each later one once, never an earlier one.
			for _, c := range []struct {
				step int64
				want bool
			}{
				{100, false}, // the step that confirmed it
				{99, false},
				{101, true},
				{101, false},
				{103, true},
				{102, false},
				{-1, false},
				{1 << 40, true},
			} {
				if got := use("1", c.step); got != c.want {
					t.Errorf("UseTOTPStep(%d) = %v, want %v", c.step, got, c.want)
				}
			}
			want("1", models.TOTP{Sealed: sealed(2), Confirmed: true, LastStep: 1 << 40})
			// Another user's enrolment is untouched.
			if err := s.ConfirmTOTP(ctx, "2", sealed(4), 7); err != nil {
				t.Fatal(err)
			}
			if !use("2", 8) {
				t.Error("another user's step was refused")
			}
			want("2", models.TOTP{Sealed: sealed(4), Confirmed: true, LastStep: 8})
			if _, err := s.UseTOTPStep(ctx, "3", 5); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("UseTOTPStep without an enrolment = %v, want ErrNoFactor", err)
			}

			// Delete, then enrol afresh: no step carried over.
			for range 2 { // deleting none is no error
				if err := s.DeleteTOTP(ctx, "1"); err != nil {
					t.Fatalf("DeleteTOTP: %v", err)
				}
			}
			if _, err := s.TOTP(ctx, "1"); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("TOTP after DeleteTOTP = %v", err)
			}
			if _, err := s.UseTOTPStep(ctx, "1", 1<<41); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("UseTOTPStep after DeleteTOTP = %v", err)
			}
			want("2", models.TOTP{Sealed: sealed(4), Confirmed: true, LastStep: 8})
			if err := s.SetTOTP(ctx, "1", sealed(5)); err != nil {
				t.Fatalf("SetTOTP after DeleteTOTP: %v", err)
			}
			want("1", models.TOTP{Sealed: sealed(5)})
			if err := s.ConfirmTOTP(ctx, "1", sealed(5), 3); err != nil {
				t.Fatal(err)
			}
			if !use("1", 4) {
				t.Error("a later step of a new enrolment was refused")
			}
			// An unconfirmed enrolment is deleted too.
			if err := s.DeleteTOTP(ctx, "1"); err != nil {
				t.Fatal(err)
			}
			if err := s.SetTOTP(ctx, "1", sealed(6)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteTOTP(ctx, "1"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.TOTP(ctx, "1"); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("TOTP after deleting an unconfirmed enrolment = %v", err)
			}

			// A sealed secret of the column's size is kept byte for byte.
			big := bytes.Repeat([]byte{0, 0xff, 'a', 0}, 128)
			if err := s.SetTOTP(ctx, "4", big); err != nil {
				t.Fatalf("SetTOTP of 512 bytes: %v", err)
			}
			want("4", models.TOTP{Sealed: big})
			if err := s.ConfirmTOTP(ctx, "4", big[:511], 1); !errors.Is(err, models.ErrNoFactor) {
				t.Errorf("ConfirmTOTP with a prefix of the secret = %v, want ErrNoFactor", err)
			}

			// What the tables cannot keep as they are.
			long := strings.Repeat("1", 192)
			for _, c := range []struct {
				name string
				call func() error
			}{
				{"SetTOTP, no user", func() error { return s.SetTOTP(ctx, "", sealed(1)) }},
				{"SetTOTP, a long user ID", func() error { return s.SetTOTP(ctx, long, sealed(1)) }},
				{"SetTOTP, no secret", func() error { return s.SetTOTP(ctx, "5", nil) }},
				{"SetTOTP, a long secret", func() error { return s.SetTOTP(ctx, "5", make([]byte, 513)) }},
				{"ConfirmTOTP, no user", func() error { return s.ConfirmTOTP(ctx, "", sealed(1), 1) }},
				{"ConfirmTOTP, no secret", func() error { return s.ConfirmTOTP(ctx, "5", nil, 1) }},
				{"TOTP, no user", func() error { _, err := s.TOTP(ctx, ""); return err }},
				{"UseTOTPStep, no user", func() error { _, err := s.UseTOTPStep(ctx, "", 1); return err }},
				{"DeleteTOTP, no user", func() error { return s.DeleteTOTP(ctx, "") }},
			} {
				if err := c.call(); !errors.Is(err, gormusers.ErrFactorField) {
					t.Errorf("%s = %v, want ErrFactorField", c.name, err)
				}
			}
		})
	}
}

func TestRecoveryCodes(t *testing.T) {
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := subscribers(t, handles(t)())
			left := func(userID string, want int) {
				t.Helper()
				if n, err := s.RecoveryCodesLeft(ctx, userID); err != nil || n != want {
					t.Errorf("RecoveryCodesLeft(%q) = %d, %v; want %d", userID, n, err, want)
				}
			}
			use := func(userID string, h [32]byte) bool {
				t.Helper()
				ok, err := s.UseRecoveryCode(ctx, userID, h)
				if err != nil {
					t.Fatalf("UseRecoveryCode: %v", err)
				}
				return ok
			}
			set := func(userID string, hs [][32]byte) {
				t.Helper()
				if err := s.SetRecoveryCodes(ctx, userID, hs); err != nil {
					t.Fatalf("SetRecoveryCodes: %v", err)
				}
			}
			left("1", 0)
			if use("1", codes(1, 1)[0]) {
				t.Error("a code was used before any was set")
			}

			first, others := codes(1, 10), codes(2, 10)
			set("1", first)
			set("2", others)
			left("1", 10)
			for _, c := range []struct {
				name   string
				userID string
				hash   [32]byte
				want   bool
			}{
				{"a code", "1", first[0], true},
				{"the code again", "1", first[0], false},
				{"another user's code", "1", others[1], false},
				{"a code of the other user", "2", first[1], false},
				{"another code", "1", first[9], true},
			} {
				if got := use(c.userID, c.hash); got != c.want {
					t.Errorf("%s: UseRecoveryCode = %v, want %v", c.name, got, c.want)
				}
			}
			left("1", 8)
			left("2", 10)

			// A new set replaces the old: its unused codes no longer work.
			second := codes(3, 8)
			set("1", append(second, second[0])) // a hash given twice is kept once
			left("1", 8)
			if use("1", first[1]) {
				t.Error("a code of the replaced set was accepted")
			}
			if !use("1", second[0]) || use("1", second[0]) {
				t.Error("a code of the new set was not accepted once")
			}
			left("2", 10)
			// None deletes them all (of this user only).
			set("1", nil)
			left("1", 0)
			if use("1", second[1]) {
				t.Error("a code was accepted after SetRecoveryCodes(nil)")
			}
			left("2", 10)

			for _, c := range []struct {
				name string
				call func() error
			}{
				{"SetRecoveryCodes", func() error { return s.SetRecoveryCodes(ctx, "", first) }},
				{"UseRecoveryCode", func() error { _, err := s.UseRecoveryCode(ctx, "", first[0]); return err }},
				{"RecoveryCodesLeft", func() error { _, err := s.RecoveryCodesLeft(ctx, ""); return err }},
				{"SetRecoveryCodes, a long user ID", func() error { return s.SetRecoveryCodes(ctx, strings.Repeat("1", 192), first) }},
			} {
				if err := c.call(); !errors.Is(err, gormusers.ErrFactorField) {
					t.Errorf("%s without a user = %v, want ErrFactorField", c.name, err)
				}
			}
		})
	}
}

// race runs call from 12 goroutines at once, half of them on each store
// (two instances of an application on one database), and counts the
// calls that answered true.
func race(t *testing.T, one, two *gormusers.Store[Subscriber, *Subscriber], call func(*gormusers.Store[Subscriber, *Subscriber]) (bool, error)) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := make(chan struct{})
	wins := 0
	for i := range 12 {
		s := one
		if i%2 == 1 {
			s = two
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := call(s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("concurrent call: %v", err)
			}
			if ok {
				wins++
			}
		}()
	}
	close(start)
	wg.Wait()
	return wins
}

// Replays: of concurrent uses of one step, or of one recovery code, from
// two instances, exactly one succeeds.
func TestFactorRace(t *testing.T) {
	const rounds = 5
	for name, handles := range sameDatabase {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := handles(t)
			one := subscribers(t, open())
			two := gormusers.New[Subscriber](open())
			if err := one.SetTOTP(ctx, "1", sealed(1)); err != nil {
				t.Fatal(err)
			}
			if err := one.ConfirmTOTP(ctx, "1", sealed(1), 10); err != nil {
				t.Fatal(err)
			}
			for round := range rounds {
				step := int64(11 + round)
				wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
					return s.UseTOTPStep(ctx, "1", step)
				})
				if wins != 1 {
					t.Errorf("step %d was accepted %d times, want once", step, wins)
				}
			}
			hashes := codes(1, rounds)
			if err := two.SetRecoveryCodes(ctx, "1", hashes); err != nil {
				t.Fatal(err)
			}
			for round, h := range hashes {
				wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
					return s.UseRecoveryCode(ctx, "1", h)
				})
				if wins != 1 {
					t.Errorf("code %d was accepted %d times, want once", round, wins)
				}
			}
			if n, err := one.RecoveryCodesLeft(ctx, "1"); err != nil || n != 0 {
				t.Errorf("RecoveryCodesLeft = %d, %v; want 0", n, err)
			}

			// Concurrent enrolments of one user leave one of the secrets,
			// unconfirmed; none is refused.
			var mu sync.Mutex
			n := 0
			wins := race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
				mu.Lock()
				n++
				secret := sealed(100 + n)
				mu.Unlock()
				return true, s.SetTOTP(ctx, "2", secret)
			})
			if got, err := one.TOTP(ctx, "2"); err != nil || got.Confirmed || !bytes.HasPrefix(got.Sealed, []byte("sealed secret 1")) || wins != 12 {
				t.Errorf("after concurrent enrolments: %+v, %v (%d succeeded)", got, err, wins)
			}

			// Concurrent replacements of one user's codes leave one set
			// whole, never a mix.
			sets := make([][][32]byte, 6)
			for i := range sets {
				sets[i] = codes(10+i, 8)
			}
			n = 0
			race(t, one, two, func(s *gormusers.Store[Subscriber, *Subscriber]) (bool, error) {
				mu.Lock()
				set := sets[n%len(sets)]
				n++
				mu.Unlock()
				return false, s.SetRecoveryCodes(ctx, "3", set)
			})
			if n, err := one.RecoveryCodesLeft(ctx, "3"); err != nil || n != 8 {
				t.Fatalf("after concurrent replacements, RecoveryCodesLeft = %d, %v; want 8", n, err)
			}
			kept := slices.IndexFunc(sets, func(set [][32]byte) bool {
				ok, err := one.UseRecoveryCode(ctx, "3", set[0])
				return ok && err == nil
			})
			if kept < 0 {
				t.Fatal("no set was kept")
			}
			for _, h := range sets[kept][1:] {
				if ok, err := one.UseRecoveryCode(ctx, "3", h); !ok || err != nil {
					t.Errorf("a code of the kept set: %v, %v", ok, err)
				}
			}
		})
	}
}
