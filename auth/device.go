package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Device cookies (OWASP's scheme against lockout as a denial of service):
// a successful sign-in gives the browser a cookie that names a random
// device, signed for the account. A later attempt on that account from a
// browser that presents it is throttled against the device's own key
// (Throttle.PerDevice) instead of the account's, so that whoever locks the
// account from outside locks out unknown clients only. The cookie is
// useless for any other account, says nothing of the account it is for, and
// is signed with keys derived from Config.Secrets (rotated with them).

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
func (c *core) deviceCookieName() string { return c.cfg.cookieName + "-device" }

// setDeviceCookie gives the browser a new device cookie for the user.
func (c *core) setDeviceCookie(gc *gin.Context, st *state, userID string) {
	if c.throttle.Disabled || c.throttle.NoDeviceCookies || !c.cookieAllowed(st) {
		return
	}
	var buf [deviceNonceSize + deviceMACSize]byte
	_, _ = rand.Read(buf[:deviceNonceSize])
	copy(buf[deviceNonceSize:], deviceMAC(c.deviceKeys[0], userID, buf[:deviceNonceSize]))
	ck := c.baseCookie()
	ck.Name = c.deviceCookieName()
	ck.Value = base64.RawURLEncoding.EncodeToString(buf[:])
	ck.MaxAge = int(deviceCookieAge / time.Second)
	http.SetCookie(gc.Writer, ck)
}

// deviceKey returns the throttle key of the device that the request's
// device cookie names, when one is signed for the user; "" otherwise. It
// runs at sign-in only, so it reads the cookies the plain way.
func (c *core) deviceKey(r *http.Request, userID string) string {
	if c.throttle.Disabled || c.throttle.NoDeviceCookies {
		return ""
	}
	for _, ck := range r.CookiesNamed(c.deviceCookieName()) {
		raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
		if err != nil || len(raw) != deviceNonceSize+deviceMACSize {
			continue
		}
		nonce, mac := raw[:deviceNonceSize], raw[deviceNonceSize:]
		for _, k := range c.deviceKeys {
			if deviceSigned(k, userID, nonce, mac) {
				sum := sha256.Sum256(nonce)
				return "dev:" + hex.EncodeToString(sum[:16])
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
