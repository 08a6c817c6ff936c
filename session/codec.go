package session

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// MinSecretSize is the shortest secret New accepts, in bytes.
const MinSecretSize = 32

// Errors from newCodec. A codec that could not keep cookies safe is refused.
// Their text has no prefix: callers put it in their own configuration error.
var (
	errNoSecret    = errors.New("no cookie secret configured")
	errShortSecret = fmt.Errorf("a cookie secret must be at least %d bytes", MinSecretSize)
)

// errBadCookie is what Decode returns for any cookie it does not accept:
// tampered, truncated, garbage, or signed with a secret that is not
// configured. Callers treat it as "no session".
var errBadCookie = errors.New("invalid session cookie")

// codec signs session IDs into cookie values.
//
// It takes a list of secrets, newest first, like express-session's secret
// array: cookies are always issued with the newest, and accepted when any
// secret verifies them, so secrets can be rotated without logging anybody
// out. The signing key is derived from each secret with HKDF-SHA256. The
// cookie name is part of what is signed, so a cookie cannot be replayed
// under another name.
//
// A cookie is one fixed-size value (format 2):
//
//	base64url(2 | flags | ID | HMAC-SHA256(key, "ginauth cookie v2" 0 name 0 2 flags sessionID))
//
// 66 bytes, 88 characters, verified in constant time without allocating.
// It is signed, not encrypted: it carries only a random sessionID, which is the
// bearer secret whether or not it is encrypted, and a flag that anyone
// holding the cookie learns from any response to it.
type codec struct {
	keys []macKey // newest first
}

// macKey is one secret's signing key, with a pool of HMAC states keyed
// with it: making one allocates, reusing one does not.
type macKey struct {
	pool *sync.Pool // of *macState
}

// macState is an HMAC keyed with one secret, and the buffers it signs
// from and into (kept with it: a slice handed to hash.Hash escapes).
type macState struct {
	h   hash.Hash
	msg []byte
	sum []byte
}

func newMACKey(key []byte) macKey {
	return macKey{pool: &sync.Pool{New: func() any {
		return &macState{h: hmac.New(sha256.New, key), msg: make([]byte, 0, 256), sum: make([]byte, 0, sha256.Size)}
	}}}
}

// mac signs a format 2 cookie for name over raw[:2+idSize] (format, flags,
// sessionID) and either writes the signature to out, when want is nil, or reports
// whether it equals want, in constant time.
func (k macKey) mac(name string, raw []byte, out, want []byte) bool {
	st := k.pool.Get().(*macState)
	defer k.pool.Put(st)
	st.msg = append(st.msg[:0], macDomain...)
	st.msg = append(st.msg, name...)
	st.msg = append(st.msg, 0)
	st.msg = append(st.msg, raw[:2+idSize]...)
	st.h.Reset()
	st.h.Write(st.msg)
	st.sum = st.h.Sum(st.sum[:0])
	if want == nil {
		copy(out, st.sum)
		return true
	}
	return hmac.Equal(st.sum, want)
}

// newCodec returns a codec for the secrets, newest first. It refuses an empty
// list and any secret shorter than MinSecretSize bytes.
func newCodec(secrets [][]byte) (*codec, error) {
	if len(secrets) == 0 {
		return nil, errNoSecret
	}
	c := &codec{}
	for i, s := range secrets {
		if len(s) < MinSecretSize {
			return nil, fmt.Errorf("%w (secret %d has %d)", errShortSecret, i+1, len(s))
		}
		key, err := hkdf.Key(sha256.New, s, nil, "ginauth cookie signing v1", 32)
		if err != nil {
			return nil, err
		}
		c.keys = append(c.keys, newMACKey(key))
	}
	return c, nil
}

// cookieFlags are signed facts a cookie carries beside the ID.
type cookieFlags uint8

// flagSignedIn records that the session was signed in when the cookie was
// issued, so that a cookie whose session is gone can be told apart as an
// ended sign-in (session expired) rather than an anonymous visit.
const flagSignedIn cookieFlags = 1

// The signed cookie's layout (format 2).
const (
	formatSigned = 2
	signedLen    = 1 + 1 + idSize + sha256.Size // 66 bytes
	signedStrLen = (signedLen*8 + 5) / 6        // 88 base64url characters
	macDomain    = "ginauth cookie v2\x00"
)

// Encode returns the cookie value for id and flags under the cookie name,
// signed with the newest secret.
func (c *codec) Encode(name string, id sessionID, flags cookieFlags) string {
	var raw [signedLen]byte
	raw[0], raw[1] = formatSigned, byte(flags)
	secret := id.bytes()
	copy(raw[2:], secret[:])
	c.keys[0].mac(name, raw[:], raw[2+idSize:], nil)
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// Decode verifies a cookie value and returns the ID and flags it carries.
// stale reports that an older secret verified it, so that it should be
// issued again with the newest. Any failure is errBadCookie.
func (c *codec) Decode(name, value string) (id sessionID, flags cookieFlags, stale bool, err error) {
	// The length comes first: encoding/base64 would write past raw for a
	// longer value, and it skips line breaks. 88 characters decode to 66
	// bytes only when each is of the alphabet (a line break among them
	// leaves fewer), and carry no spare bits, so a cookie has one
	// spelling. []byte(value) is not copied: Decode only reads it.
	var raw [signedLen]byte
	if len(value) != signedStrLen {
		return sessionID{}, 0, false, errBadCookie
	}
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(value)); err != nil || n != signedLen || raw[0] != formatSigned {
		return sessionID{}, 0, false, errBadCookie
	}
	for i, k := range c.keys {
		if !k.mac(name, raw[:], nil, raw[2+idSize:]) {
			continue
		}
		secret := raw[2 : 2+idSize]
		id := idFromBytes(secret)
		if id.IsZero() || allZero(secret) {
			return sessionID{}, 0, false, errBadCookie
		}
		return id, cookieFlags(raw[1]), i > 0, nil
	}
	return sessionID{}, 0, false, errBadCookie
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
