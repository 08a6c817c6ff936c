// Package passkey adds passkeys (WebAuthn Level 3, through
// github.com/go-webauthn/webauthn) to an auth.Auth: registering them from
// a signed-in session, signing in with one alone, using one as the second
// factor after a password, and re-authenticating with one.
//
// It is a package of its own so that an application without passkeys
// compiles none of WebAuthn. handlers.WithPasskeys mounts its routes.
//
// A ceremony's challenge lives in the browser's session (server side,
// never in a cookie), for Config.ChallengeTTL, and is used once: finishing
// a ceremony takes it out of the session whether or not the response
// verifies, and the sign-in or step up that follows gives the session a
// new ID, so that a second request racing with the same session finds
// nothing to finish.
package passkey

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// Config configures passkeys. RPID, Origins and Store are required.
type Config struct {
	// RPID is the relying party ID: the domain the passkeys belong to,
	// "example.com" for an application at https://example.com or
	// https://app.example.com. Browsers refuse a ceremony whose RP ID is
	// not the page's domain or a parent of it, so New refuses one that is
	// not a parent of every origin (or is an IP address).
	RPID string

	// Origins are the origins the application is served from
	// ("https://example.com"): a response signed for another is refused.
	// https, or http for localhost alone.
	Origins []string

	// Store keeps the passkeys (gormusers' store implements it).
	Store models.PasskeyStore

	// RPName names the application in the browser's prompts. Default
	// "ginauth".
	RPName string

	// ChallengeTTL is how long a ceremony may take, from its begin to its
	// finish. Default 5 minutes; 30 seconds to 10 minutes.
	ChallengeTTL time.Duration

	// MaxPerUser bounds how many passkeys one account keeps. Default 10.
	MaxPerUser int

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Passkeys are the passkey ceremonies of one auth.Auth.
type Passkeys[U models.Authenticatable] struct {
	a     *auth.Auth[U]
	w     *webauthn.WebAuthn
	store models.PasskeyStore
	cfg   Config
}

// New checks cfg and returns the passkey ceremonies of a. An RP ID that
// browsers would refuse for these origins is an error here, at start,
// not a failure in the browser later.
func New[U models.Authenticatable](a *auth.Auth[U], cfg Config) (*Passkeys[U], error) {
	if a == nil {
		return nil, configErr("no auth.Auth")
	}
	if cfg.Store == nil {
		return nil, configErr("Store is required (a models.PasskeyStore: gormusers' store is one)")
	}
	if err := checkRelyingParty(cfg.RPID, cfg.Origins); err != nil {
		return nil, err
	}
	if cfg.RPName == "" {
		cfg.RPName = "ginauth"
	}
	if cfg.ChallengeTTL == 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	if cfg.ChallengeTTL < 30*time.Second || cfg.ChallengeTTL > 10*time.Minute {
		return nil, configErr("ChallengeTTL %v is outside 30s..10m", cfg.ChallengeTTL)
	}
	if cfg.MaxPerUser == 0 {
		cfg.MaxPerUser = 10
	}
	if cfg.MaxPerUser < 0 || cfg.MaxPerUser > 100 {
		return nil, configErr("MaxPerUser %d is outside 1..100", cfg.MaxPerUser)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	timeout := webauthn.TimeoutConfig{Timeout: cfg.ChallengeTTL, TimeoutUVD: cfg.ChallengeTTL}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPName,
		RPOrigins:     cfg.Origins,
		// The ceremony's expiry is checked against Config.Now here, not
		// by the library's own clock.
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, configErr("%v", err)
	}
	return &Passkeys[U]{a: a, w: w, store: cfg.Store, cfg: cfg}, nil
}

// configErr is an error of New: it matches auth.ErrConfig.
func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: passkey: %s", auth.ErrConfig, fmt.Sprintf(format, args...))
}

