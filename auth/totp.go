package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"image/png"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// SecondFactor configures second factors: TOTP (an authenticator app)
// with recovery codes. It is off until Keys is set; then the user store
// must implement models.FactorStore (gormusers does), or New refuses the
// configuration.
type SecondFactor struct {
	// Keys seal TOTP secrets at rest (AES-256-GCM, each key derived with
	// HKDF-SHA256 from one of these), newest first, 32 bytes or more
	// each. To rotate, put a new key first and keep the old ones until
	// every enrolment made under them is gone: secrets sealed with any of
	// them open; new ones are sealed with the first.
	Keys [][]byte

	// Issuer names the application in authenticator apps. Default:
	// Recovery.AppName, or "ginauth".
	Issuer string

	// PendingTTL is how long a correct password waits for its second
	// factor (POST /login/2fa) before the sign-in must start over.
	// Default 5 minutes; at most 15.
	PendingTTL time.Duration
}

// The methods a pending sign-in may complete with (POST /login's
// "methods").
const (
	MethodTOTP     = "totp"
	MethodRecovery = "recovery"
	// MethodPasskey: one of the user's passkeys (the auth/passkey
	// package's routes), offered when the user has registered one.
	MethodPasskey = "passkey"
)

// TOTP codes: 6 digits, 30-second steps, one step of clock skew each
// way (RFC 6238's recommendation).
const (
	totpDigits = otp.DigitsSix
	totpPeriod = 30
	totpSkew   = 1
)

// recoveryCodes is how many codes a set has; each is 120 bits (24 base32
// characters, shown in six groups of four): enough that a SHA-256 of it
// is as safe to keep as a password hash (ASVS 6.5.2 asks for a slow hash
// only under 112 bits).
const (
	recoveryCodes     = 10
	recoveryCodeBytes = 15
)

var (
	// ErrInvalidCode: a wrong, malformed, replayed or used TOTP or
	// recovery code.
	ErrInvalidCode = errors.New("auth: invalid code")

	// ErrSecondFactorEnabled: an enrolment while one is active (disable
	// it first).
	ErrSecondFactorEnabled = errors.New("auth: a second factor is enabled already")

	// ErrNoSecondFactor: an operation on a second factor the user does not
	// have, or a second-factor feature of an Auth without SecondFactor.
	ErrNoSecondFactor = errors.New("auth: no second factor")
)

// SecondFactorRequired is the error Login returns for a user with a
// second factor: the password was right, nothing is signed in, and the
// browser holds a pending sign-in (for SecondFactor.PendingTTL) that
// CompleteLogin finishes with one of Methods.
type SecondFactorRequired struct {
	Methods []string
}

func (e *SecondFactorRequired) Error() string {
	return "auth: a second factor is required (" + strings.Join(e.Methods, ", ") + ")"
}

// secondFactor is the second-factor side of an Auth.
type secondFactor struct {
	cfg     SecondFactor
	seal    *sealer
	factors models.FactorStore
}

func newSecondFactor[U models.Authenticatable](cfg Config[U]) (*secondFactor, error) {
	sf := cfg.SecondFactor
	seal, err := newSealer(sf.Keys)
	if err != nil {
		return nil, err
	}
	factors, ok := cfg.Users.(models.FactorStore)
	if !ok {
		return nil, configErr("SecondFactor needs a user store that keeps factors: %T does not implement models.FactorStore", cfg.Users)
	}
	if sf.Issuer == "" {
		sf.Issuer = cfg.Recovery.AppName
	}
	if sf.Issuer == "" {
		sf.Issuer = "ginauth"
	}
	if sf.PendingTTL == 0 {
		sf.PendingTTL = 5 * time.Minute
	}
	if sf.PendingTTL < 0 || sf.PendingTTL > 15*time.Minute {
		return nil, configErr("SecondFactor.PendingTTL %v is outside 0..15m", sf.PendingTTL)
	}
	return &secondFactor{cfg: sf, seal: seal, factors: factors}, nil
}

// TOTPEnrollment is what an enrolment shows once: the secret, as text
// and as an otpauth:// URL, and the URL as a QR code (PNG).
type TOTPEnrollment struct {
	Secret string `json:"secret"`
	URL    string `json:"otpauthURL"`
	QRPNG  []byte `json:"qrPNG"`
}

