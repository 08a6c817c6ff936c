package session

import (
	"encoding/json"
	"fmt"

	"github.com/ginauth/ginauth/sessionstore"
)

// encodeValue encodes x for storage as JSON, the form every store keeps
// and a person can read in redis-cli or psql. It fails with an error
// matching sessionstore.ErrEncode when x does not marshal.
func encodeValue(x any) (sessionstore.Value, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return sessionstore.Value{}, fmt.Errorf("%w: %T: %w", sessionstore.ErrEncode, x, err)
	}
	return sessionstore.Value{JSON: b}, nil
}

// decodeValue decodes a stored value into dst, a non-nil pointer.
func decodeValue(v sessionstore.Value, dst any) error {
	if err := json.Unmarshal(v.JSON, dst); err != nil {
		return fmt.Errorf("decoding a session value into %T: %w", dst, err)
	}
	return nil
}
