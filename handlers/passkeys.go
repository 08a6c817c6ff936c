package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/middleware"
	"github.com/ginauth/ginauth/models"
)

// Passkeys are the passkey ceremonies WithPasskeys mounts; the
// auth/passkey package's Passkeys implement them. Each method works on
// the request's session and answers the auth package's errors.
type Passkeys[U models.Authenticatable] interface {
	BeginRegistration(c *gin.Context) (any, error)
	FinishRegistration(c *gin.Context, name string, response []byte) (models.Passkey, error)
	BeginLogin(c *gin.Context) (any, error)
	FinishLogin(c *gin.Context, response []byte, remember bool) (U, error)
	List(c *gin.Context) ([]models.Passkey, error)
	Rename(c *gin.Context, handle, name string) error
	Remove(c *gin.Context, handle string) error
}

// WithPasskeys mounts the routes of passkeys (passkey.New's result, for
// the Auth given to Mount), in JSON only (a browser's page drives them
// with navigator.credentials):
//
//	POST   /webauthn/register/begin      (recent authentication) 200 {"publicKey":{...}}: options for navigator.credentials.create
//	POST   /webauthn/register/finish     {"credential":<PublicKeyCredential>,"name"}: 201 {"passkey"}; other sessions end
//	POST   /webauthn/login/begin         200 {"publicKey":{...}}: options for navigator.credentials.get
//	POST   /webauthn/login/finish        {"credential":<PublicKeyCredential>,"remember"}: 200 {"user"}
//	GET    /webauthn/credentials         200 {"passkeys":[{"handle","name","createdAt","lastUsedAt","backedUp","transports"}]}
//	PATCH  /webauthn/credentials/:handle {"name"}: 204
//	DELETE /webauthn/credentials/:handle (recent authentication) 204; other sessions end
//
// /webauthn/login signs in with a passkey alone, completes a sign-in
// waiting for its second factor (POST /login's "methods" has "passkey"),
// or re-authenticates a signed-in user, as the session is when it begins.
// A response that does not verify answers 400 passkey_rejected.
func WithPasskeys[U models.Authenticatable](p Passkeys[U]) Option {
	return func(o *options) { o.passkeys = p }
}

// mountPasskeys adds the routes of WithPasskeys.
func (h *routes[U]) mountPasskeys(g *gin.RouterGroup, p Passkeys[U], chain func(bool, gin.HandlerFunc) []gin.HandlerFunc, recent gin.HandlerFunc) {
	r := passkeyRoutes[U]{p: p}
	g.POST("/webauthn/register/begin", append(chain(false, recent), r.beginRegistration)...)
	g.POST("/webauthn/register/finish", chain(true, r.finishRegistration)...)
	g.POST("/webauthn/login/begin", chain(false, r.beginLogin)...)
	g.POST("/webauthn/login/finish", chain(false, r.finishLogin)...)
	g.GET("/webauthn/credentials", chain(true, r.list)...)
	g.PATCH("/webauthn/credentials/:handle", chain(true, r.rename)...)
	g.DELETE("/webauthn/credentials/:handle", append(chain(false, recent), r.remove)...)
}

type passkeyRoutes[U models.Authenticatable] struct{ p Passkeys[U] }

// passkeyBody is the JSON of the finishing routes and the rename.
type passkeyBody struct {
	Credential json.RawMessage `json:"credential"`
	Name       *string         `json:"name"`
	Remember   *bool           `json:"remember"`
}

// readPasskeyBody reads a JSON body strictly: an object with no field but
// these, "credential" an object when wantCredential.
func readPasskeyBody(c *gin.Context, wantCredential bool) (passkeyBody, error) {
	var b passkeyBody
	ct, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return b, middleware.ErrUnsupportedMedia
	}
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return b, readErr(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, middleware.BadRequest("The body must be a JSON object of the route's fields.")
	}
	if dec.More() {
		return b, middleware.BadRequest("Trailing data after the JSON object.")
	}
	if wantCredential && !bytes.HasPrefix(bytes.TrimSpace(b.Credential), []byte("{")) {
		return b, middleware.BadRequest(`"credential" must be the PublicKeyCredential, as JSON (its toJSON()).`)
	}
	return b, nil
}

func (r passkeyRoutes[U]) beginRegistration(c *gin.Context) {
	opts, err := r.p.BeginRegistration(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, opts)
}

func (r passkeyRoutes[U]) finishRegistration(c *gin.Context) {
	b, err := readPasskeyBody(c, true)
	var key models.Passkey
	if err == nil {
		name := ""
		if b.Name != nil {
			name = *b.Name
		}
		key, err = r.p.FinishRegistration(c, name, b.Credential)
	}
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"passkey": passkeyView(key)})
}

func (r passkeyRoutes[U]) beginLogin(c *gin.Context) {
	opts, err := r.p.BeginLogin(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, opts)
}

func (r passkeyRoutes[U]) finishLogin(c *gin.Context) {
	b, err := readPasskeyBody(c, true)
	var user U
	if err == nil {
		user, err = r.p.FinishLogin(c, b.Credential, b.Remember != nil && *b.Remember)
	}
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, userBody[U]{user})
}

func (r passkeyRoutes[U]) list(c *gin.Context) {
	keys, err := r.p.List(c)
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	out := make([]passkeyJSON, len(keys))
	for i, k := range keys {
		out[i] = passkeyView(k)
	}
	c.JSON(http.StatusOK, gin.H{"passkeys": out})
}

func (r passkeyRoutes[U]) rename(c *gin.Context) {
	b, err := readPasskeyBody(c, false)
	if err == nil && (b.Name == nil || b.Credential != nil || b.Remember != nil) {
		err = middleware.BadRequest(`Send {"name"}.`)
	}
	if err == nil {
		err = r.p.Rename(c, c.Param("handle"), *b.Name)
	}
	if err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (r passkeyRoutes[U]) remove(c *gin.Context) {
	if err := r.p.Remove(c, c.Param("handle")); err != nil {
		middleware.WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// passkeyJSON is a passkey as the routes show it: never its public key.
type passkeyJSON struct {
	Handle     string     `json:"handle"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	BackedUp   bool       `json:"backedUp"`
	Transports []string   `json:"transports"`
}

func passkeyView(k models.Passkey) passkeyJSON {
	v := passkeyJSON{Handle: k.Handle(), Name: k.Name, CreatedAt: k.CreatedAt.UTC(), BackedUp: k.BackedUp, Transports: k.Transports}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt.UTC()
		v.LastUsedAt = &t
	}
	if v.Transports == nil {
		v.Transports = []string{}
	}
	return v
}
