package session

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"

	"github.com/ginauth/ginauth/sessionstore"
)

// idSize is the size of a session ID in bytes: 256 bits, from crypto/rand.
const idSize = 32

// ID is a session ID: the secret that the cookie carries. Its zero value is
// "no ID". An ID never prints itself: under every verb of fmt (it is a
// fmt.Formatter), as a Stringer and to slog (a slog.LogValuer) it shows only
// "session(" and the first 8 hex digits of its key, so an ID that ends up in
// a log line or an error leaks nothing. In memory the bytes are kept masked
// (XORed with a random mask made at start-up), so that what fmt prints by
// reflection (for %p, or an ID in an unexported field of another struct) is
// noise, not the secret.
type sessionID struct {
	masked [idSize]byte
}

// idMask is what IDs are XORed with in memory. The zero ID (all zero masked
// bytes) stands for the secret equal to the mask, which newID never draws in
// practice (one chance in 2^256) and the codec refuses.
var idMask = func() (m [idSize]byte) {
	_, _ = rand.Read(m[:])
	return m
}()

// newID returns a new random session ID.
func newID() sessionID {
	var raw [idSize]byte
	// crypto/rand.Read never returns an error; on a broken system it aborts
	// the program rather than hand out predictable IDs.
	_, _ = rand.Read(raw[:])
	return idFromBytes(raw[:])
}

// idFromBytes makes an ID of idSize secret bytes.
func idFromBytes(raw []byte) sessionID {
	var id sessionID
	for i := range id.masked {
		id.masked[i] = raw[i] ^ idMask[i]
	}
	return id
}

// bytes returns the secret: only the cookie codec and Key read it.
func (id sessionID) bytes() (raw [idSize]byte) {
	for i := range raw {
		raw[i] = id.masked[i] ^ idMask[i]
	}
	return raw
}

// IsZero reports whether id is the zero ID.
func (id sessionID) IsZero() bool { return id == sessionID{} }

// Equal reports whether id and other are the same sessionID, in constant time.
func (id sessionID) Equal(other sessionID) bool {
	return subtle.ConstantTimeCompare(id.masked[:], other.masked[:]) == 1
}

// Key returns the store key of the session: the SHA-256 of the ID.
func (id sessionID) Key() sessionstore.Key {
	raw := id.bytes()
	return sessionstore.Key(sha256.Sum256(raw[:]))
}

// String returns a short, non-secret name for the session.
func (id sessionID) String() string {
	if id.IsZero() {
		return "session(none)"
	}
	return "session(" + id.Key().Short() + ")"
}

// Format implements fmt.Formatter: every verb, flag and width prints String,
// so that %d, %x or %v of an ID never print the secret bytes.
func (id sessionID) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, id.String()) }

// LogValue makes slog print the short name, never the secret.
func (id sessionID) LogValue() slog.Value { return slog.StringValue(id.String()) }
