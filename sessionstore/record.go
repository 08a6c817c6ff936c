package sessionstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Meta is what a session record says about the session, its values aside.
type Meta struct {
	// UserID is the authenticated user, or "" for an anonymous session. A
	// store indexes the session under it at Create or Regenerate; Update
	// never moves a session to another user.
	UserID string

	// CreatedAt is when the session began (for an authenticated session:
	// the login, since login regenerates the session).
	CreatedAt time.Time

	// LastActivity is the last time the session was written or touched.
	LastActivity time.Time

	// ExpiresAt is when the store forgets the session. Loads check it, so an
	// expired record is gone even before the backend deletes it.
	ExpiresAt time.Time

	// Deadline is the absolute expiry: ExpiresAt never passes it. Zero means
	// none. Stores may use it to prune their per-user index without a write
	// on every touch.
	Deadline time.Time

	// IPAddress and UserAgent describe the client that created the session.
	IPAddress string
	UserAgent string

	// Persistent records that the cookie outlives the browser session
	// ("remember me").
	Persistent bool

	// Credential fingerprints the credentials the user signed in with (the
	// auth package derives it from the password hash), so that a session
	// made with credentials that have since changed can be told apart and
	// ended. Empty for anonymous sessions.
	Credential string

	// Auth records how the session was authenticated: the factors proven
	// and when, in the session manager's encoding. Stores keep it as it
	// is, in the body, and list it (Info.Auth).
	Auth string
}

// Record is what a store keeps for one session: its Meta, its values and a
// revision.
//
// LastActivity, ExpiresAt and Rev change on their own (touch, update); the
// rest is the record's body, written whole by Create and Update and encoded
// by MarshalBody. Stores keep the three separately so that a touch never
// rewrites the body.
type Record struct {
	Meta

	// Values are the application's values, by name.
	Values map[string]Value

	// Rev is the revision a store assigned at the last write. Update succeeds
	// only if the stored revision still equals it.
	Rev int64
}

// Value is one application value in a session: its JSON encoding. Stores
// keep values as they are; they never need to decode them.
type Value struct {
	JSON json.RawMessage
}

// Equal reports whether v and o encode the same value.
func (v Value) Equal(o Value) bool { return bytes.Equal(v.JSON, o.JSON) }

// Clone returns a copy of r that shares no map with it. Value contents are
// immutable by convention and are shared.
func (r *Record) Clone() *Record {
	c := *r
	c.Values = maps.Clone(r.Values)
	return &c
}

// Info returns the listing entry for the record stored under k.
func (r *Record) Info(k Key) Info {
	return Info{
		ID:           k.ID(),
		UserID:       r.UserID,
		CreatedAt:    r.CreatedAt,
		LastActivity: r.LastActivity,
		ExpiresAt:    r.ExpiresAt,
		IPAddress:    r.IPAddress,
		UserAgent:    r.UserAgent,
		Auth:         r.Auth,
	}
}

// Live reports whether the record is still valid at now.
func (r *Record) Live(now time.Time) bool { return now.Before(r.ExpiresAt) }

// Info describes one session in a listing. It carries the session's public
// ID (Key.ID), never the key or the secret the cookie carries.
type Info struct {
	ID           string
	UserID       string
	CreatedAt    time.Time
	LastActivity time.Time
	ExpiresAt    time.Time
	IPAddress    string
	UserAgent    string
	Auth         string
}

// SortInfos orders a listing oldest first, then by handle, so that every
// store lists the same sessions in the same order.
func SortInfos(infos []Info) {
	slices.SortFunc(infos, func(a, b Info) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// RecordVersion is the version of the body encoding that MarshalBody writes.
// UnmarshalBody reads every version up to it.
const RecordVersion = 1

// body is the stored JSON form of a record's body. Field names are short but
// readable in redis-cli and psql.
type body struct {
	V        int                        `json:"v"`
	UserID   string                     `json:"uid,omitempty"`
	Created  time.Time                  `json:"created"`
	Deadline *time.Time                 `json:"deadline,omitempty"`
	IP       string                     `json:"ip,omitempty"`
	UA       string                     `json:"ua,omitempty"`
	Persist  bool                       `json:"persist,omitempty"`
	Cred     string                     `json:"cred,omitempty"`
	Auth     string                     `json:"auth,omitempty"`
	Values   map[string]json.RawMessage `json:"values,omitempty"`
}

// MarshalBody encodes the body of r (everything but LastActivity, ExpiresAt
// and Rev) as JSON.
func MarshalBody(r *Record) ([]byte, error) {
	b := body{
		V:       RecordVersion,
		UserID:  r.UserID,
		Created: r.CreatedAt.UTC(),
		IP:      r.IPAddress,
		UA:      r.UserAgent,
		Persist: r.Persistent,
		Cred:    r.Credential,
		Auth:    r.Auth,
	}
	if !r.Deadline.IsZero() {
		d := r.Deadline.UTC()
		b.Deadline = &d
	}
	if len(r.Values) > 0 {
		b.Values = make(map[string]json.RawMessage, len(r.Values))
		for name, v := range r.Values {
			b.Values[name] = v.JSON
		}
	}
	out, err := json.Marshal(&b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	return out, nil
}

// UnmarshalBody decodes a body written by MarshalBody of this or an earlier
// version into r, leaving LastActivity, ExpiresAt and Rev alone. Anything that
// is not such a body is an error matching ErrCorrupt. It takes the body as a
// string (the form stores read it in, at no copying) or as bytes.
//
// A body in exactly the form this version's MarshalBody writes is read by a
// scanner that slices its strings out of data instead of going through
// encoding/json; anything else (another order, escapes, white space,
// another version) is read by encoding/json. Both give the same record
// (FuzzUnmarshalBody checks it). The scanner is there for every signed-in
// request's load: BenchmarkUnmarshalBody measures it at a third to an
// eighth of encoding/json's time, with 0, 4 and 15 allocations where
// encoding/json makes 11, 23 and 54, for a session of 0, 2 and 10 values.
func UnmarshalBody[T string | []byte](data T, r *Record) error {
	if fastUnmarshalBody(string(data), r) {
		return nil
	}
	return slowUnmarshalBody([]byte(data), r)
}

func slowUnmarshalBody(data []byte, r *Record) error {
	var b body
	if err := json.Unmarshal(data, &b); err != nil {
		return Corrupt(err)
	}
	if b.V < 1 || b.V > RecordVersion {
		return Corrupt(fmt.Errorf("unsupported record version %d", b.V))
	}
	r.UserID = b.UserID
	r.CreatedAt = b.Created
	r.Deadline = time.Time{}
	if b.Deadline != nil {
		r.Deadline = *b.Deadline
	}
	r.IPAddress = b.IP
	r.UserAgent = b.UA
	r.Persistent = b.Persist
	r.Credential = b.Cred
	r.Auth = b.Auth
	r.Values = nil
	if len(b.Values) > 0 {
		r.Values = make(map[string]Value, len(b.Values))
		for name, raw := range b.Values {
			r.Values[name] = Value{JSON: raw}
		}
	}
	return nil
}
