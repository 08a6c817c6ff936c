package mongostore

import "testing"

func TestFerretMajor(t *testing.T) {
	for v, want := range map[string]int{
		"v1.24.2": 1, "1.24.2": 1, "v2.0.0": 2, "v2.5.0-rc.1": 2, "v10.1.0": 10, "unknown": 0, "": 0, "v": 0,
	} {
		if got := ferretMajor(v); got != want {
			t.Errorf("ferretMajor(%q) = %d, want %d", v, got, want)
		}
	}
}
