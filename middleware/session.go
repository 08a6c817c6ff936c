package middleware

import (
	"bufio"
	"net"
	"net/http"
	"slices"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
)

const begunKey = "github.com/ginauth/ginauth/middleware.begun"

// Session loads the request's session (one store round trip; the user comes
// from the cache) and commits it automatically, before the response headers
// go out: handlers never call Save. A read-only request inside the touch
// interval writes nothing.
//
// When the commit fails, the client never sees the handler's success: the
// response becomes 503 store_unavailable (or 401 session_expired when the
// session was destroyed meanwhile). A store outage while loading answers 503
// and never logs the user out.
//
// It also installs the session under gin-contrib/sessions' key, so
// sessions.Default(c) works. Installing it twice (globally and on a route)
// is harmless: the outer one does the work.
func Session(a Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := c.Get(begunKey); ok {
			c.Next()
			return
		}
		c.Set(begunKey, true)
		if err := a.Begin(c); err != nil {
			auth.WriteProblem(c, err)
			return
		}
		w := &commitWriter{ResponseWriter: c.Writer, c: c, a: a}
		c.Writer = w
		c.Set(sessions.DefaultKey, auth.ContribSession(c))
		c.Next()
		if !w.done {
			w.commit()
			return
		}
		// Changes made after the response started: the store still gets
		// them, but no cookie can be sent any more.
		if err := a.Commit(c); err != nil && !w.failed {
			a.Logger().Warn("ginauth: session changes after the response started were not saved", "path", c.FullPath(), "err", err)
		}
	}
}

// commitWriter commits the session before the first byte of the response.
type commitWriter struct {
	gin.ResponseWriter
	c      *gin.Context
	a      Authenticator
	done   bool // the commit ran
	failed bool // it failed: the response was replaced by the error
}

// commit runs the commit once; it reports whether the handler's response
// may go out.
func (w *commitWriter) commit() bool {
	if w.done {
		return !w.failed
	}
	w.done = true
	h := w.ResponseWriter.Header()
	before := len(h.Values("Set-Cookie"))
	if err := w.a.Commit(w.c); err != nil {
		w.failed = true
		// Nothing the handler set goes out with the error; what the commit
		// set (an expired session cookie) does.
		committed := slices.Clone(h.Values("Set-Cookie")[before:])
		clear(h)
		for _, c := range committed {
			h.Add("Set-Cookie", c)
		}
		w.c.Writer = w.ResponseWriter
		auth.WriteProblem(w.c, err)
		w.c.Writer = w
		return false
	}
	return true
}

func (w *commitWriter) Write(b []byte) (int, error) {
	if !w.commit() {
		return len(b), nil // the error response went out instead
	}
	return w.ResponseWriter.Write(b)
}

func (w *commitWriter) WriteString(s string) (int, error) {
	if !w.commit() {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *commitWriter) WriteHeaderNow() {
	if w.commit() {
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *commitWriter) Flush() {
	if w.commit() {
		w.ResponseWriter.Flush()
	}
}

func (w *commitWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.commit()
	return w.ResponseWriter.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *commitWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
