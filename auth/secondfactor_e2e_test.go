package auth_test

// Second factors end to end: enrolment, the two-step sign-in, replays,
// recovery codes, re-authentication with a code, factor changes.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
	"github.com/ginauth/ginauth/internal/fakeclock"
	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/models"
)

var sealKey = []byte("second-factor-test-key-0123456789abcdef")

func withSecondFactor(c *apptest.Config) {
	c.Auth.SecondFactor = auth.SecondFactor{Keys: [][]byte{sealKey}}
}

// sfApp is an application with second factors, on SQLite.
func sfApp(t *testing.T) *apptest.App {
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	return apptest.NewApp(t, store, db, clock, withSecondFactor)
}

// code is the authenticator app's code for secret at the app's time.
func code(t *testing.T, a *apptest.App, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, a.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol sets up an authenticator app for the signed-in client, and
// returns its secret and the recovery codes.
func enrol(t *testing.T, a *apptest.App, cl *apptest.Client) (string, []string) {
	t.Helper()
	r := cl.Do("POST", "/2fa/totp", nil)
	cl.Want(r, http.StatusOK, "")
	secret, _ := r.JSON["secret"].(string)
	if secret == "" || !strings.HasPrefix(r.JSON["otpauthURL"].(string), "otpauth://totp/") || len(r.JSON["qrPNG"].(string)) < 100 {
		t.Fatalf("enrolment = %s", r.Body)
	}
	r = cl.Do("POST", "/2fa/totp/confirm", map[string]any{"code": code(t, a, secret)})
	cl.Want(r, http.StatusOK, "")
	var codes []string
	for _, c := range r.JSON["recoveryCodes"].([]any) {
		codes = append(codes, c.(string))
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	return secret, codes
}

// pending signs the client's password in, and checks that the answer
// asks for a second factor and grants nothing.
func pending(t *testing.T, cl *apptest.Client, user, pw string) {
	t.Helper()
	r := cl.Do("POST", "/login", apptest.Creds(user, pw))
	cl.Want(r, http.StatusOK, "")
	if r.JSON["mfaRequired"] != true || r.JSON["user"] != nil {
		t.Fatalf("POST /login for a user with a second factor = %s", r.Body)
	}
	cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "unauthenticated")
	cl.Want(cl.Do("GET", "/sessions", nil), http.StatusUnauthorized, "")
	cl.Want(cl.Do("POST", "/sudo", nil), http.StatusUnauthorized, "")
}

func TestTOTP(t *testing.T) {
	a := sfApp(t)
	owner := a.Client(t)
	owner.Register("kim", "kim's good password")
	other := a.Client(t)
	other.Login("kim", "kim's good password")

	// Enrolment: inactive until a right code; a wrong one refused.
	r := owner.Do("POST", "/2fa/totp", nil)
	owner.Want(r, http.StatusOK, "")
	secret := r.JSON["secret"].(string)
	owner.Want(owner.Do("POST", "/2fa/totp/confirm", map[string]any{"code": "000000"}), http.StatusUnauthorized, "invalid_code")
	if on := owner.Do("GET", "/2fa", nil).JSON["enabled"]; on != false {
		t.Fatalf("enabled before confirmation: %v", on)
	}
	a.Client(t).Login("kim", "kim's good password") // no second step yet
	before := owner.SessionCookie()
	r = owner.Do("POST", "/2fa/totp/confirm", map[string]any{"code": code(t, a, secret)})
	owner.Want(r, http.StatusOK, "")
	codes := r.JSON["recoveryCodes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %v", codes)
	}
	// A factor change ends the other sessions and renews this one.
	other.Want(other.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	owner.Want(owner.Do("GET", "/me", nil), http.StatusOK, "")
	if owner.SessionCookie().Value == before.Value {
		t.Error("enabling a second factor kept the session ID")
	}
	state := owner.Do("GET", "/2fa", nil).JSON
	if state["enabled"] != true || state["recoveryCodesLeft"] != float64(10) {
		t.Errorf("GET /2fa = %v", state)
	}
	owner.Want(owner.Do("POST", "/2fa/totp", nil), http.StatusConflict, "second_factor_enabled")

	// The two-step sign-in. The step used at confirmation is spent.
	cl := a.Client(t)
	pending(t, cl, "kim", "kim's good password")
	cl.Want(cl.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusUnauthorized, "invalid_code")
	a.Clock.Advance(30 * time.Second)
	r = cl.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)})
	cl.Want(r, http.StatusOK, "")
	if r.JSON["user"].(map[string]any)["username"] != "kim" {
		t.Errorf("POST /login/2fa = %s", r.Body)
	}
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	var factors []string
	for _, f := range cl.Do("GET", "/session-info", nil).JSON["factors"].([]any) {
		factors = append(factors, f.(map[string]any)["factor"].(string))
	}
	if strings.Join(factors, ",") != "password,totp" {
		t.Errorf("factors = %v", factors)
	}
	// The same code again, from another browser: replayed.
	again := a.Client(t)
	pending(t, again, "kim", "kim's good password")
	again.Want(again.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusUnauthorized, "invalid_code")
	// Without a pending sign-in, a code is no way in.
	stranger := a.Client(t)
	a.Clock.Advance(30 * time.Second)
	stranger.Want(stranger.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusUnauthorized, "unauthenticated")
	// A pending sign-in lasts 5 minutes.
	late := a.Client(t)
	pending(t, late, "kim", "kim's good password")
	a.Clock.Advance(5*time.Minute + time.Second)
	late.Want(late.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusUnauthorized, "unauthenticated")
	// And the next sign-in asks again.
	a.Clock.Advance(30 * time.Second)
	pending(t, a.Client(t), "kim", "kim's good password")
}

