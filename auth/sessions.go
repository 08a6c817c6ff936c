package auth

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/sessionstore"
)

// SessionInfo describes one of a user's sessions in a listing. ID is a
// handle derived from the session's store key: it can be shown and sent
// back to revoke the session, and it is never the session ID.
type SessionInfo struct {
	ID           string    `json:"id"`
	Current      bool      `json:"current"`
	CreatedAt    time.Time `json:"createdAt"`
	LastActivity time.Time `json:"lastActivity"`
	IPAddress    string    `json:"ipAddress"`
	UserAgent    string    `json:"userAgent"`
}

// Sessions lists the signed-in user's live sessions, oldest first, marking
// the request's own.
func (a *Auth[U]) Sessions(c *gin.Context) ([]SessionInfo, error) {
	st, uid, err := a.signedIn(c)
	if err != nil {
		return nil, err
	}
	out, err := a.UserSessions(st.ctx, uid)
	if err != nil {
		return nil, err
	}
	current := a.currentHandle(st)
	for i := range out {
		out[i].Current = out[i].ID == current
	}
	return out, nil
}

// UserSessions lists the user's live sessions, oldest first, outside any
// request (an admin page of another user, a command line). None is marked
// current.
func (a *Auth[U]) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	infos, err := a.store.List(ctx, userID)
	if err != nil {
		return nil, ErrStoreUnavailable.wrap(err)
	}
	out := make([]SessionInfo, len(infos))
	for i, in := range infos {
		out[i] = SessionInfo{
			ID:           in.Handle,
			CreatedAt:    in.CreatedAt,
			LastActivity: in.LastActivity,
			IPAddress:    in.IPAddress,
			UserAgent:    in.UserAgent,
		}
	}
	return out, nil
}

func (a *Auth[U]) currentHandle(st *state) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess == nil {
		return ""
	}
	return st.sess.Handle()
}

// RevokeSession destroys the signed-in user's session with the handle (an
// ID from Sessions). It answers ErrNotFound for a handle that names no live
// session of this user, another user's included. Revoking the current
// session logs this request out.
func (a *Auth[U]) RevokeSession(c *gin.Context, handle string) error {
	st, uid, err := a.signedIn(c)
	if err != nil {
		return err
	}
	if err := a.revoke(st.ctx, c, uid, handle); err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess != nil && st.sess.Handle() == handle {
		st.sess.Destroy()
		st.user, st.userID = nil, ""
	}
	return nil
}

// RevokeUserSession ends the user's session with the handle (an ID from
// UserSessions) outside any request; it answers 401 at its next request on
// any instance. It answers ErrNotFound for a handle that names no live
// session of this user, and reports EventSessionRevoked, with no client.
func (a *Auth[U]) RevokeUserSession(ctx context.Context, userID, handle string) error {
	return a.revoke(ctx, nil, userID, handle)
}

func (a *Auth[U]) revoke(ctx context.Context, gc *gin.Context, userID, handle string) error {
	err := a.store.DestroyHandle(ctx, userID, handle)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return ErrStoreUnavailable.wrap(err)
	}
	a.emit(gc, Event{Type: EventSessionRevoked, UserID: userID, Session: handle})
	return nil
}

// CurrentSession describes the request's own session (GET /session-info);
// SessionInfo is one row of the list of a user's sessions.
type CurrentSession struct {
	LoginTime         time.Time `json:"loginTime"`
	LastActivity      time.Time `json:"lastActivity"`
	IPAddress         string    `json:"ipAddress"`
	UserAgent         string    `json:"userAgent"`
	ExpiresAt         time.Time `json:"expiresAt"`
	AbsoluteExpiresAt time.Time `json:"absoluteExpiresAt"`
	Persistent        bool      `json:"persistent"`
}

// CurrentSession returns the signed-in request's own session: login time,
// last recorded activity (at most one touch interval behind), the client
// that logged in, and when the session expires if idle from now on and at
// the latest (GET /session-info).
func (a *Auth[U]) CurrentSession(c *gin.Context) (CurrentSession, error) {
	st, _, err := a.signedIn(c)
	if err != nil {
		return CurrentSession{}, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sess == nil {
		return CurrentSession{}, ErrUnauthenticated
	}
	m := st.sess.Meta()
	last := m.LastActivity
	deadline := m.Deadline
	if deadline.IsZero() {
		deadline = a.policy.Deadline(m.CreatedAt, m.UserID)
	}
	return CurrentSession{
		LoginTime:         m.CreatedAt,
		LastActivity:      last,
		IPAddress:         m.IPAddress,
		UserAgent:         m.UserAgent,
		ExpiresAt:         a.policy.Expiry(last, deadline),
		AbsoluteExpiresAt: deadline,
		Persistent:        m.Persistent,
	}, nil
}
