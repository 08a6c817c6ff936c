package mail

import (
	"testing"
	"time"
)

// The wait before each attempt doubles from the first, up to the cap.
func TestBackoff(t *testing.T) {
	cases := []struct {
		first, limit time.Duration
		n            int
		want         time.Duration
	}{
		{2 * time.Second, 5 * time.Minute, 1, 2 * time.Second},
		{2 * time.Second, 5 * time.Minute, 2, 4 * time.Second},
		{2 * time.Second, 5 * time.Minute, 4, 16 * time.Second},
		{2 * time.Second, 5 * time.Minute, 8, 256 * time.Second},
		{2 * time.Second, 5 * time.Minute, 9, 5 * time.Minute},
		{2 * time.Second, 5 * time.Minute, 1000, 5 * time.Minute},
		{time.Hour, 5 * time.Minute, 1, 5 * time.Minute},
	}
	for _, tc := range cases {
		if got := backoff(tc.first, tc.limit, tc.n); got != tc.want {
			t.Errorf("backoff(%v, %v, %d) = %v, want %v", tc.first, tc.limit, tc.n, got, tc.want)
		}
	}
}

func TestWords(t *testing.T) {
	cases := map[time.Duration]string{
		30 * time.Minute:               "30 minutes",
		time.Minute:                    "1 minute",
		90 * time.Second:               "2 minutes",
		time.Hour:                      "1 hour",
		48 * time.Hour:                 "2 days",
		36 * time.Hour:                 "36 hours",
		45 * time.Second:               "45 seconds",
		0:                              "0 minutes",
		time.Hour + 30*time.Minute:     "90 minutes",
		24*time.Hour + time.Nanosecond: "1441 minutes",
	}
	for d, want := range cases {
		if got := words(d); got != want {
			t.Errorf("words(%v) = %q, want %q", d, got, want)
		}
	}
}
