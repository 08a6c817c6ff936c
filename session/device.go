package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"
)

// Device cookies (OWASP's scheme against lockout as a denial of service):
// a sign-in with Binding.TrustDevice gives the browser a cookie that names a
// random device, signed for the user. The auth package throttles a later
// sign-in of that user from a browser that presents it against the
// device's own budget instead of the account's, so that whoever locks the
// account from outside locks out unknown clients only. The cookie is
// useless for any other user, says nothing of the user it is for, and is
// signed with keys derived from Config.Secrets (rotated with them).

const (
	deviceNonceSize = 16
	deviceMACSize   = 16
	// deviceCookieAge is how long a browser stays known: a year after its
	// last successful sign-in.
	deviceCookieAge = 365 * 24 * time.Hour
)

// deviceKeys derives the device cookie's signing keys from the secrets,
// newest first, so that a device cookie and a session cookie never share a
// key.
func deviceKeys(secrets [][]byte) [][]byte {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		m := hmac.New(sha256.New, s)
		m.Write([]byte("ginauth device cookie"))
		keys[i] = m.Sum(nil)
	}
	return keys
}

func deviceMAC(key []byte, userID string, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write(nonce)
	return m.Sum(nil)[:deviceMACSize]
}

// deviceCookieName is the device cookie's name: the session cookie's wire
// name (its __Host- prefix included) and "-device".
func (m *Manager) deviceCookieName() string { return m.cookieName + "-device" }

// setDeviceCookie gives the browser a new device cookie for the user.
func (s *Session) setDeviceCookie(w http.ResponseWriter, userID string) {
	if !s.cookieAllowed() {
		return
	}
	m := s.m
	var buf [deviceNonceSize + deviceMACSize]byte
	_, _ = rand.Read(buf[:deviceNonceSize])
	copy(buf[deviceNonceSize:], deviceMAC(m.deviceKeys[0], userID, buf[:deviceNonceSize]))
	ck := m.baseCookie()
	ck.Name = m.deviceCookieName()
	ck.Value = base64.RawURLEncoding.EncodeToString(buf[:])
	ck.MaxAge = int(deviceCookieAge / time.Second)
	http.SetCookie(w, ck)
}

// Device returns a non-secret name of the browser's device when the
// request carries a device cookie signed for the user (one a sign-in with
// Binding.TrustDevice gave it), and "" otherwise. The auth package
// throttles such a browser's sign-ins on a budget of its own.
func (s *Session) Device(userID string) string {
	if s == nil {
		return ""
	}
	m := s.m
	for _, ck := range s.r.CookiesNamed(m.deviceCookieName()) {
		raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
		if err != nil || len(raw) != deviceNonceSize+deviceMACSize {
			continue
		}
		nonce, mac := raw[:deviceNonceSize], raw[deviceNonceSize:]
		for _, k := range m.deviceKeys {
			if deviceSigned(k, userID, nonce, mac) {
				sum := sha256.Sum256(nonce)
				return hex.EncodeToString(sum[:16])
			}
		}
	}
	return ""
}

// deviceSigned reports whether mac signs the device nonce for the user
// under key.
func deviceSigned(key []byte, userID string, nonce, mac []byte) bool {
	return hmac.Equal(mac, deviceMAC(key, userID, nonce))
}
