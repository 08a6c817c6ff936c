package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// credentialOf fingerprints a password hash for the session record: a
// session remembers the credentials it was signed in with, and ends at its
// next request once they have changed (a password change, an admin's
// SetPassword, a re-hash at a new bcrypt cost), on every instance,
// whatever raced with the change. The fingerprint is 128 bits of SHA-256
// over the hash: it tells hashes apart and gives nothing to crack (the
// bcrypt salt is not in it).
func credentialOf(passwordHash string) string {
	sum := sha256.Sum256([]byte("ginauth credential v1\x00" + passwordHash))
	return hex.EncodeToString(sum[:16])
}

// sameCredential reports whether a session's fingerprint still matches its
// user's. Sessions stored before fingerprints existed have none and match.
func sameCredential(session, user string) bool {
	return session == "" || subtle.ConstantTimeCompare([]byte(session), []byte(user)) == 1
}
