package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/gorilla/securecookie"
)

// MinSecretSize is the shortest secret a Codec accepts, in bytes.
const MinSecretSize = 32

// Errors from NewCodec. A codec that could not keep cookies safe is refused.
// Their text has no prefix: callers put it in their own configuration error.
var (
	ErrNoSecret    = errors.New("no cookie secret configured")
	ErrShortSecret = fmt.Errorf("a cookie secret must be at least %d bytes", MinSecretSize)
)

// ErrBadCookie is what Decode returns for any cookie it does not accept:
// tampered, truncated, garbage, or signed with a secret that is not
// configured. Callers treat it as "no session".
var ErrBadCookie = errors.New("invalid session cookie")

// maxCookieLen bounds what Decode looks at. A genuine cookie is under 200
// bytes; anything near the 4 KiB browser limit is garbage.
const maxCookieLen = 4096

// Codec signs (and optionally encrypts) session IDs into cookie values, with
// gorilla/securecookie.
//
// It takes a list of secrets, newest first, like express-session's secret
// array: cookies are always issued with the newest, and accepted when any
// secret verifies them, so secrets can be rotated without logging anybody
// out. The keys are derived from each secret with HKDF-SHA256, separately for
// signing and encryption. The cookie name is part of what is signed, so a
// cookie cannot be replayed under another name.
type Codec struct {
	codecs []*securecookie.SecureCookie
}

// CodecOptions tunes a Codec. The zero value signs without encrypting: the
// cookie only carries a random ID, so encryption adds no secrecy, but it may
// be turned on.
type CodecOptions struct {
	// Encrypt encrypts the ID with AES-256 (key derived from the secret) in
	// addition to signing it.
	Encrypt bool
}

// NewCodec returns a codec for the secrets, newest first. It refuses an empty
// list and any secret shorter than MinSecretSize bytes.
func NewCodec(secrets [][]byte, opts CodecOptions) (*Codec, error) {
	if len(secrets) == 0 {
		return nil, ErrNoSecret
	}
	c := &Codec{}
	for i, s := range secrets {
		if len(s) < MinSecretSize {
			return nil, fmt.Errorf("%w (secret %d has %d)", ErrShortSecret, i+1, len(s))
		}
		hashKey, err := hkdf.Key(sha256.New, s, nil, "ginauth cookie signing v1", 32)
		if err != nil {
			return nil, err
		}
		var blockKey []byte
		if opts.Encrypt {
			if blockKey, err = hkdf.Key(sha256.New, s, nil, "ginauth cookie encryption v1", 32); err != nil {
				return nil, err
			}
		}
		sc := securecookie.New(hashKey, blockKey).
			SetSerializer(securecookie.NopEncoder{}).
			MaxAge(0). // lifetime is the server's business: idle and absolute timeouts
			MaxLength(maxCookieLen)
		c.codecs = append(c.codecs, sc)
	}
	return c, nil
}

// Flags are signed facts a cookie carries beside the ID.
type Flags uint8

// FlagSignedIn records that the session was signed in when the cookie was
// issued, so that a cookie whose session is gone can be told apart as an
// ended sign-in (session expired) rather than an anonymous visit.
const FlagSignedIn Flags = 1

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Encode returns the cookie value for id and flags under the cookie name,
// signed with the newest secret.
func (c *Codec) Encode(name string, id ID, flags Flags) (string, error) {
	var b [IDSize + 1]byte
	raw := id.bytes()
	copy(b[:], raw[:])
	b[IDSize] = byte(flags)
	return c.codecs[0].Encode(name, b[:])
}

// Decode verifies a cookie value and returns the ID and flags it carries.
// stale reports that an older secret verified it, so the caller should issue
// the cookie again with the newest. Any failure is ErrBadCookie.
func (c *Codec) Decode(name, value string) (id ID, flags Flags, stale bool, err error) {
	if value == "" || len(value) > maxCookieLen {
		return ID{}, 0, false, ErrBadCookie
	}
	for i, sc := range c.codecs {
		var b []byte
		if sc.Decode(name, value, &b) != nil {
			continue
		}
		if len(b) != IDSize+1 {
			return ID{}, 0, false, ErrBadCookie
		}
		if id = idFromBytes(b[:IDSize]); id.IsZero() || allZero(b[:IDSize]) {
			return ID{}, 0, false, ErrBadCookie
		}
		return id, Flags(b[IDSize]), i > 0, nil
	}
	return ID{}, 0, false, ErrBadCookie
}
