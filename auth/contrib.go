package auth

import (
	"fmt"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/internal/session"
	"github.com/ginauth/ginauth/sessionstore"
)

// contrib is the request's session as a gin-contrib/sessions Session, so
// that code written for sessions.Default(c) works on ginauth's session:
// Begin installs it under sessions.DefaultKey.
//
// Save writes at once and returns the store's error; without it the
// middleware writes before the response goes out. ginsessions.Regenerate
// gives it a new ID (keeping values and user). ID returns the session's
// handle, never its ID. Options with MaxAge < 0 destroys the session; other
// options are ignored (the cookie is configured in Config.Cookie).
type contrib struct {
	c   *gin.Context
	st  *state
	err error // the first value that could not be encoded
}

func (s *contrib) sess(create bool) *session.Session {
	if s.st == nil {
		return nil
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if create {
		return s.st.session()
	}
	if s.st.sess == nil || s.st.sess.Destroyed() {
		return nil
	}
	return s.st.sess
}

func (s *contrib) ID() string {
	if sess := s.sess(false); sess != nil {
		return sess.Handle()
	}
	return ""
}

func (s *contrib) Get(key any) any {
	name, ok := key.(string)
	sess := s.sess(false)
	if !ok || sess == nil {
		return nil
	}
	v, ok := sess.Get(name)
	if !ok {
		return nil
	}
	x, err := session.Decode(v)
	if err != nil {
		return nil
	}
	return x
}

func (s *contrib) Set(key, val any) {
	name, ok := key.(string)
	if !ok {
		s.fail(fmt.Errorf("%w: session keys must be strings, not %T", sessionstore.ErrEncode, key))
		return
	}
	enc, err := session.EncodeValue(val)
	if err != nil {
		s.fail(fmt.Errorf("session value %q: %w", name, err))
		return
	}
	if sess := s.sess(true); sess != nil {
		sess.Set(name, enc)
	}
}

func (s *contrib) fail(err error) {
	if s.err == nil {
		s.err = err
	}
	if s.st != nil {
		s.st.core.log.Warn("ginauth: session value not stored", "err", err)
	}
}

func (s *contrib) Delete(key any) {
	if name, ok := key.(string); ok {
		if sess := s.sess(false); sess != nil {
			sess.Delete(name)
		}
	}
}

func (s *contrib) Clear() {
	if sess := s.sess(false); sess != nil {
		sess.Clear()
	}
}

func flashKey(vars []string) string {
	if len(vars) > 0 {
		return vars[0]
	}
	return "_flash"
}

func (s *contrib) AddFlash(value any, vars ...string) {
	key := flashKey(vars)
	flashes, _ := s.Get(key).([]any)
	s.Set(key, append(flashes, value))
}

func (s *contrib) Flashes(vars ...string) []any {
	key := flashKey(vars)
	flashes, _ := s.Get(key).([]any)
	if flashes != nil {
		s.Delete(key)
	}
	return flashes
}

func (s *contrib) Options(o sessions.Options) {
	if o.MaxAge < 0 {
		if sess := s.sess(false); sess != nil {
			sess.Destroy()
		}
	}
}

// Regenerate gives the session a new ID, keeping its values, its signed-in
// user and the time it began, and moves the record when the session is
// committed; ginsessions.Regenerate calls it. If the session was revoked
// or expired since the request loaded it, the commit fails with
// ErrSessionExpired: the user is signed out, not signed back in.
func (s *contrib) Regenerate() error {
	if s.st == nil {
		return ErrNoSessionMiddleware
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	sess := s.st.sess
	if sess == nil || sess.Destroyed() {
		return nil // nothing stored yet: it gets a fresh ID anyway
	}
	sess.Rotate()
	return nil
}

func (s *contrib) Save() error {
	if s.err != nil {
		return s.err
	}
	if s.st == nil {
		return ErrNoSessionMiddleware
	}
	return s.st.core.commit(s.c, s.st)
}

var _ sessions.Session = (*contrib)(nil)