// EnrollTOTP starts the signed-in user's enrolment of an authenticator
// app: a new secret, kept sealed and inactive until ConfirmTOTP gets a
// correct code from it. A new enrolment replaces one not yet confirmed;
// with one active it answers ErrSecondFactorEnabled. The prebuilt route
// asks for a recent authentication first.
func (a *Auth[U]) EnrollTOTP(c *gin.Context) (TOTPEnrollment, error) {
	if a.sf == nil {
		return TOTPEnrollment{}, ErrNoSecondFactor
	}
	u, err := a.User(c)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: a.sf.cfg.Issuer, AccountName: u.AuthUsername(), Period: totpPeriod, Digits: totpDigits})
	if err != nil {
		return TOTPEnrollment{}, err
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(key.Secret())
	if err != nil {
		return TOTPEnrollment{}, err
	}
	switch err := a.sf.factors.SetTOTP(c.Request.Context(), u.AuthID(), a.sf.seal.seal(u.AuthID(), raw)); {
	case errors.Is(err, models.ErrFactorExists):
		return TOTPEnrollment{}, ErrSecondFactorEnabled
	case err != nil:
		return TOTPEnrollment{}, sessionstore.Unavailable(err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// totpStep returns the time step among now's and its neighbours whose
// code is code, or false. Every candidate is compared in constant time.
func totpStep(secret []byte, code string, now time.Time) (int64, bool) {
	// A code of another length matches nothing: ConstantTimeCompare
	// answers 0 for slices of different lengths.
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	step := now.Unix() / totpPeriod
	found, match := int64(0), false
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(enc, time.Unix((step+d)*totpPeriod, 0), totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found, match = step+d, true
		}
	}
	return found, match
}

// ConfirmTOTP activates the signed-in user's pending enrolment with a
// correct code from the app, and returns a new set of recovery codes, to
// show once. A second factor now guards every sign-in; the user's other
// sessions end (a factor change), and this one is signed in again with
// both factors proven. A wrong code answers ErrInvalidCode, and guesses
// are throttled as CompleteLogin's are.
func (a *Auth[U]) ConfirmTOTP(c *gin.Context, code string) ([]string, error) {
	if a.sf == nil {
		return nil, ErrNoSecondFactor
	}
	u, err := a.User(c)
	if err != nil {
		return nil, err
	}
	uid := u.AuthID()
	ctx := c.Request.Context()
	t, err := a.sf.factors.TOTP(ctx, uid)
	switch {
	case errors.Is(err, models.ErrNoFactor) || (err == nil && t.Confirmed):
		return nil, ErrNoSecondFactor
	case err != nil:
		return nil, sessionstore.Unavailable(err)
	}
	secret, err := a.sf.seal.open(uid, t.Sealed)
	if err != nil {
		return nil, err
	}
	step := int64(0)
	if err := a.codeAttempt(c, uid, u.AuthUsername(), session.FactorTOTP, func() (bool, error) {
		var ok bool
		step, ok = totpStep(secret, strings.TrimSpace(code), a.now())
		return ok, nil
	}); err != nil {
		return nil, err
	}
	switch err := a.sf.factors.ConfirmTOTP(ctx, uid, t.Sealed, step); {
	case errors.Is(err, models.ErrNoFactor):
		return nil, ErrInvalidCode // replaced by another enrolment meanwhile
	case err != nil:
		return nil, sessionstore.Unavailable(err)
	}
	codes, err := a.newRecoveryCodes(ctx, uid)
	if err != nil {
		return nil, err
	}
	if err := a.factorChanged(c, u, "totp_enabled", session.FactorPassword, session.FactorTOTP); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP removes the signed-in user's authenticator app and recovery
// codes. It asks for a recent authentication with a second factor (a
// code, not only the password: whoever knows the password alone must not
// remove the factor that guards it): ErrReauthRequired otherwise. The
// user's other sessions end.
func (a *Auth[U]) DisableTOTP(c *gin.Context) error {
	if a.sf == nil {
		return ErrNoSecondFactor
	}
	u, err := a.User(c)
	if err != nil {
		return err
	}
	if !a.recentSecondFactor(c, DefaultReauthWindow) {
		return ErrReauthRequired
	}
	uid := u.AuthID()
	ctx := c.Request.Context()
	if err := a.sf.factors.DeleteTOTP(ctx, uid); err != nil {
		return sessionstore.Unavailable(err)
	}
	if err := a.sf.factors.SetRecoveryCodes(ctx, uid, nil); err != nil {
		return sessionstore.Unavailable(err)
	}
	return a.factorChanged(c, u, "totp_disabled", session.FactorPassword)
}

// RegenerateRecoveryCodes replaces the signed-in user's recovery codes
// with a new set, to show once: the old ones stop working. It needs an
// active authenticator app (ErrNoSecondFactor).
func (a *Auth[U]) RegenerateRecoveryCodes(c *gin.Context) ([]string, error) {
	if a.sf == nil {
		return nil, ErrNoSecondFactor
	}
	u, err := a.User(c)
	if err != nil {
		return nil, err
	}
	if on, err := a.hasSecondFactor(c.Request.Context(), u.AuthID()); err != nil || !on {
		if err == nil {
			err = ErrNoSecondFactor
		}
		return nil, err
	}
	codes, err := a.newRecoveryCodes(c.Request.Context(), u.AuthID())
	if err == nil {
		a.emit(c, Event{Type: EventFactorChange, UserID: u.AuthID(), Username: u.AuthUsername(), Action: "recovery_codes"})
	}
	return codes, err
}

// RecoveryCodesLeft counts the signed-in user's unused recovery codes.
func (a *Auth[U]) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	if a.sf == nil {
		return 0, ErrNoSecondFactor
	}
	n, err := a.sf.factors.RecoveryCodesLeft(ctx, userID)
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	return n, nil
}

// HasSecondFactor reports whether the user's sign-ins need a second
// factor.
func (a *Auth[U]) HasSecondFactor(ctx context.Context, userID string) (bool, error) {
	return a.hasSecondFactor(ctx, userID)
}

func (a *Auth[U]) hasSecondFactor(ctx context.Context, userID string) (bool, error) {
	if a.sf == nil {
		return false, nil
	}
	t, err := a.sf.factors.TOTP(ctx, userID)
	switch {
	case errors.Is(err, models.ErrNoFactor):
		return false, nil
	case err != nil:
		return false, sessionstore.Unavailable(err)
	}
	return t.Confirmed, nil
}

// newRecoveryCodes makes, keeps (hashed) and returns a new set.
func (a *Auth[U]) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := make([]string, recoveryCodes)
	hashes := make([][32]byte, recoveryCodes)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for i := range codes {
		var b [recoveryCodeBytes]byte
		_, _ = rand.Read(b[:])
		s := strings.ToLower(enc.EncodeToString(b[:]))
		codes[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:24]
		hashes[i] = recoveryHash(codes[i])
	}
	if err := a.sf.factors.SetRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, sessionstore.Unavailable(err)
	}
	return codes, nil
}