func TestRecoveryCodes(t *testing.T) {
	a := sfApp(t)
	owner := a.Client(t)
	owner.Register("lee", "lee's good password")
	_, codes := enrol(t, a, owner)

	cl := a.Client(t)
	pending(t, cl, "lee", "lee's good password")
	for _, bad := range []string{"", "x", strings.Repeat("a", 24), codes[0] + "a", "lee's good password"} {
		r := cl.Do("POST", "/login/2fa", map[string]any{"recoveryCode": bad})
		if r.Status != http.StatusUnauthorized && r.Status != http.StatusBadRequest {
			t.Errorf("recovery code %q: %d %s", bad, r.Status, r.Body)
		}
	}
	// Typed in capitals, without dashes: the same code.
	typed := strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))
	cl.Want(cl.Do("POST", "/login/2fa", map[string]any{"recoveryCode": typed}), http.StatusOK, "")
	var factors []string
	for _, f := range cl.Do("GET", "/session-info", nil).JSON["factors"].([]any) {
		factors = append(factors, f.(map[string]any)["factor"].(string))
	}
	if strings.Join(factors, ",") != "password,recovery_code" {
		t.Errorf("factors = %v", factors)
	}
	// Used once: never again.
	again := a.Client(t)
	pending(t, again, "lee", "lee's good password")
	again.Want(again.Do("POST", "/login/2fa", map[string]any{"recoveryCode": codes[0]}), http.StatusUnauthorized, "invalid_code")
	if n := owner.Do("GET", "/2fa", nil).JSON["recoveryCodesLeft"]; n != float64(9) {
		t.Errorf("recoveryCodesLeft = %v", n)
	}
	// A new set voids the old.
	r := owner.Do("POST", "/2fa/recovery-codes", nil)
	owner.Want(r, http.StatusOK, "")
	again.Want(again.Do("POST", "/login/2fa", map[string]any{"recoveryCode": codes[1]}), http.StatusUnauthorized, "invalid_code")
	again.Want(again.Do("POST", "/login/2fa", map[string]any{"recoveryCode": r.JSON["recoveryCodes"].([]any)[0].(string)}), http.StatusOK, "")

	// Another user's code is no code of this one.
	a.Client(t).Register("mo", "mo's good password")
	moCl := a.Client(t)
	moCl.Login("mo", "mo's good password")
	_, moCodes := enrol(t, a, moCl)
	third := a.Client(t)
	pending(t, third, "lee", "lee's good password")
	third.Want(third.Do("POST", "/login/2fa", map[string]any{"recoveryCode": moCodes[0]}), http.StatusUnauthorized, "invalid_code")
}

