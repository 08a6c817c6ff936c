package passkey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// softKey is an authenticator in software, as a browser and a security key
// together answer navigator.credentials.create and .get: enough of WebAuthn
// to register a P-256 credential ("none" attestation) and sign assertions,
// with every field a test may want to get wrong exposed.
type softKey struct {
	id      []byte
	priv    *ecdsa.PrivateKey
	handle  []byte // the user handle it was registered with
	counter uint32

	// What it puts in its answers; a test changes them to lie.
	rpID   string
	origin string
	noUV   bool   // user verification not performed
	typ    string // clientData type override ("" for the right one)
}

var b64 = base64.RawURLEncoding

func newSoftKey(t testing.TB, rpID, origin string) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softKey{id: id, priv: priv, rpID: rpID, origin: origin}
}

// publicKeyOptions digs {"publicKey":{...}} out of a begin route's answer.
func publicKeyOptions(t testing.TB, answer map[string]any) map[string]any {
	t.Helper()
	pk, ok := answer["publicKey"].(map[string]any)
	if !ok {
		t.Fatalf("begin answered %v, no publicKey", answer)
	}
	return pk
}

func (k *softKey) clientData(t testing.TB, typ, challenge string) []byte {
	if k.typ != "" {
		typ = k.typ
	}
	data, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (k *softKey) flags(extra byte) byte {
	f := byte(0x01) | extra // user present
	if !k.noUV {
		f |= 0x04
	}
	return f
}

func (k *softKey) authData(flags byte, attested []byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	out := append([]byte{}, rp[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.counter)
	return append(out, attested...)
}

// create answers navigator.credentials.create with options (the
// "publicKey" of the begin route's answer): the PublicKeyCredential, as
// JSON.
func (k *softKey) create(t testing.TB, options map[string]any) []byte {
	t.Helper()
	challenge, _ := options["challenge"].(string)
	user, _ := options["user"].(map[string]any)
	uid, _ := user["id"].(string)
	handle, err := b64.DecodeString(uid)
	if err != nil {
		t.Fatalf("user.id %q: %v", uid, err)
	}
	k.handle = handle
	x, y := k.priv.X.FillBytes(make([]byte, 32)), k.priv.Y.FillBytes(make([]byte, 32))
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(attested, k.id...)
	attested = append(attested, cose...)
	obj, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(k.flags(0x40), attested)})
	if err != nil {
		t.Fatal(err)
	}
	return k.credentialJSON(t, map[string]any{
		"clientDataJSON":    b64.EncodeToString(k.clientData(t, "webauthn.create", challenge)),
		"attestationObject": b64.EncodeToString(obj),
		"transports":        []string{"usb"},
	})
}

// get answers navigator.credentials.get with options: the
// PublicKeyCredential, as JSON, its counter one up.
func (k *softKey) get(t testing.TB, options map[string]any) []byte {
	t.Helper()
	challenge, _ := options["challenge"].(string)
	k.counter++
	auth := k.authData(k.flags(0), nil)
	cd := k.clientData(t, "webauthn.get", challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return k.credentialJSON(t, map[string]any{
		"clientDataJSON":    b64.EncodeToString(cd),
		"authenticatorData": b64.EncodeToString(auth),
		"signature":         b64.EncodeToString(sig),
		"userHandle":        b64.EncodeToString(k.handle),
	})
}

func (k *softKey) credentialJSON(t testing.TB, response map[string]any) []byte {
	data, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": response, "clientExtensionResults": map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}