// recoveryHash is what a store keeps of a recovery code: the SHA-256 of
// its 24 characters, whatever the case, spaces and dashes it is typed
// with. A string of another length or alphabet hashes to nothing kept.
func recoveryHash(code string) [32]byte {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r >= 'a' && r <= 'z', r >= '2' && r <= '7':
			b.WriteRune(r)
		case r == '-' || r == ' ':
		default:
			b.WriteRune('!') // no code has it
		}
	}
	return sha256.Sum256([]byte("ginauth recovery code v1\x00" + b.String()))
}

// FactorChanged is what the signed-in user's factors changing does (the
// application's own factor, or auth/passkey's): the user's other sessions
// end, this one is signed in again under a new ID with the factors it had
// proven and proven (those the change itself proved) as proven now, and
// EventFactorChange with Action action is reported (and mailed as a
// notice when Recovery is on and the action is one the notices know:
// "passkey_added", "passkey_removed", ...).
func (a *Auth[U]) FactorChanged(c *gin.Context, action string, proven ...string) error {
	u, err := a.User(c)
	if err != nil {
		return err
	}
	var factors []string
	for _, p := range session.From(c).Proofs() {
		if !slices.Contains(proven, p.Factor) {
			factors = append(factors, p.Factor)
		}
	}
	return a.factorChanged(c, u, action, append(factors, proven...)...)
}

// factorChanged ends the user's other sessions after a change of their
// factors, signs this session in again with the factors given as proven
// now (a new ID), and reports it.
func (a *Auth[U]) factorChanged(c *gin.Context, u U, action string, factors ...string) error {
	uid := u.AuthID()
	n, err := a.sessions.RevokeAll(c.Request.Context(), uid)
	if err != nil {
		return err
	}
	s := session.From(c)
	b, _ := s.Bound()
	c.Set(readKey, &userRead{uid, a.cacheEpoch()})
	if err := a.bindFactors(c, s, u, b.Remember, factors...); err != nil {
		return err
	}
	a.emit(c, Event{Type: EventFactorChange, UserID: uid, Username: u.AuthUsername(), Action: action, Session: s.ID(), Revoked: max(n-1, 0)})
	return nil
}

