package auth

import (
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/sessionstore"
)

// Get returns the session value stored under name as a T (express-session's
// typed SessionData). ok is false when there is no such value, no session,
// or the stored value does not decode as a T.
//
//	cart, ok := auth.Get[Cart](c, "cart")
func Get[T any](c *gin.Context, name string) (v T, ok bool) {
	st := getState(c)
	if st == nil {
		return v, false
	}
	st.mu.Lock()
	sess := st.sess
	st.mu.Unlock()
	if sess == nil || sess.Destroyed() {
		return v, false
	}
	raw, found := sess.Get(name)
	if !found {
		return v, false
	}
	if err := raw.DecodeInto(&v); err != nil {
		st.core.log.Warn("ginauth: session value does not decode as the requested type", "value", name, "err", err)
		var zero T
		return zero, false
	}
	return v, true
}

// Set stores v under name in the request's session, starting a session if
// there is none. The value keeps its Go type through every store. It fails
// if v cannot be encoded as JSON; the session is written when the response
// is sent.
//
//	err := auth.Set(c, "cart", cart)
func Set[T any](c *gin.Context, name string, v T) error {
	st, err := mustState(c)
	if err != nil {
		return err
	}
	enc, err := sessionstore.EncodeTyped(v)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.session().Set(name, enc)
	return nil
}

// Delete removes the value stored under name.
func Delete(c *gin.Context, name string) {
	st := getState(c)
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess != nil {
		st.sess.Delete(name)
	}
}

// ReturnToKey is the session value that holds where to send a browser after
// it signs in. It survives login by default (Config.KeepOnRegenerate).
const ReturnToKey = "returnTo"

// SaveReturnTo remembers a local path to return to after login. Anything
// that is not a path on this site is ignored, so it cannot redirect
// elsewhere.
func SaveReturnTo(c *gin.Context, path string) error {
	if !LocalPath(path) {
		return nil
	}
	return Set(c, ReturnToKey, path)
}

// TakeReturnTo returns the saved return path, or "/", and forgets it.
func TakeReturnTo(c *gin.Context) string {
	p, ok := Get[string](c, ReturnToKey)
	if !ok || !LocalPath(p) {
		return "/"
	}
	Delete(c, ReturnToKey)
	return p
}

// LocalPath reports whether p is a path on this site: it starts with one
// slash, and no scheme, host, backslash or control character can make a
// browser leave the site.
func LocalPath(p string) bool {
	if len(p) == 0 || p[0] != '/' || len(p) > 2048 {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return false
		}
	}
	return true
}