// checkRelyingParty refuses an RP ID browsers would refuse on these
// origins.
func checkRelyingParty(rpID string, origins []string) error {
	if err := protocol.ValidateRPID(rpID); err != nil || rpID != strings.ToLower(rpID) || strings.Contains(rpID, ":") {
		return configErr("RPID %q is not a domain name (lower case, no scheme, no port)", rpID)
	}
	if net.ParseIP(rpID) != nil {
		return configErr("RPID %q is an IP address: browsers accept only a domain name (use localhost on this machine)", rpID)
	}
	if len(origins) == 0 {
		return configErr("Origins is required (for example https://%s)", rpID)
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return configErr("origin %q is not scheme://host[:port]", o)
		}
		host := strings.ToLower(u.Hostname())
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && host == "localhost":
		default:
			return configErr("origin %q: passkeys need https (or http://localhost)", o)
		}
		if host != rpID && !strings.HasSuffix(host, "."+rpID) {
			return configErr("RPID %q is not %s's domain nor a parent of it: browsers would refuse every ceremony", rpID, host)
		}
	}
	return nil
}

// The purposes of a ceremony.
const (
	purposeRegister = "register"
	purposeSignIn   = "signin" // a passkey alone: discoverable, user verification required
	purposeSecond   = "second" // the second step after a password
	purposeReauth   = "reauth" // a signed-in user proving a factor again
)

// ceremonyKey is the session value of a ceremony under way.
const ceremonyKey = "ginauth.passkey"

// ceremony is that value: what the finish checks the response against.
type ceremony struct {
	Purpose string               `json:"p"`
	UserID  string               `json:"u,omitempty"`
	At      int64                `json:"t"` // Unix ms
	Data    webauthn.SessionData `json:"d"`
}

// begin keeps a new ceremony in the request's session, replacing any
// other.
func (p *Passkeys[U]) begin(c *gin.Context, purpose, userID string, data *webauthn.SessionData) error {
	s := session.From(c)
	if s == nil {
		return session.ErrNoMiddleware
	}
	return s.Set(ceremonyKey, ceremony{Purpose: purpose, UserID: userID, At: p.cfg.Now().UnixMilli(), Data: *data})
}

// take takes the ceremony out of the request's session (it serves once,
// whatever comes of it): ErrPasskeyRejected when there is none, or it is
// not of one of these purposes, or it expired.
func (p *Passkeys[U]) take(c *gin.Context, purposes ...string) (ceremony, error) {
	s := session.From(c)
	if s == nil {
		return ceremony{}, session.ErrNoMiddleware
	}
	var cer ceremony
	found, err := s.Get(ceremonyKey, &cer)
	if found {
		s.Delete(ceremonyKey)
	}
	switch {
	case err != nil || !found:
		return cer, fmt.Errorf("%w: no ceremony to finish (begin one first)", auth.ErrPasskeyRejected)
	case !slices.Contains(purposes, cer.Purpose):
		return cer, fmt.Errorf("%w: the ceremony begun was another", auth.ErrPasskeyRejected)
	case p.cfg.Now().Sub(time.UnixMilli(cer.At)) > p.cfg.ChallengeTTL:
		return cer, fmt.Errorf("%w: the ceremony expired", auth.ErrPasskeyRejected)
	}
	return cer, nil
}

// rejected wraps a WebAuthn error: the client sees ErrPasskeyRejected's
// message, the log the library's reason.
func rejected(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s: %s", auth.ErrPasskeyRejected, pe.Type, pe.Details)
	}
	return fmt.Errorf("%w: %v", auth.ErrPasskeyRejected, err)
}

// user is a user as WebAuthn sees them. The user handle is the user's ID
// (at most 64 bytes, as WebAuthn allows), which names nothing personal.
type user struct {
	id, name string
	keys     []models.Passkey
}

func (u user) WebAuthnID() []byte          { return []byte(u.id) }
func (u user) WebAuthnName() string        { return u.name }
func (u user) WebAuthnDisplayName() string { return u.name }
func (u user) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(u.keys))
	for i, k := range u.keys {
		out[i] = credential(k)
	}
	return out
}

