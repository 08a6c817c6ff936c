package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
)

// sealer encrypts second-factor secrets at rest: AES-256-GCM under keys
// derived with HKDF-SHA256 from the configured ones (SecondFactor.Keys),
// the newest sealing, every one opening. A sealed secret is bound to its
// user (the user ID is the additional data): copied to another user's
// row, it does not open.
//
// Layout: version (1) | key ID (4: the first bytes of the SHA-256 of the
// derived key) | nonce (12) | ciphertext and tag.
type sealer struct {
	keys []sealKey // newest first
}

type sealKey struct {
	id   [4]byte
	aead cipher.AEAD
}

const sealVersion = 1

// minSealKey is the shortest key SecondFactor.Keys accepts.
const minSealKey = 32

var errUnsealable = errors.New("auth: a sealed secret does not open with any configured key")

func newSealer(keys [][]byte) (*sealer, error) {
	s := &sealer{}
	for i, k := range keys {
		if len(k) < minSealKey {
			return nil, configErr("SecondFactor.Keys[%d] is %d bytes; at least %d", i, len(k), minSealKey)
		}
		dk, err := hkdf.Key(sha256.New, k, nil, "ginauth second-factor secrets v1", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(dk)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(dk)
		s.keys = append(s.keys, sealKey{id: [4]byte(sum[:4]), aead: aead})
	}
	return s, nil
}

// seal encrypts secret for userID under the newest key.
func (s *sealer) seal(userID string, secret []byte) []byte {
	k := s.keys[0]
	out := make([]byte, 0, 1+4+12+len(secret)+16)
	out = append(out, sealVersion)
	out = append(out, k.id[:]...)
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, secret, []byte(userID))
}

// open decrypts what seal made for userID, with whichever configured key
// sealed it.
func (s *sealer) open(userID string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+4+12+16 || sealed[0] != sealVersion {
		return nil, errUnsealable
	}
	for _, k := range s.keys {
		if subtle.ConstantTimeCompare(k.id[:], sealed[1:5]) != 1 {
			continue
		}
		secret, err := k.aead.Open(nil, sealed[5:17], sealed[17:], []byte(userID))
		if err != nil {
			return nil, errUnsealable
		}
		return secret, nil
	}
	return nil, errUnsealable
}