// One code, many pending sign-ins at once on two instances: one wins.
// The same for one recovery code.
func TestSecondFactorSingleUseInParallel(t *testing.T) {
	for _, d := range []struct {
		name string
		open func(testing.TB) *gorm.DB
	}{{"sqlite", apptest.SQLiteDB}, {"postgres", apptest.PostgresDB}} {
		t.Run(d.name, func(t *testing.T) {
			clock := fakeclock.New(time.Time{})
			db := d.open(t)
			store := apptest.GormStore(t, db, clock)
			one := apptest.NewApp(t, store, db, clock, withSecondFactor)
			two := apptest.NewApp(t, store, db, clock, withSecondFactor)
			owner := one.Client(t)
			owner.Register("ned", "ned's good password")
			secret, codes := enrol(t, one, owner)
			clock.Advance(30 * time.Second)

			for _, body := range []map[string]any{{"code": code(t, one, secret)}, {"recoveryCode": codes[3]}} {
				const n = 6
				clients := make([]*apptest.Client, n)
				for i := range clients {
					app := one
					if i%2 == 1 {
						app = two
					}
					clients[i] = app.Client(t)
					pending(t, clients[i], "ned", "ned's good password")
				}
				statuses := make([]int, n)
				var wg sync.WaitGroup
				for i, cl := range clients {
					wg.Go(func() { statuses[i] = cl.Do("POST", "/login/2fa", body).Status })
				}
				wg.Wait()
				won := 0
				for _, s := range statuses {
					if s == http.StatusOK {
						won++
					}
				}
				if won != 1 {
					t.Errorf("%v: %d sign-ins won (%v); want 1", body, won, statuses)
				}
			}
		})
	}
}

// Removing the factor needs a recent proof of the factor itself: the
// password alone, which whoever stole it has, is not enough.
func TestDisableTOTP(t *testing.T) {
	a := sfApp(t)
	owner := a.Client(t)
	owner.Register("ola", "ola's good password")
	secret, _ := enrol(t, a, owner)
	a.Clock.Advance(20 * time.Minute)
	owner.Want(owner.Do("POST", "/reauth", map[string]any{"password": "ola's good password"}), http.StatusOK, "")
	owner.Want(owner.Do("POST", "/2fa/recovery-codes", nil), http.StatusOK, "") // a recent password is enough here
	owner.Want(owner.Do("DELETE", "/2fa/totp", nil), http.StatusForbidden, "reauth_required")
	other := a.Client(t)
	pending(t, other, "ola", "ola's good password")
	a.Clock.Advance(30 * time.Second)
	other.Want(other.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusOK, "")

	before := owner.SessionCookie()
	owner.Want(owner.Do("POST", "/reauth", map[string]any{"code": code(t, a, secret)}), http.StatusUnauthorized, "invalid_code") // that step is spent
	a.Clock.Advance(30 * time.Second)
	owner.Want(owner.Do("POST", "/reauth", map[string]any{"code": code(t, a, secret)}), http.StatusOK, "")
	if owner.SessionCookie().Value == before.Value {
		t.Error("a step up kept the session ID")
	}
	owner.Want(owner.Do("DELETE", "/2fa/totp", nil), http.StatusNoContent, "")
	other.Want(other.Do("GET", "/me", nil), http.StatusUnauthorized, "") // a factor change ends the others
	owner.Want(owner.Do("GET", "/me", nil), http.StatusOK, "")
	a.Client(t).Login("ola", "ola's good password") // one step again
}

func TestSecondFactorThrottle(t *testing.T) {
	a := sfApp(t)
	owner := a.Client(t)
	owner.Register("pam", "pam's good password")
	secret, _ := enrol(t, a, owner)
	a.Clock.Advance(30 * time.Second)
	cl := a.Client(t)
	pending(t, cl, "pam", "pam's good password")
	for range 5 {
		cl.Want(cl.Do("POST", "/login/2fa", map[string]any{"code": "123456"}), http.StatusUnauthorized, "invalid_code")
	}
	cl.Want(cl.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusTooManyRequests, "too_many_attempts")
}