// credential is what WebAuthn checks an assertion against.
func credential(k models.Passkey) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(k.Transports))
	for i, t := range k.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:              k.ID,
		PublicKey:       k.PublicKey,
		AttestationType: k.AttestationType,
		Transport:       ts,
		Flags:           webauthn.CredentialFlags{BackupEligible: k.BackupEligible, BackupState: k.BackedUp},
		Authenticator:   webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount},
	}
}

func descriptors(keys []models.Passkey) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, len(keys))
	for i, k := range keys {
		c := credential(k)
		out[i] = c.Descriptor()
	}
	return out
}

// BeginRegistration starts the signed-in user's registration of a new
// passkey and returns the options for navigator.credentials.create
// ({"publicKey":{...}}, JSON-encodable): a discoverable credential, user
// verification required, none of the user's passkeys again. It asks for a
// recent authentication (auth.ErrReauthRequired), and answers
// auth.ErrPasskeyExists for an account with MaxPerUser passkeys.
func (p *Passkeys[U]) BeginRegistration(c *gin.Context) (any, error) {
	u, err := p.a.User(c)
	if err != nil {
		return nil, err
	}
	if err := p.a.RecentAuth(c, auth.DefaultReauthWindow); err != nil {
		return nil, err
	}
	if err := checkHandle(u.AuthID()); err != nil {
		return nil, err
	}
	keys, err := p.keys(c, u.AuthID())
	if err != nil {
		return nil, err
	}
	if len(keys) >= p.cfg.MaxPerUser {
		return nil, fmt.Errorf("%w: the account has %d passkeys, as many as allowed", auth.ErrPasskeyExists, len(keys))
	}
	opts, data, err := p.w.BeginRegistration(user{id: u.AuthID(), name: u.AuthUsername(), keys: keys},
		webauthn.WithExclusions(descriptors(keys)),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		}),
	)
	if err != nil {
		return nil, err
	}
	if err := p.begin(c, purposeRegister, u.AuthID(), data); err != nil {
		return nil, err
	}
	return opts, nil
}

// checkHandle refuses a user ID too long to be a WebAuthn user handle.
func checkHandle(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return fmt.Errorf("passkey: a user ID of %d bytes cannot be a WebAuthn user handle (1 to 64)", len(id))
	}
	return nil
}

// MaxNameLength bounds a passkey's name, in characters.
const MaxNameLength = 64

// cleanName trims a passkey's name, and names an unnamed one.
func cleanName(name string, now time.Time) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLength || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", fmt.Errorf("%w: a passkey's name is at most %d printable characters", auth.ErrInvalidPasskeyName, MaxNameLength)
	}
	if name == "" {
		name = "Passkey added " + now.UTC().Format("2006-01-02")
	}
	return name, nil
}

