package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"strings"

	"github.com/ginauth/ginauth/auth"
)

// Values of the result label of logins_total.
const (
	loginSuccess            = "success"
	loginInvalidCredentials = "invalid_credentials"
	loginLocked             = "locked"
	loginBusy               = "busy"
	loginHTTPSRequired      = "https_required"
	loginError              = "error"
)

// Values of the action label of lockouts_total: what the throttle refused
// (auth.Event.Action).
const (
	actionLogin          = "login"
	actionRegister       = "register"
	actionPasswordChange = "password_change"
	actionReauth         = "reauth"
	actionSecondFactor   = "second_factor"
)

// eventMetrics count account events.
type eventMetrics struct {
	logins          *prometheus.CounterVec
	lockouts        *prometheus.CounterVec
	registrations   prometheus.Counter
	logouts         prometheus.Counter
	logoutAlls      prometheus.Counter
	passwordChanges prometheus.Counter
	revoked         *prometheus.CounterVec
	reauths         prometheus.Counter
	secondFactor    *prometheus.CounterVec
	resets          *prometheus.CounterVec
	emails          *prometheus.CounterVec
	passkeys        *prometheus.CounterVec
	providerLogins  *prometheus.CounterVec
	providers       map[string]bool

	// The series, resolved once: counting an event looks up no label.
	loginSuccess, loginInvalid, loginLocked, loginBusy, loginError prometheus.Counter
	loginHTTPSRequired                                             prometheus.Counter
	lockoutLogin, lockoutRegister, lockoutPassword, lockoutReauth  prometheus.Counter
	lockoutSecondFactor                                            prometheus.Counter
	revokedLogoutAll, revokedPasswordChange, revokedOne            prometheus.Counter
	revokedReset, resetRequested, resetCompleted                   prometheus.Counter
	emailVerified, emailChangeRequested, emailChanged              prometheus.Counter
	passkeyAdded, passkeyRemoved, passkeyClone                     prometheus.Counter
}

func newEventMetrics(ns string, providers []string) eventMetrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help})
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	e := eventMetrics{
		logins: vec("logins_total",
			"Logins by result: success (a session signed in, after registration too), invalid_credentials (wrong password or unknown user), locked (refused by throttling), busy (no bcrypt slot in time), https_required (refused: the Secure cookie could not be sent over plain HTTP), error (a store could not answer).",
			"result"),
		lockouts: vec("lockouts_total",
			"Attempts refused by throttling, by what they attempted: login, register, password_change, reauth, second_factor.",
			"action"),
		registrations:   counter("registrations_total", "Accounts registered through the login flow."),
		logouts:         counter("logouts_total", "Sessions signed out by their own user."),
		logoutAlls:      counter("logout_all_total", "Logouts from every session of an account."),
		passwordChanges: counter("password_changes_total", "Passwords changed by their signed-in user."),
		reauths:         counter("reauths_total", "Re-authentications: a signed-in user proved a factor again (sudo mode)."),
		secondFactor: vec("second_factor_total",
			"Second factors by method (totp, recovery_code, passkey) and result (success: a sign-in or re-authentication completed with it; failure: a wrong, used or replayed code, or a passkey answer refused).",
			"method", "result"),
		revoked: vec("sessions_revoked_total",
			"Sessions ended from elsewhere, by the event that ended them: logout_all, password_change and password_reset (the account's other sessions), session_revoked (one session, by its ID).",
			"reason"),
		resets: vec("password_resets_total",
			"Password resets by stage: requested (a link mailed to an account), completed (a password set with a link).",
			"stage"),
		emails: vec("email_changes_total",
			"Email address events: verified (an address confirmed), change_requested (a link mailed to a new address), changed (a new address took effect).",
			"event"),
		passkeys: vec("passkeys_total",
			"Passkey events: added (registered), removed, clone (a sign-in refused because the authenticator's counter did not move forward).",
			"event"),
		providerLogins: vec("provider_logins_total",
			"Sign-ins with other providers by provider (the configured names) and result (success: a session signed in or waiting for its second factor; failure: a callback refused).",
			"provider", "result"),
		providers: map[string]bool{},
	}
	for _, p := range providers {
		e.providers[p] = true
		e.providerLogins.WithLabelValues(p, "success")
		e.providerLogins.WithLabelValues(p, "failure")
	}
	e.loginSuccess = e.logins.WithLabelValues(loginSuccess)
	e.loginInvalid = e.logins.WithLabelValues(loginInvalidCredentials)
	e.loginLocked = e.logins.WithLabelValues(loginLocked)
	e.loginBusy = e.logins.WithLabelValues(loginBusy)
	e.loginError = e.logins.WithLabelValues(loginError)
	e.loginHTTPSRequired = e.logins.WithLabelValues(loginHTTPSRequired)
	e.lockoutLogin = e.lockouts.WithLabelValues(actionLogin)
	e.lockoutRegister = e.lockouts.WithLabelValues(actionRegister)
	e.lockoutPassword = e.lockouts.WithLabelValues(actionPasswordChange)
	e.lockoutReauth = e.lockouts.WithLabelValues(actionReauth)
	e.lockoutSecondFactor = e.lockouts.WithLabelValues(actionSecondFactor)
	for _, m := range []string{"totp", "recovery_code", "passkey"} {
		for _, r := range []string{"success", "failure"} {
			e.secondFactor.WithLabelValues(m, r)
		}
	}
	e.revokedLogoutAll = e.revoked.WithLabelValues(string(auth.EventLogoutAll))
	e.revokedPasswordChange = e.revoked.WithLabelValues(string(auth.EventPasswordChange))
	e.revokedOne = e.revoked.WithLabelValues(string(auth.EventSessionRevoked))
	e.revokedReset = e.revoked.WithLabelValues(string(auth.EventPasswordReset))
	e.resetRequested = e.resets.WithLabelValues("requested")
	e.resetCompleted = e.resets.WithLabelValues("completed")
	e.emailVerified = e.emails.WithLabelValues("verified")
	e.emailChangeRequested = e.emails.WithLabelValues("change_requested")
	e.emailChanged = e.emails.WithLabelValues("changed")
	e.passkeyAdded = e.passkeys.WithLabelValues("added")
	e.passkeyRemoved = e.passkeys.WithLabelValues("removed")
	e.passkeyClone = e.passkeys.WithLabelValues("clone")
	return e
}

