package session

import (
	"github.com/gin-gonic/gin"
)

// Get returns the value stored under name in the request's session, as a
// T (express-session's typed SessionData). ok is false when there is no
// such value, no session, or the stored value does not decode as a T.
//
//	cart, ok := session.Get[Cart](c, "cart")
func Get[T any](c *gin.Context, name string) (v T, ok bool) {
	found, err := From(c).Get(name, &v)
	if err != nil || !found {
		var zero T
		return zero, false
	}
	return v, true
}

// Set stores v under name in the request's session, starting a session if
// there is none; it is written when the response goes out. Values are kept
// as JSON, so v comes back through Get as what JSON gives back for its
// type. It fails when v does not marshal to JSON (an error matching
// sessionstore.ErrEncode), and with ErrNoMiddleware.
//
//	err := session.Set(c, "cart", cart)
func Set(c *gin.Context, name string, v any) error { return From(c).Set(name, v) }

// Delete removes the value stored under name from the request's session.
func Delete(c *gin.Context, name string) { From(c).Delete(name) }

// Get decodes the value stored under name into dst, a non-nil pointer,
// and reports whether there was one. The error says that the stored value
// does not decode into dst.
func (s *Session) Get(name string, dst any) (bool, error) {
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	e := s.current()
	s.mu.Unlock()
	if e == nil {
		return false, nil
	}
	raw, found := e.Get(name)
	if !found {
		return false, nil
	}
	if err := decodeValue(raw, dst); err != nil {
		s.m.log.Warn("ginauth: session value does not decode as the requested type", "value", name, "err", err)
		return false, err
	}
	return true, nil
}

// Set stores v, encoded as JSON, under name, starting a session if there is
// none. Setting a value equal to the stored one changes nothing.
func (s *Session) Set(name string, v any) error {
	if s == nil {
		return ErrNoMiddleware
	}
	enc, err := encodeValue(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started().Set(name, enc)
	return nil
}

// Delete removes the value stored under name.
func (s *Session) Delete(name string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.current(); e != nil {
		e.Delete(name)
	}
}

// Clear removes every value of the session; its user, if any, stays.
func (s *Session) Clear() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.current(); e != nil {
		e.Clear()
	}
}

// Names returns the names of the session's values, sorted.
func (s *Session) Names() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.current(); e != nil {
		return e.Names()
	}
	return nil
}
