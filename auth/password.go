package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// MaxPasswordBytes is bcrypt's limit. Longer passwords are refused at
// registration and change, never silently truncated.
const MaxPasswordBytes = 72

// normalizePassword puts a password in NFKC form, as NIST SP 800-63B
// (5.1.1.2) advises, so that the same password typed on two systems
// (composed or decomposed accents, fullwidth letters) hashes alike. RFC
// 8265's OpaqueString profile uses NFC instead, which would tell "ｐａｓｓ"
// from "pass" and no longer match the hashes stored so far.
func normalizePassword(pw string) string { return norm.NFKC.String(pw) }

// normalizeNewPassword applies the length rules to a password about to be
// hashed and returns its normalized form. Its length is counted as typed:
// normalization can turn one character into eighteen (U+FDFA), which is
// not a longer password. bcrypt's 72-byte limit applies to the normalized
// form, which is what is hashed. Every new password goes through
// Auth.checkNewPassword, which calls it first.
func normalizeNewPassword(pw string, minRunes int) (string, error) {
	if !utf8.ValidString(pw) {
		return "", ErrInvalidPassword
	}
	if utf8.RuneCountInString(pw) < minRunes {
		return "", shortPassword(minRunes)
	}
	pw = normalizePassword(pw)
	if len(pw) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	return pw, nil
}

// shortPassword is ErrWeakPassword, saying the minimum.
type shortPassword int

func (e shortPassword) Error() string {
	return fmt.Sprintf("auth: the password must be at least %d characters", int(e))
}

func (e shortPassword) Is(target error) bool { return target == ErrWeakPassword }

// hasher does bcrypt work at one cost. Its callers hold a slot of the
// gate (see core.gated) while it works.
type hasher struct {
	cost  int
	dummy []byte // a well-formed hash of that cost that no password matches
}

func newHasher(cost int) *hasher {
	return &hasher{cost: cost, dummy: dummyHash(cost)}
}

// dummyHash builds a well-formed bcrypt hash of the cost from random bytes,
// without hashing anything: comparing a password against it costs a full
// bcrypt run and always fails. Unknown usernames are compared against it,
// so that they take as long as known ones.
func dummyHash(cost int) []byte {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	raw := make([]byte, 40)
	_, _ = rand.Read(raw)
	enc := base64.NewEncoding(alphabet).WithPadding(base64.NoPadding).EncodeToString(raw)
	return fmt.Appendf(nil, "$2a$%02d$%s", cost, enc[:53])
}

func (h *hasher) hash(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// compare reports whether pw matches hash. A malformed stored hash matches
// nothing. An empty hash is compared against the dummy, so that the time
// spent does not tell a missing user from a wrong password.
func (h *hasher) compare(hash, pw string) bool {
	stored := []byte(hash)
	if hash == "" {
		stored = h.dummy
	}
	pw = normalizePassword(pw)
	if len(pw) > MaxPasswordBytes {
		// Never accepted at registration, so it cannot match; spend the
		// same time anyway.
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(pw[:MaxPasswordBytes]))
		return false
	}
	// A mismatch and a malformed stored hash are both "no match".
	return bcrypt.CompareHashAndPassword(stored, []byte(pw)) == nil && hash != ""
}

// stale reports whether hash should be re-hashed at the current cost.
func (h *hasher) stale(hash string) bool {
	c, err := bcrypt.Cost([]byte(hash))
	return err == nil && c != h.cost
}
