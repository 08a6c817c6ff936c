package metrics_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ginauth/ginauth/auth"
)

// Each account event moves its metrics, and no other.
func TestOnEventCountsEachEvent(t *testing.T) {
	cases := []struct {
		name  string
		event auth.Event
		want  map[string]float64
	}{
		{"login success", auth.Event{Type: auth.EventLoginSuccess},
			map[string]float64{"ginauth_logins_total{result=success}": 1}},
		{"wrong password or unknown user", auth.Event{Type: auth.EventLoginFailure, Action: "login"},
			map[string]float64{"ginauth_logins_total{result=invalid_credentials}": 1}},
		{"wrong current password at a password change", auth.Event{Type: auth.EventLoginFailure, Action: "password_change"},
			map[string]float64{}},
		{"login locked", auth.Event{Type: auth.EventLockout, Action: "login", RetryAfter: time.Minute},
			map[string]float64{"ginauth_logins_total{result=locked}": 1, "ginauth_lockouts_total{action=login}": 1}},
		{"registration locked", auth.Event{Type: auth.EventLockout, Action: "register"},
			map[string]float64{"ginauth_lockouts_total{action=register}": 1}},
		{"password change locked", auth.Event{Type: auth.EventLockout, Action: "password_change"},
			map[string]float64{"ginauth_lockouts_total{action=password_change}": 1}},
		{"login busy", auth.Event{Type: auth.EventLoginError, Code: "busy"},
			map[string]float64{"ginauth_logins_total{result=busy}": 1}},
		{"sign-in over plain HTTP", auth.Event{Type: auth.EventLoginError, Code: "https_required"},
			map[string]float64{"ginauth_logins_total{result=https_required}": 1}},
		{"login store unavailable", auth.Event{Type: auth.EventLoginError, Code: "store_unavailable"},
			map[string]float64{"ginauth_logins_total{result=error}": 1}},
		{"register", auth.Event{Type: auth.EventRegister},
			map[string]float64{"ginauth_registrations_total": 1}},
		{"logout", auth.Event{Type: auth.EventLogout},
			map[string]float64{"ginauth_logouts_total": 1}},
		{"logout all", auth.Event{Type: auth.EventLogoutAll, Revoked: 3},
			map[string]float64{"ginauth_logout_all_total": 1, "ginauth_sessions_revoked_total{reason=logout_all}": 3}},
		{"password change", auth.Event{Type: auth.EventPasswordChange, Revoked: 2},
			map[string]float64{"ginauth_password_changes_total": 1, "ginauth_sessions_revoked_total{reason=password_change}": 2}},
		{"password change, no other session", auth.Event{Type: auth.EventPasswordChange},
			map[string]float64{"ginauth_password_changes_total": 1}},
		{"session revoked", auth.Event{Type: auth.EventSessionRevoked},
			map[string]float64{"ginauth_sessions_revoked_total{reason=session_revoked}": 1}},
		{"sign-in with a code", auth.Event{Type: auth.EventLoginSuccess, Action: "totp"},
			map[string]float64{"ginauth_logins_total{result=success}": 1, "ginauth_second_factor_total{method=totp,result=success}": 1}},
		{"wrong recovery code", auth.Event{Type: auth.EventSecondFactorFailure, Action: "recovery_code"},
			map[string]float64{"ginauth_second_factor_total{method=recovery_code,result=failure}": 1}},
		{"reauth", auth.Event{Type: auth.EventReauth},
			map[string]float64{"ginauth_reauths_total": 1}},
		{"reauth locked", auth.Event{Type: auth.EventLockout, Action: "reauth"},
			map[string]float64{"ginauth_lockouts_total{action=reauth}": 1}},
		{"reauth wrong password", auth.Event{Type: auth.EventLoginFailure, Action: "reauth"},
			map[string]float64{}},
		{"reset requested", auth.Event{Type: auth.EventResetRequested},
			map[string]float64{"ginauth_password_resets_total{stage=requested}": 1}},
		{"reset", auth.Event{Type: auth.EventPasswordReset, Revoked: 2},
			map[string]float64{"ginauth_password_resets_total{stage=completed}": 1, "ginauth_sessions_revoked_total{reason=password_reset}": 2}},
		{"email verified", auth.Event{Type: auth.EventEmailVerified},
			map[string]float64{"ginauth_email_changes_total{event=verified}": 1}},
		{"email change requested", auth.Event{Type: auth.EventEmailChangeRequested},
			map[string]float64{"ginauth_email_changes_total{event=change_requested}": 1}},
		{"email changed", auth.Event{Type: auth.EventEmailChange},
			map[string]float64{"ginauth_email_changes_total{event=changed}": 1}},
		{"sign-in with a passkey", auth.Event{Type: auth.EventLoginSuccess, Action: "passkey"},
			map[string]float64{"ginauth_logins_total{result=success}": 1, "ginauth_second_factor_total{method=passkey,result=success}": 1}},
		{"passkey refused", auth.Event{Type: auth.EventLoginFailure, Action: "passkey"},
			map[string]float64{"ginauth_logins_total{result=invalid_credentials}": 1, "ginauth_second_factor_total{method=passkey,result=failure}": 1}},
		{"passkey added", auth.Event{Type: auth.EventFactorChange, Action: "passkey_added"},
			map[string]float64{"ginauth_passkeys_total{event=added}": 1}},
		{"passkey removed", auth.Event{Type: auth.EventFactorChange, Action: "passkey_removed"},
			map[string]float64{"ginauth_passkeys_total{event=removed}": 1}},
		{"passkey clone", auth.Event{Type: auth.EventPasskeyClone},
			map[string]float64{"ginauth_passkeys_total{event=clone}": 1}},
		{"reauth with a passkey", auth.Event{Type: auth.EventReauth, Action: "passkey"},
			map[string]float64{"ginauth_reauths_total": 1, "ginauth_second_factor_total{method=passkey,result=success}": 1}},
		{"provider sign-in", auth.Event{Type: auth.EventLoginSuccess, Action: "provider:corp"},
			map[string]float64{"ginauth_logins_total{result=success}": 1, "ginauth_provider_logins_total{provider=corp,result=success}": 1}},
		{"provider callback refused", auth.Event{Type: auth.EventLoginFailure, Action: "provider:corp"},
			map[string]float64{"ginauth_provider_logins_total{provider=corp,result=failure}": 1}},
		{"a provider not configured", auth.Event{Type: auth.EventLoginFailure, Action: "provider:other"}, map[string]float64{}},
		// What the metrics do not know moves nothing, so that labels keep
		// their fixed set of values.
		{"unknown event", auth.Event{Type: "something_new"}, map[string]float64{}},
		{"lockout of an unknown action", auth.Event{Type: auth.EventLockout, Action: "something_new"}, map[string]float64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			before := snapshot(t, reg)
			ev := tc.event
			ev.Time, ev.UserID, ev.Username, ev.IPAddress, ev.UserAgent, ev.Session =
				time.Now(), "user-42", "mia", "203.0.113.9", "curl/8", "0123456789abcdef"
			m.OnEvent(nil)(ev)
			if got := moved(before, snapshot(t, reg)); !maps.Equal(got, tc.want) {
				t.Errorf("moved:\n%s\nwant:\n%s", describe(got), describe(tc.want))
			}
			checkLabels(t, reg, "user-42", "mia", "203.0.113.9", "curl", "0123456789abcdef")
		})
	}
}