// recentSecondFactor reports whether the request's session proved a
// second factor within window.
func (a *Auth[U]) recentSecondFactor(c *gin.Context, window time.Duration) bool {
	for _, p := range session.From(c).Proofs() {
		if p.Factor != session.FactorPassword && a.now().Sub(p.At) <= window {
			return true
		}
	}
	return false
}

// codeAttempt judges a code (check reports whether it is right) under the
// throttle of second-factor codes, keyed as the password's is: from a
// browser that holds a device cookie of the account (one that signed in
// to it before), on that device's own budget (PerDevice); from any other,
// on the account's (PerAccount) and on its client address's (PerIP,
// shared with passwords). Whoever knows the password and guesses codes
// from a browser of their own so locks out the browsers that never signed
// in, never the owner's known ones, and gets no more guesses from a new
// browser or address. Wrong codes count on every key; a right one clears
// the account's (or the device's) and leaves the address its failures.
// ErrInvalidCode for a wrong code.
func (a *Auth[U]) codeAttempt(c *gin.Context, uid, username, factor string, check func() (bool, error)) error {
	// The first key is the account's (or the device's); the address's,
	// when known, comes second.
	at := attempt{lockout: Event{UserID: uid, Username: username, Action: "second_factor"}}
	device := ""
	if a.deviceCookies() {
		device = session.From(c).Device(uid) // nil-safe
	}
	switch {
	case a.throttle.Disabled:
	case device != "":
		// Apart from the device's password budget ("dev:"), as the
		// account's codes are apart from its passwords.
		at.keys = []ThrottleKey{{Key: "2fa-dev:" + device, Rule: a.throttle.PerDevice}}
	default:
		at.keys = []ThrottleKey{{Key: "2fa:" + uid, Rule: a.throttle.PerAccount}}
		if k, ok := a.addressKey(c); ok {
			at.keys = append(at.keys, k)
		}
	}
	ok := false
	// No bcrypt slot: a code is checked with an HMAC (or a SHA-256) and a
	// store query, and must not wait behind password hashing.
	err := a.throttled(c, at, func() ([]Verdict, error) {
		var err error
		if ok, err = check(); err != nil {
			return nil, err
		}
		v := make([]Verdict, len(at.keys))
		if !ok {
			for i := range v {
				v[i] = Failed
			}
			return v, nil
		}
		if len(v) > 0 {
			v[0] = Cleared
		}
		return v, nil
	})
	if err != nil {
		return err
	}
	if !ok {
		a.emit(c, Event{Type: EventSecondFactorFailure, UserID: uid, Username: username, Action: factor})
		return ErrInvalidCode
	}
	return nil
}

// ResetSecondFactor removes a user's authenticator app, recovery codes and
// passkeys (when the user store keeps them: models.PasskeyStore) for
// support (a user who lost them), ends every session of the user, and
// reports EventFactorChange with Action "operator_reset" for the audit
// trail, and returns how many sessions it ended. It is an operator's
// operation: give it an operator's context and confirm who is asking by
// other means first. The factors go first: if the session store then
// fails, the user can sign in with the password alone, and the sessions
// are ended with RevokeAll. Removing nothing is no error.
func (a *Auth[U]) ResetSecondFactor(ctx context.Context, userID string) (int, error) {
	if a.sf == nil {
		return 0, ErrNoSecondFactor
	}
	if _, err := a.users.FindByID(ctx, userID); err != nil {
		if errors.Is(err, models.ErrUserNotFound) {
			return 0, err
		}
		return 0, sessionstore.Unavailable(err)
	}
	if err := a.sf.factors.DeleteTOTP(ctx, userID); err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	if err := a.sf.factors.SetRecoveryCodes(ctx, userID, nil); err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	if ps, ok := a.users.(models.PasskeyStore); ok {
		keys, err := ps.Passkeys(ctx, userID)
		if err != nil {
			return 0, sessionstore.Unavailable(err)
		}
		for _, k := range keys {
			if err := ps.DeletePasskey(ctx, userID, k.ID); err != nil && !errors.Is(err, models.ErrNoFactor) {
				return 0, sessionstore.Unavailable(err)
			}
		}
	}
	n, err := a.sessions.RevokeAll(ctx, userID)
	if err != nil {
		return 0, err
	}
	a.emit(ctx, Event{Type: EventFactorChange, UserID: userID, Action: "operator_reset", Revoked: n})
	return n, nil
}
