package session

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// The factors a session can record as proven (Binding.Factors, StepUp).
// A level is the set of distinct kinds proven, never a count of steps: two
// passwords are one factor.
const (
	FactorPassword     = "password"
	FactorTOTP         = "totp"
	FactorRecoveryCode = "recovery_code"
	FactorPasskey      = "passkey"
)

// Proof is a factor a session proved, and when it last did.
type Proof struct {
	Factor string    `json:"factor"`
	At     time.Time `json:"at"`
}

// encodeProofs writes proofs as the record keeps them
// (sessionstore.Meta.Auth): "factor:unixms" pairs joined by commas.
func encodeProofs(ps []Proof) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.Factor)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(p.At.UnixMilli(), 10))
	}
	return b.String()
}

// decodeProofs reads what encodeProofs wrote; a malformed pair is left
// out (it proves nothing).
func decodeProofs(s string) []Proof {
	if s == "" {
		return nil
	}
	var out []Proof
	for pair := range strings.SplitSeq(s, ",") {
		// The time follows the last colon: a factor's name may hold one
		// ("provider:google").
		i := strings.LastIndexByte(pair, ':')
		f, ms, ok := pair[:max(i, 0)], pair[i+1:], i >= 0
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || f == "" || err != nil {
			continue
		}
		out = append(out, Proof{Factor: f, At: time.UnixMilli(n).UTC()})
	}
	return out
}

// orEmpty makes a JSON list of nil.
func orEmpty(ps []Proof) []Proof {
	if ps == nil {
		return []Proof{}
	}
	return ps
}

// prove records the factors proven at now in proofs, once each.
func prove(proofs []Proof, now time.Time, factors ...string) []Proof {
	for _, f := range factors {
		if f == "" {
			continue
		}
		i := slices.IndexFunc(proofs, func(p Proof) bool { return p.Factor == f })
		if i < 0 {
			proofs = append(proofs, Proof{Factor: f, At: now})
			continue
		}
		proofs[i].At = now
	}
	return proofs
}

// Proofs returns the factors the signed-in session proved and when each
// last did, in the order first proven; nil without a signed-in session.
func (s *Session) Proofs() []Proof {
	m, ok := s.meta()
	if !ok || m.UserID == "" {
		return nil
	}
	return decodeProofs(m.Auth)
}

// AuthenticatedAt returns when the signed-in session last proved a factor
// (a sign-in, a re-authentication, a step up); zero without one.
func (s *Session) AuthenticatedAt() time.Time {
	var last time.Time
	for _, p := range s.Proofs() {
		if p.At.After(last) {
			last = p.At
		}
	}
	return last
}

// StepUp records factors as proven now in the signed-in session (a
// re-authentication, a second factor) and gives the session a new ID, as
// every authentication does: a session ID seen before the step up is
// worthless after it. It answers ErrNoMiddleware without a session, and
// refuses a session that is not signed in with ErrNotSignedIn.
func (s *Session) StepUp(factors ...string) error {
	if s == nil {
		return ErrNoMiddleware
	}
	if err := s.CheckTransport(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.current()
	if e == nil || e.UserID() == "" {
		return ErrNotSignedIn
	}
	e.Rotate()
	e.SetAuth(encodeProofs(prove(decodeProofs(e.Meta().Auth), s.m.now(), factors...)))
	return nil
}
