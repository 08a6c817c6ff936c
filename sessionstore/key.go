package sessionstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
)

// Key is the name of a session record in a store: the SHA-256 of the
// session ID that the cookie carries. A store never sees the ID, and knowing
// a key does not let anyone present the session, so a leaked store, backup
// or log line gives nobody a usable cookie.
type Key [sha256.Size]byte

// String returns the key as 64 lowercase hex digits, the form stores use.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// ID returns the session's public ID, under which listings show it and
// DestroyID finds it: the first 128 bits of the key, in hex. It is stable,
// unique in practice, and not a credential: the secret the cookie carries
// is another thing, which no store ever sees.
func (k Key) ID() string { return hex.EncodeToString(k[:IDSize]) }

// Short returns the first 8 hex digits of the key, for log lines.
func (k Key) Short() string { return hex.EncodeToString(k[:4]) }

// LogValue makes slog print the short form.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.Short()) }

// IDSize is the number of key bytes a public ID shows.
const IDSize = 16

// ParseKey parses the 64 hex digit form that Key.String returns.
func ParseKey(s string) (Key, error) {
	var k Key
	if len(s) != hex.EncodedLen(len(k)) {
		return k, errBadKey
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, errBadKey
	}
	return k, nil
}

// ValidID reports whether h has the form of a public ID: 32 lowercase hex
// digits. Stores check it before using one in a query.
func ValidID(h string) bool {
	if len(h) != 2*IDSize {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var errBadKey = errors.New("sessionstore: malformed session key")
