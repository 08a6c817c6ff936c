package auth

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/mail"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
)

// lockoutNoticeRule sends one lockout notice per account a quarter of an
// hour at most, however many attempts the lockout refuses.
var lockoutNoticeRule = ThrottleRule{Failures: 1, Window: 15 * time.Minute, BaseDelay: 15 * time.Minute, MaxDelay: 15 * time.Minute}

// notify sends the security notice an event calls for, in the background.
func (a *Auth[U]) notify(e Event) {
	if a.rec == nil || e.UserID == "" {
		return
	}
	n := a.rec.cfg.Notices
	switch {
	case (e.Type == EventPasswordChange || e.Type == EventPasswordReset) && !n.NoPasswordChange:
		a.later(func(ctx context.Context) {
			a.noticeTo(ctx, e.UserID, mail.KindNoticePasswordChanged, mail.TemplateData{Time: e.Time, IPAddress: e.IPAddress, Device: e.UserAgent})
		})
	case (e.Type == EventFactorChange || (e.Type == EventLoginSuccess && e.Action == session.FactorRecoveryCode)) && !n.NoSecondFactor:
		change := factorChanges[e.Action]
		if e.Type == EventLoginSuccess {
			change = "One of your recovery codes was used to sign in to your account"
		}
		if change == "" {
			return
		}
		a.later(func(ctx context.Context) {
			a.noticeTo(ctx, e.UserID, mail.KindNoticeSecondFactor, mail.TemplateData{Time: e.Time, IPAddress: e.IPAddress, Change: change})
		})
	case e.Type == EventLockout && e.Action == "login" && !n.NoLockout:
		a.later(func(ctx context.Context) {
			// Only a lockout of the account itself, not of the client's
			// address, concerns its owner.
			wait, err := a.throttle.Store.Check(ctx, a.now(), []ThrottleKey{{Key: "id:" + e.UserID, Rule: a.throttle.PerAccount}})
			if err != nil || wait <= 0 {
				return
			}
			if w, err := a.counted(ctx, ThrottleKey{Key: "notice-lock:" + e.UserID, Rule: lockoutNoticeRule}); err != nil || w > 0 {
				return
			}
			a.noticeTo(ctx, e.UserID, mail.KindNoticeLocked, mail.TemplateData{Time: e.Time, Until: e.Time.Add(wait), IPAddress: e.IPAddress})
		})
	}
}

// factorChanges say what a factor_change event did, for its notice.
var factorChanges = map[string]string{
	"totp_enabled":      "An authenticator app was set up to guard your account's sign-in",
	"totp_disabled":     "The authenticator app was removed from your account",
	"recovery_codes":    "New recovery codes were made for your account; the old ones no longer work",
	"operator_reset":    "The second factor of your account was removed by support",
	"passkey_added":     "A passkey was added to your account",
	"passkey_removed":   "A passkey was removed from your account",
	"provider_linked":   "An account at another provider was linked to sign in to your account",
	"provider_unlinked": "An account at another provider was unlinked from your account",
}

// noticeTo mails the user a notice, if they have a verified address. A
// notice never goes to an unverified address: whoever registers with a
// stranger's address must not be able to aim mail at them.
func (a *Auth[U]) noticeTo(ctx context.Context, userID, kind string, data mail.TemplateData) {
	u, err := a.users.FindByID(ctx, userID)
	if err != nil {
		return
	}
	e := any(u).(models.EmailOwner)
	if !e.AuthEmailVerified() {
		return
	}
	data.Username = u.AuthUsername()
	_ = a.send(ctx, kind, e.AuthEmail(), data)
}

// noticeNewSignIn mails the user that a browser without a device cookie of
// the account signed in, with a link that ends that session.
func (a *Auth[U]) noticeNewSignIn(c *gin.Context, user U, handle string) {
	if a.rec == nil || a.rec.cfg.Notices.NoNewSignIn || !any(user).(models.EmailOwner).AuthEmailVerified() {
		return
	}
	cl, now, uid := a.clientOf(c), a.now(), user.AuthID()
	ttl := a.sessions.Lifetime().Absolute
	if r := a.sessions.Lifetime().Remember; r > ttl {
		ttl = r
	}
	a.later(func(ctx context.Context) {
		link, err := a.issue(ctx, models.Token{Purpose: purposeEndSession, UserID: uid, Session: handle}, ttl, a.rec.cfg.EndSessionPath)
		if err != nil {
			a.log.Warn("ginauth: a new sign-in's notice not sent", "err", err)
			return
		}
		a.noticeTo(ctx, uid, mail.KindNoticeNewSignIn, mail.TemplateData{Time: now, IPAddress: cl.ip, Device: deviceSummary(cl.userAgent), Link: link})
	})
}

// deviceSummary shortens a user agent for a notice: its product tokens
// without the comments, at most 120 bytes.
func deviceSummary(ua string) string {
	var b strings.Builder
	depth := 0
	for _, r := range ua {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	if s == "" {
		return "an unknown browser"
	}
	return truncateUTF8(s, 120)
}
