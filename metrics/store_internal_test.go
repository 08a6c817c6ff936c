package metrics

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ginauth/ginauth/sessionstore"
)

// Errors are classified by what they match, however wrapped; anything that
// matches none of the store errors is "other".
func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{sessionstore.Unavailable(errors.New("connection refused")), "unavailable"},
		{fmt.Errorf("loading: %w", sessionstore.ErrUnavailable), "unavailable"},
		{sessionstore.Corrupt(errors.New("bad JSON")), "corrupt"},
		{fmt.Errorf("%w: key in use", sessionstore.ErrConflict), "conflict"},
		{fmt.Errorf("%w: a channel", sessionstore.ErrEncode), "other"},
		{context.Canceled, "other"},
		{errors.New("something else"), "other"},
	} {
		if got := kindNames[kindOf(tc.err)]; got != tc.want {
			t.Errorf("kindOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
