package auth

import (
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/internal/session"
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
	if err := session.DecodeInto(raw, &v); err != nil {
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
	enc, err := session.EncodeTyped(v)
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

// ReturnToParam names the page a browser asked for before it was sent to
// sign in: the query parameter of the login page's address, and the form
// field that the login form posts back. It travels with the browser, not in
// a session, so that an anonymous client cannot make the server store
// anything by asking for a protected page.
const ReturnToParam = "returnTo"

// LoginURL returns the address of the login page at loginPath for a
// browser that asked for returnTo (kept only when it is a LocalPath), with
// expired=true after its session ended.
func LoginURL(loginPath, returnTo string, expired bool) string {
	q := url.Values{}
	if LocalPath(returnTo) && returnTo != "/" {
		q.Set(ReturnToParam, returnTo)
	}
	if expired {
		q.Set("expired", "true")
	}
	if len(q) == 0 {
		return loginPath
	}
	return loginPath + "?" + q.Encode()
}

// ReturnTo returns where to send a browser once it has signed in: p when
// it is a LocalPath, "/" otherwise.
func ReturnTo(p string) string {
	if LocalPath(p) {
		return p
	}
	return "/"
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