func (e *eventMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{e.logins, e.lockouts, e.registrations, e.logouts, e.logoutAlls, e.passwordChanges, e.reauths, e.secondFactor, e.revoked, e.resets, e.emails, e.passkeys, e.providerLogins}
}

// count moves the metrics that ev concerns. Events of a type it does not
// know, and lockouts of an action it does not know, move nothing: every
// label keeps its fixed set of values.
func (e *eventMetrics) count(ev auth.Event) {
	switch ev.Type {
	case auth.EventLoginSuccess:
		e.loginSuccess.Inc()
		e.secondFactorResult(ev.Action, "success")
		e.providerResult(ev.Action, "success")
	case auth.EventLoginFailure:
		if e.providerResult(ev.Action, "failure") {
			return
		}
		if ev.Action != actionPasswordChange && ev.Action != actionReauth {
			e.loginInvalid.Inc()
		}
		if ev.Action == "passkey" {
			e.secondFactorResult(ev.Action, "failure")
		}
	case auth.EventLockout:
		switch ev.Action {
		case actionLogin:
			e.loginLocked.Inc()
			e.lockoutLogin.Inc()
		case actionRegister:
			e.lockoutRegister.Inc()
		case actionPasswordChange:
			e.lockoutPassword.Inc()
		case actionReauth:
			e.lockoutReauth.Inc()
		case actionSecondFactor:
			e.lockoutSecondFactor.Inc()
		}
	case auth.EventLoginError:
		switch ev.Code {
		case auth.CodeBusy:
			e.loginBusy.Inc()
		case auth.CodeHTTPSRequired:
			e.loginHTTPSRequired.Inc()
		default:
			e.loginError.Inc()
		}
	case auth.EventRegister:
		e.registrations.Inc()
	case auth.EventLogout:
		e.logouts.Inc()
	case auth.EventLogoutAll:
		e.logoutAlls.Inc()
		e.revokedLogoutAll.Add(float64(max(ev.Revoked, 0)))
	case auth.EventPasswordChange:
		e.passwordChanges.Inc()
		e.revokedPasswordChange.Add(float64(max(ev.Revoked, 0)))
	case auth.EventSessionRevoked:
		e.revokedOne.Inc()
	case auth.EventReauth:
		e.reauths.Inc()
		e.secondFactorResult(ev.Action, "success")
	case auth.EventSecondFactorFailure:
		e.secondFactorResult(ev.Action, "failure")
	case auth.EventResetRequested:
		e.resetRequested.Inc()
	case auth.EventPasswordReset:
		e.resetCompleted.Inc()
		e.revokedReset.Add(float64(max(ev.Revoked, 0)))
	case auth.EventEmailVerified:
		e.emailVerified.Inc()
	case auth.EventEmailChangeRequested:
		e.emailChangeRequested.Inc()
	case auth.EventEmailChange:
		e.emailChanged.Inc()
	case auth.EventFactorChange:
		switch ev.Action {
		case "passkey_added":
			e.passkeyAdded.Inc()
		case "passkey_removed":
			e.passkeyRemoved.Inc()
		}
	case auth.EventPasskeyClone:
		e.passkeyClone.Inc()
	}
}

// OnEvent returns a Config.OnEvent that counts each account event in the
// metrics, then hands it to next (the application's own handler, for an
// audit log; nil for none). It reads only the event's type, Action, Code
// and Revoked: nothing that names a user, a client or a session reaches a
// metric.
func (m *Metrics) OnEvent(next func(auth.Event)) func(auth.Event) {
	if next == nil {
		return m.events.count
	}
	return func(ev auth.Event) {
		m.events.count(ev)
		next(ev)
	}
}

// providerResult counts a sign-in with a configured provider (Action
// "provider:<name>"), and reports whether action was one.
func (e *eventMetrics) providerResult(action, result string) bool {
	name, ok := strings.CutPrefix(action, "provider:")
	if !ok {
		return false
	}
	if e.providers[name] {
		e.providerLogins.WithLabelValues(name, result).Inc()
	}
	return true
}

// secondFactorResult counts a second-factor code of a known method; the
// password alone ("") and unknown methods count nothing.
func (e *eventMetrics) secondFactorResult(method, result string) {
	if method == "totp" || method == "recovery_code" || method == "passkey" {
		e.secondFactor.WithLabelValues(method, result).Inc()
	}
}