// Setting up, using a recovery code and removing the factor each tell
// the user by mail.
func TestSecondFactorNotices(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	a := apptest.NewApp(t, store, db, clock, withMail(t, srv), withSecondFactor)
	t.Cleanup(func() { _ = a.Auth.Close() })
	owner := a.Client(t)
	owner.Register("quin", "quin's good password")
	giveEmail(t, a, "quin", "quin@example.org", true)

	secret, codes := enrol(t, a, owner)
	if m := srv.Next(t); m.To[0] != "quin@example.org" || !strings.Contains(m.Text, "authenticator app was set up") {
		t.Errorf("after enrolment: to %v: %q", m.To, m.Text)
	}
	cl := a.Client(t)
	pending(t, cl, "quin", "quin's good password")
	cl.Want(cl.Do("POST", "/login/2fa", map[string]any{"recoveryCode": codes[0]}), http.StatusOK, "")
	// A browser never seen signs in: the new sign-in's notice comes too.
	got := srv.Wait(t, 2)
	var texts []string
	for _, m := range got {
		texts = append(texts, m.Text)
	}
	if all := strings.Join(texts, "\n"); !strings.Contains(all, "recovery codes was used") {
		t.Errorf("after a recovery code: %q", all)
	}
	clock.Advance(30 * time.Second)
	owner.Want(owner.Do("POST", "/reauth", map[string]any{"code": code(t, a, secret)}), http.StatusOK, "")
	owner.Want(owner.Do("DELETE", "/2fa/totp", nil), http.StatusNoContent, "")
	if m := srv.Next(t); !strings.Contains(m.Text, "was removed") {
		t.Errorf("after removal: %q", m.Text)
	}
}

func TestResetSecondFactor(t *testing.T) {
	a := sfApp(t)
	owner := a.Client(t)
	owner.Register("rae", "rae's good password")
	enrol(t, a, owner)
	uid := a.UserID(t, "rae")
	if err := a.Users.AddPasskey(context.Background(), models.Passkey{ID: []byte("rae's lost phone"), UserID: uid, PublicKey: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Auth.ResetSecondFactor(context.Background(), uid); err != nil || n != 1 {
		t.Fatalf("ResetSecondFactor = %d, %v; want 1 session ended", n, err)
	}
	if keys, err := a.Users.Passkeys(context.Background(), uid); err != nil || len(keys) != 0 {
		t.Errorf("after the reset, %d passkeys, %v; want none", len(keys), err)
	}
	owner.Want(owner.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	a.Client(t).Login("rae", "rae's good password") // one step again
	if _, err := a.Auth.ResetSecondFactor(context.Background(), "404"); !errors.Is(err, models.ErrUserNotFound) {
		t.Errorf("for no user: %v", err)
	}
}

// A password reset neither removes nor bypasses the second factor: it
// signs nobody in, and the sign-in with the new password still asks for
// a code (ASVS 6.4.3).
func TestResetKeepsSecondFactor(t *testing.T) {
	srv := testenv.StartSMTPServer(t)
	clock := fakeclock.New(time.Time{})
	store, db := apptest.Backends[0].Open(t, clock)
	a := apptest.NewApp(t, store, db, clock, withMail(t, srv, func(r *auth.Recovery) { r.Notices = auth.Notices{NoSecondFactor: true} }), withSecondFactor)
	t.Cleanup(func() { _ = a.Auth.Close() })
	owner := a.Client(t)
	owner.Register("sal", "sal's good password")
	giveEmail(t, a, "sal", "sal@example.org", true)
	secret, _ := enrol(t, a, owner)

	cl := a.Client(t)
	cl.Want(cl.Do("POST", "/password/forgot", map[string]any{"username": "sal"}), http.StatusAccepted, "")
	tok := linkToken(t, srv.Next(t), "/password/reset")
	r := cl.Do("POST", "/password/reset", map[string]any{"token": tok, "newPassword": "sal's new password"})
	cl.Want(r, http.StatusOK, "")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusUnauthorized, "")
	pending(t, cl, "sal", "sal's new password")
	clock.Advance(30 * time.Second)
	cl.Want(cl.Do("POST", "/login/2fa", map[string]any{"code": code(t, a, secret)}), http.StatusOK, "")
	if on := cl.Do("GET", "/2fa", nil).JSON["enabled"]; on != true {
		t.Errorf("after a reset, enabled = %v", on)
	}
}
