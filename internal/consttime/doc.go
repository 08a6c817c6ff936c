// Package consttime holds, in its test, the check that the functions which
// compare secrets (MACs, session IDs, credential fingerprints; later reset
// tokens and recovery codes) compare them in constant time. Nothing in a
// test fails when hmac.Equal becomes bytes.Equal, so the check reads the
// source: each function on its list must call hmac.Equal or
// subtle.ConstantTimeCompare, and must not compare with ==, !=, a tagged
// switch, bytes.Equal, strings.EqualFold or the like. `go test
// ./internal/consttime` runs it; a new function that compares a secret
// goes on the list in consttime_test.go.
package consttime
