package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxEmailBytes is the longest address accepted: what SMTP's path limit
// leaves for an address (RFC 5321 section 4.5.3.1.3).
const MaxEmailBytes = 254

// NormalizeEmail returns the form of an email address that is stored and
// compared, or ErrInvalidEmail. Registration, sign-in lookups and recovery
// apply the same rules, and stores compare the result exactly:
//
//   - surrounding white space is dropped;
//   - the address is put in Unicode NFKC form and lower-cased whole: mail
//     providers treat the local part without regard to case, and two
//     accounts must not differ by the case of an address;
//   - what remains must be a bare address (no display name, no angle
//     brackets, no comments) that net/mail parses back to itself, of at
//     most 254 bytes, with a domain that has a dot and no control or
//     space characters anywhere.
func NormalizeEmail(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	s = strings.ToLower(norm.NFKC.String(strings.TrimSpace(s)))
	if s == "" || len(s) > MaxEmailBytes {
		return "", ErrInvalidEmail
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '(' || r == ')' || r == '"' || r == ',' {
			return "", ErrInvalidEmail
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", ErrInvalidEmail
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrInvalidEmail
	}
	return s, nil
}
