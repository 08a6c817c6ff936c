package session

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/sessionstore"
)

// Info describes one of a user's sessions in a listing. ID is the
// session's public ID (Session.ID): it can be shown and sent back to
// Revoke, and it is never the secret the cookie carries.
type Info struct {
	ID           string    `json:"id"`
	Current      bool      `json:"current"`
	CreatedAt    time.Time `json:"createdAt"`
	LastActivity time.Time `json:"lastActivity"`
	IPAddress    string    `json:"ipAddress"`
	UserAgent    string    `json:"userAgent"`
	// Factors says how the session was authenticated: the factors it
	// proved, and when each last did.
	Factors []Proof `json:"factors"`
}

// request returns the session of ctx when ctx is a request's gin.Context
// under Middleware, and the context to give the store.
func request(ctx context.Context) (*Session, context.Context) {
	if c, ok := ctx.(*gin.Context); ok {
		s := From(c)
		if c.Request != nil {
			return s, c.Request.Context()
		}
		return s, context.Background()
	}
	return nil, ctx
}

// List returns the user's live sessions, oldest first, in one store round
// trip. Given a request's *gin.Context as ctx, it marks the request's own
// session Current; given any other context (an operator's page, a command
// line), none.
func (m *Manager) List(ctx context.Context, userID string) ([]Info, error) {
	s, ctx := request(ctx)
	infos, err := m.store.List(ctx, userID)
	if err != nil {
		return nil, sessionstore.Unavailable(err)
	}
	current := s.ID()
	out := make([]Info, len(infos))
	for i, in := range infos {
		out[i] = Info{
			ID:           in.ID,
			Current:      current != "" && in.ID == current,
			CreatedAt:    in.CreatedAt,
			LastActivity: in.LastActivity,
			IPAddress:    in.IPAddress,
			UserAgent:    in.UserAgent,
			Factors:      orEmpty(decodeProofs(in.Auth)),
		}
	}
	return out, nil
}

// Revoke ends the user's session with the public ID id (an Info.ID); it
// answers 401 at its next request on every instance. It answers an error
// matching sessionstore.ErrNotFound when id names no live session of this
// user, another user's included. Given a request's *gin.Context whose own
// session it is, the request is signed out too.
func (m *Manager) Revoke(ctx context.Context, userID, id string) error {
	s, ctx := request(ctx)
	if err := m.store.DestroyID(ctx, userID, id); err != nil {
		if errors.Is(err, sessionstore.ErrNotFound) {
			return err
		}
		return sessionstore.Unavailable(err)
	}
	if s != nil && s.ID() == id {
		s.Destroy()
	}
	return nil
}

// RevokeAll ends every session of the user in one batch, and returns how
// many it ended; each answers 401 at its next request on every instance:
// sessions are never cached. Given a request's *gin.Context whose session
// belongs to the user, the request is signed out too.
func (m *Manager) RevokeAll(ctx context.Context, userID string) (int, error) {
	s, ctx := request(ctx)
	n, err := m.store.DestroyUser(ctx, userID)
	if err != nil {
		return 0, sessionstore.Unavailable(err)
	}
	if s != nil {
		s.mu.Lock()
		if e := s.current(); e != nil && e.UserID() == userID && userID != "" {
			e.Discard() // one of those just destroyed
		}
		s.mu.Unlock()
	}
	return n, nil
}
