package session

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
	s      *Session
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
	if err := w.s.commit(w.ResponseWriter); err != nil {
		w.failed = true
		// Nothing the handler set goes out with the error; what the commit
		// set (an expired session cookie) does.
		committed := slices.Clone(h.Values("Set-Cookie")[before:])
		clear(h)
		for _, c := range committed {
			h.Add("Set-Cookie", c)
		}
		w.c.Writer = w.ResponseWriter
		writeError(w.c, err)
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
