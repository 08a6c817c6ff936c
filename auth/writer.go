package auth

import (
	"bufio"
	"net"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// commitWriter commits the request's session before the first byte of the
// response goes out, so that handlers never call Save and the session's
// cookie rides on the response. When the commit fails, the handler's
// response is replaced by the error. It lives in the request state: a
// request allocates one for both.
type commitWriter struct {
	gin.ResponseWriter
	c      *gin.Context
	st     *state
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
	if err := w.st.core.commit(w.c, w.st); err != nil {
		w.failed = true
		// Nothing the handler set goes out with the error; what the commit
		// set (an expired session cookie) does.
		committed := slices.Clone(h.Values("Set-Cookie")[before:])
		clear(h)
		for _, c := range committed {
			h.Add("Set-Cookie", c)
		}
		w.c.Writer = w.ResponseWriter
		WriteProblem(w.c, err)
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

// Begun reports whether the request's session was loaded (by
// middleware.Session), so that an inner installation of the middleware
// leaves the work to the outer one.
func (a *Auth[U]) Begun(c *gin.Context) bool { return getState(c) != nil }

// Finish ends the request's session after the handlers ran: it commits
// what they changed if the response has not started (a handler that wrote
// nothing), and otherwise writes changes made after the response started,
// which can no longer carry a cookie. The session middleware calls it.
func (a *Auth[U]) Finish(c *gin.Context) {
	st := getState(c)
	if st == nil || st.w.st == nil {
		return
	}
	if !st.w.done {
		st.w.commit()
		return
	}
	if err := a.commit(c, st); err != nil && !st.w.failed {
		a.log.Warn("ginauth: session changes after the response started were not saved", "path", c.FullPath(), "err", err)
	}
}
