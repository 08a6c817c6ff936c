package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// Username limits. 191 bytes is the longest value MySQL indexes in utf8mb4.
const (
	MaxUsernameRunes = 64
	maxUsernameBytes = 191
)

// NormalizeUsername returns the form of a username that is stored and
// compared, or ErrInvalidUsername. Registration and login apply the same
// rules, so a user signs in with any spelling that normalizes alike:
//
//   - surrounding white space is dropped;
//   - the name is put in Unicode NFKC form, so compatibility look-alikes
//     (fullwidth "ａｌｉｃｅ", ligatures, superscripts) become their plain
//     letters;
//   - letters are lower-cased: names are case-insensitive;
//   - what remains must be valid UTF-8 of 1 to 64 characters, each a letter,
//     a digit, a combining mark, or one of . _ - @ +;
//   - Latin letters may not be mixed with Cyrillic or Greek ones, the
//     classic way to register a name that looks like someone else's.
func NormalizeUsername(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrInvalidUsername
	}
	s = strings.ToLower(norm.NFKC.String(strings.TrimSpace(s)))
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxUsernameRunes || len(s) > maxUsernameBytes {
		return "", ErrInvalidUsername
	}
	var latin, cyrillic, greek bool
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			latin = latin || unicode.Is(unicode.Latin, r)
			cyrillic = cyrillic || unicode.Is(unicode.Cyrillic, r)
			greek = greek || unicode.Is(unicode.Greek, r)
		case unicode.IsDigit(r), unicode.IsMark(r), strings.ContainsRune("._-@+", r):
		default:
			return "", ErrInvalidUsername
		}
	}
	if latin && (cyrillic || greek) {
		return "", ErrInvalidUsername
	}
	return s, nil
}

// normalizeNewUsername is NormalizeUsername for a name about to be
// registered, which must also be a valid identifier under RFC 8265's
// UsernameCaseMapped profile (PRECIS): that refuses, among others, names
// that end in a modifier letter (ʹ, ˆ) or break the Bidi rule. Every name
// NormalizeUsername accepts is already in that profile's form (it changes
// none of them); sign-in applies NormalizeUsername alone, so that the few
// names accepted before this check was added still sign in.
func normalizeNewUsername(s string) (string, error) {
	name, err := NormalizeUsername(s)
	if err != nil {
		return "", err
	}
	if p, err := precis.UsernameCaseMapped.String(name); err != nil || p != name {
		return "", ErrInvalidUsername
	}
	return name, nil
}