// FinishRegistration verifies the browser's answer (the
// PublicKeyCredential, as JSON) to the registration begun in this
// session, and keeps the new passkey under name (default: "Passkey added"
// and the date). The user's other sessions end, this one is signed in
// again with the passkey proven (a factor change), and the owner is told
// by a notice. A response that does not verify answers
// auth.ErrPasskeyRejected, and nothing is stored.
func (p *Passkeys[U]) FinishRegistration(c *gin.Context, name string, response []byte) (models.Passkey, error) {
	u, err := p.a.User(c)
	if err != nil {
		return models.Passkey{}, err
	}
	uid := u.AuthID()
	cer, err := p.take(c, purposeRegister)
	if err == nil && cer.UserID != uid {
		err = fmt.Errorf("%w: the ceremony was begun by another user", auth.ErrPasskeyRejected)
	}
	if err != nil {
		return models.Passkey{}, err
	}
	now := p.cfg.Now()
	if name, err = cleanName(name, now); err != nil {
		return models.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return models.Passkey{}, rejected(err)
	}
	cred, err := p.w.CreateCredential(user{id: uid, name: u.AuthUsername()}, cer.Data, parsed)
	if err != nil {
		return models.Passkey{}, rejected(err)
	}
	if len(cred.ID) > maxCredentialID || len(cred.PublicKey) > maxPublicKey {
		return models.Passkey{}, fmt.Errorf("%w: a credential ID or public key longer than any authenticator makes", auth.ErrPasskeyRejected)
	}
	key := models.Passkey{
		ID: cred.ID, UserID: uid, Name: name, PublicKey: cred.PublicKey,
		AttestationType: cred.AttestationType, AAGUID: cred.Authenticator.AAGUID,
		SignCount: cred.Authenticator.SignCount, BackupEligible: cred.Flags.BackupEligible, BackedUp: cred.Flags.BackupState,
		CreatedAt: now,
	}
	for _, t := range cred.Transport {
		key.Transports = append(key.Transports, string(t))
	}
	keys, err := p.keys(c, uid)
	if err != nil {
		return models.Passkey{}, err
	}
	if len(keys) >= p.cfg.MaxPerUser {
		return models.Passkey{}, fmt.Errorf("%w: the account has %d passkeys, as many as allowed", auth.ErrPasskeyExists, len(keys))
	}
	switch err := p.store.AddPasskey(c.Request.Context(), key); {
	case errors.Is(err, models.ErrFactorExists):
		return models.Passkey{}, auth.ErrPasskeyExists
	case err != nil:
		return models.Passkey{}, storeErr(err)
	}
	if err := p.a.FactorChanged(c, "passkey_added", session.FactorPasskey); err != nil {
		return models.Passkey{}, err
	}
	return key, nil
}

