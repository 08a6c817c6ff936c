package passkey

import (
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
)

// FuzzParseResponse feeds the parsers of a browser's answers (a
// registration's and a sign-in's PublicKeyCredential, as the finishing
// routes read them from any client) arbitrary bytes: they return an error,
// never panic, and what they accept has an ID.
func FuzzParseResponse(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`,
		`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`,
		`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA","userHandle":"AAAA"}}`,
		`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0","authenticatorData":"` + "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ" + `","signature":"MEUCIQ"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := protocol.ParseCredentialCreationResponseBytes(data); err == nil && len(p.RawID) == 0 {
			t.Errorf("a registration answer without an ID was accepted: %q", data)
		}
		if p, err := protocol.ParseCredentialRequestResponseBytes(data); err == nil && len(p.RawID) == 0 {
			t.Errorf("a sign-in answer without an ID was accepted: %q", data)
		}
	})
}