// OnEvent counts the event, then hands it, unchanged, to the application's
// own handler.
func TestOnEventCallsNext(t *testing.T) {
	m, reg := newMetrics(t)
	var got []auth.Event
	onEvent := m.OnEvent(func(ev auth.Event) {
		// Counted before the application's handler runs.
		if n := value(t, reg, "ginauth_logins_total{result=invalid_credentials}"); n != float64(len(got)+1) {
			t.Errorf("the application's handler ran before the event was counted (%v counted)", n)
		}
		got = append(got, ev)
	})
	ev := auth.Event{Type: auth.EventLoginFailure, Username: "mia", IPAddress: "203.0.113.9"}
	onEvent(ev)
	onEvent(ev)
	if len(got) != 2 || got[0] != ev || got[1] != ev {
		t.Errorf("the application's handler got %+v, want the event twice", got)
	}
}

// The logins of a credential-stuffing burst, as the exposition shows them.
func TestOnEventExposition(t *testing.T) {
	m, reg := newMetrics(t)
	onEvent := m.OnEvent(nil)
	for range 7 {
		onEvent(auth.Event{Type: auth.EventLoginFailure})
	}
	for range 3 {
		onEvent(auth.Event{Type: auth.EventLockout, Action: "login"})
	}
	onEvent(auth.Event{Type: auth.EventLoginSuccess})
	onEvent(auth.Event{Type: auth.EventLoginError, Code: "busy"})
	want := `
# HELP ginauth_logins_total Logins by result: success (a session signed in, after registration too), invalid_credentials (wrong password or unknown user), locked (refused by throttling), busy (no bcrypt slot in time), https_required (refused: the Secure cookie could not be sent over plain HTTP), error (a store could not answer).
# TYPE ginauth_logins_total counter
ginauth_logins_total{result="busy"} 1
ginauth_logins_total{result="error"} 0
ginauth_logins_total{result="https_required"} 0
ginauth_logins_total{result="invalid_credentials"} 7
ginauth_logins_total{result="locked"} 3
ginauth_logins_total{result="success"} 1
# HELP ginauth_lockouts_total Attempts refused by throttling, by what they attempted: login, register, password_change, reauth, second_factor.
# TYPE ginauth_lockouts_total counter
ginauth_lockouts_total{action="login"} 3
ginauth_lockouts_total{action="password_change"} 0
ginauth_lockouts_total{action="reauth"} 0
ginauth_lockouts_total{action="register"} 0
ginauth_lockouts_total{action="second_factor"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ginauth_logins_total", "ginauth_lockouts_total"); err != nil {
		t.Error(err)
	}
}