// BeginLogin starts a sign-in with a passkey and returns the options for
// navigator.credentials.get ({"publicKey":{...}}, JSON-encodable). What
// it starts depends on the session:
//
//   - signed in: a re-authentication, with one of the user's passkeys
//     (auth.ErrNoPasskey when they have none);
//   - a sign-in waiting for its second factor (auth.Auth.PendingLogin):
//     the second step, with one of that user's passkeys;
//   - otherwise a sign-in with a passkey alone: any discoverable passkey
//     of this site, with user verification (which makes it two factors).
func (p *Passkeys[U]) BeginLogin(c *gin.Context) (any, error) {
	purpose, uid := purposeSignIn, ""
	if u, err := p.a.User(c); err == nil {
		purpose, uid = purposeReauth, u.AuthID()
	} else if u, _, err := p.a.PendingLogin(c); err == nil {
		purpose, uid = purposeSecond, u.AuthID()
	}
	var (
		opts *protocol.CredentialAssertion
		data *webauthn.SessionData
		err  error
	)
	if uid == "" {
		opts, data, err = p.w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	} else {
		keys, kerr := p.keys(c, uid)
		if kerr != nil {
			return nil, kerr
		}
		if len(keys) == 0 {
			return nil, auth.ErrNoPasskey
		}
		opts, data, err = p.w.BeginLogin(user{id: uid, keys: keys}, webauthn.WithUserVerification(protocol.VerificationPreferred))
	}
	if err != nil {
		return nil, err
	}
	if err := p.begin(c, purpose, uid, data); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishLogin verifies the browser's answer (the PublicKeyCredential, as
// JSON) to the sign-in begun in this session, and does what it began:
// signs the passkey's owner in (with remember as LoginOptions.Remember;
// the session records the passkey, two factors), completes the pending
// sign-in with it as the second factor, or records the signed-in user's
// re-authentication. Every way, the session gets a new ID. A response
// that does not verify (another origin, RP ID or challenge, a bad
// signature, an unknown passkey) answers auth.ErrPasskeyRejected and is
// reported as a login_failure (Action "passkey"); a counter that did not
// move forward, as a passkey_clone, and is refused too.
func (p *Passkeys[U]) FinishLogin(c *gin.Context, response []byte, remember bool) (U, error) {
	var zero U
	cer, err := p.take(c, purposeSignIn, purposeSecond, purposeReauth)
	if err != nil {
		return zero, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return zero, p.failed(c, "", rejected(err))
	}
	ctx := c.Request.Context()
	key, err := models.Passkey{}, models.ErrNoFactor
	if len(parsed.RawID) <= maxCredentialID {
		key, err = p.store.Passkey(ctx, parsed.RawID)
	}
	switch {
	case errors.Is(err, models.ErrNoFactor):
		return zero, p.failed(c, cer.UserID, fmt.Errorf("%w: an unknown passkey", auth.ErrPasskeyRejected))
	case err != nil:
		return zero, storeErr(err)
	case cer.UserID != "" && key.UserID != cer.UserID:
		return zero, p.failed(c, cer.UserID, fmt.Errorf("%w: another user's passkey", auth.ErrPasskeyRejected))
	}
	owner, err := p.a.FindUserByID(ctx, key.UserID)
	if errors.Is(err, models.ErrUserNotFound) {
		return zero, p.failed(c, "", fmt.Errorf("%w: the passkey's account is gone", auth.ErrPasskeyRejected))
	}
	if err != nil {
		return zero, err
	}
	var cred *webauthn.Credential
	if cer.Purpose == purposeSignIn {
		found := func(rawID, handle []byte) (webauthn.User, error) {
			if string(handle) != key.UserID {
				return nil, errors.New("the user handle is not the passkey's owner's")
			}
			return user{id: key.UserID, name: owner.AuthUsername(), keys: []models.Passkey{key}}, nil
		}
		_, cred, err = p.w.ValidatePasskeyLogin(found, cer.Data, parsed)
	} else {
		keys, kerr := p.keys(c, key.UserID)
		if kerr != nil {
			return zero, kerr
		}
		cred, err = p.w.ValidateLogin(user{id: key.UserID, name: owner.AuthUsername(), keys: keys}, cer.Data, parsed)
	}
	if err != nil {
		return zero, p.failed(c, key.UserID, rejected(err))
	}
	if cred.Authenticator.CloneWarning {
		p.a.Emit(c, auth.Event{Type: auth.EventPasskeyClone, UserID: key.UserID, Username: owner.AuthUsername(), Action: key.Handle()})
		return zero, fmt.Errorf("%w: the authenticator's counter did not move forward (%d after %d): a cloned authenticator?", auth.ErrPasskeyRejected, cred.Authenticator.SignCount, key.SignCount)
	}
	used, err := p.store.UsePasskey(ctx, key.ID, key.SignCount, cred.Authenticator.SignCount, cred.Flags.BackupState, p.cfg.Now())
	switch {
	case errors.Is(err, models.ErrNoFactor):
		return zero, p.failed(c, key.UserID, fmt.Errorf("%w: the passkey was removed meanwhile", auth.ErrPasskeyRejected))
	case err != nil:
		return zero, storeErr(err)
	case !used:
		// Another sign-in moved the counter between our read and our
		// write: this answer is stale or a copy.
		return zero, p.failed(c, key.UserID, fmt.Errorf("%w: the passkey was used by another sign-in meanwhile", auth.ErrPasskeyRejected))
	}
	switch cer.Purpose {
	case purposeReauth:
		signedIn, err := p.a.User(c)
		if err != nil {
			return zero, err
		}
		if signedIn.AuthID() != key.UserID {
			return zero, p.failed(c, key.UserID, fmt.Errorf("%w: another user's passkey", auth.ErrPasskeyRejected))
		}
		return signedIn, p.a.StepUp(c, session.FactorPasskey)
	case purposeSecond:
		pending, opts, err := p.a.PendingLogin(c)
		if err != nil {
			return zero, err
		}
		if pending.AuthID() != key.UserID {
			return zero, p.failed(c, key.UserID, fmt.Errorf("%w: another user's passkey", auth.ErrPasskeyRejected))
		}
		opts.Factors = append(opts.Factors, session.FactorPasskey)
		return pending, p.a.Login(c, pending, opts)
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		// ValidatePasskeyLogin asked for it already; this says why a
		// passkey alone may count as two factors.
		return zero, p.failed(c, key.UserID, fmt.Errorf("%w: no user verification", auth.ErrPasskeyRejected))
	}
	if _, err := p.a.User(c); err == nil {
		return zero, auth.ErrPasskeyRejected // signed in meanwhile: not a sign-in any more
	}
	return owner, p.a.Login(c, owner, auth.LoginOptions{Remember: remember, Factors: []string{session.FactorPasskey}})
}

// failed reports a refused passkey answer and returns err.
func (p *Passkeys[U]) failed(c *gin.Context, userID string, err error) error {
	p.a.Emit(c, auth.Event{Type: auth.EventLoginFailure, UserID: userID, Action: session.FactorPasskey})
	return err
}

// List returns the signed-in user's passkeys, oldest first.
func (p *Passkeys[U]) List(c *gin.Context) ([]models.Passkey, error) {
	u, err := p.a.User(c)
	if err != nil {
		return nil, err
	}
	return p.keys(c, u.AuthID())
}

// Rename names the signed-in user's passkey with this handle
// (models.Passkey.Handle): auth.ErrNoPasskey when they have none such.
func (p *Passkeys[U]) Rename(c *gin.Context, handle, name string) error {
	u, err := p.a.User(c)
	if err != nil {
		return err
	}
	id, err := handleID(handle)
	if err != nil {
		return err
	}
	if name, err = cleanName(name, p.cfg.Now()); err != nil {
		return err
	}
	switch err := p.store.RenamePasskey(c.Request.Context(), u.AuthID(), id, name); {
	case errors.Is(err, models.ErrNoFactor):
		return auth.ErrNoPasskey
	case err != nil:
		return storeErr(err)
	}
	return nil
}

// Remove deletes the signed-in user's passkey with this handle. It asks
// for a recent authentication (auth.ErrReauthRequired); the user's other
// sessions end, and the owner is told by a notice. auth.ErrNoPasskey when
// they have none such (another user's included).
func (p *Passkeys[U]) Remove(c *gin.Context, handle string) error {
	u, err := p.a.User(c)
	if err != nil {
		return err
	}
	if err := p.a.RecentAuth(c, auth.DefaultReauthWindow); err != nil {
		return err
	}
	id, err := handleID(handle)
	if err != nil {
		return err
	}
	switch err := p.store.DeletePasskey(c.Request.Context(), u.AuthID(), id); {
	case errors.Is(err, models.ErrNoFactor):
		return auth.ErrNoPasskey
	case err != nil:
		return storeErr(err)
	}
	return p.a.FactorChanged(c, "passkey_removed")
}

// maxCredentialID is WebAuthn's bound on a credential ID's length: no
// passkey has a longer one.
const maxCredentialID = 1023

// maxPublicKey bounds a credential's COSE public key: about 80 bytes for
// P-256, 530 for RSA-4096, 2592 for ML-DSA-87; what gormusers keeps.
const maxPublicKey = 4096

// handleID is the credential ID a handle (models.Passkey.Handle) names:
// auth.ErrNoPasskey for one that names none.
func handleID(handle string) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil || len(id) == 0 || len(id) > maxCredentialID {
		return nil, auth.ErrNoPasskey
	}
	return id, nil
}

// keys lists a user's passkeys.
func (p *Passkeys[U]) keys(ctx context.Context, userID string) ([]models.Passkey, error) {
	keys, err := p.store.Passkeys(ctx, userID)
	if err != nil {
		return nil, storeErr(err)
	}
	return keys, nil
}

// storeErr is a failure of the passkey store.
func storeErr(err error) error {
	return sessionstore.Unavailable(fmt.Errorf("passkey store: %w", err))
}
