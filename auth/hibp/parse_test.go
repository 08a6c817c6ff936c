package hibp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const suffix = "0018A45C4D1DEF81644B54AB7F969B88D65" // any 35 hex digits

func TestParseRange(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
		err  error
	}{
		{"empty", "", 0, nil},
		{"found", "00000000000000000000000000000000000:1\r\n" + suffix + ":42\r\n", 42, nil},
		{"LF, no final newline", suffix + ":7", 7, nil},
		{"lower case", strings.ToLower(suffix) + ":7\n", 7, nil},
		{"padding", suffix + ":0\r\n", 0, nil},
		{"absent", "10000000000000000000000000000000000:3\r\n", 0, nil},
		{"blank lines", "\r\n\n" + suffix + ":2\r\n\r\n", 2, nil},
		{"html", "<html></html>", 0, ErrMalformed},
		{"short suffix", suffix[1:] + ":2", 0, ErrMalformed},
		{"not hex", "G" + suffix[1:] + ":2", 0, ErrMalformed},
		{"no count", suffix + ":", 0, ErrMalformed},
		{"no colon", suffix + "2", 0, ErrMalformed},
		{"negative", suffix + ":-2", 0, ErrMalformed},
		{"signed", suffix + ":+2", 0, ErrMalformed},
		{"huge", suffix + ":99999999999999999999999", 0, ErrMalformed},
		{"space", suffix + ": 2", 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRange([]byte(tt.body), suffix)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("parseRange = %d, %v; want %d, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// FuzzParseRange: any response parses without panicking, to a count of
// zero or more or ErrMalformed; a valid line of the suffix appended to a
// response that parsed is found.
func FuzzParseRange(f *testing.F) {
	f.Add([]byte(suffix+":3\r\n00000000000000000000000000000000000:0\r\n"), uint16(3))
	f.Add([]byte("<html>"), uint16(1))
	f.Add([]byte(""), uint16(0))
	f.Add([]byte("\r\n\n:\n"+suffix+":\n"), uint16(9))
	f.Fuzz(func(t *testing.T, body []byte, n uint16) {
		got, err := parseRange(body, suffix)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || got != 0 {
				t.Fatalf("parseRange = %d, %v", got, err)
			}
			return
		}
		if got < 0 {
			t.Fatalf("count %d", got)
		}
		more := fmt.Appendf(append(append([]byte(nil), body...), '\n'), "%s:%d\n", suffix, n)
		got2, err := parseRange(more, suffix)
		if err != nil || got2 != max(got, int(n)) {
			t.Fatalf("with %s:%d appended: %d, %v; before %d", suffix, n, got2, err, got)
		}
	})
}
