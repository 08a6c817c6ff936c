package sessionstore_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// A store keeps a record's body as MarshalBody encodes it: JSON that a
// person can read in redis-cli, psql or mongosh, and that UnmarshalBody of
// any later version reads back.
func ExampleMarshalBody() {
	created := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	rec := &sessionstore.Record{
		Meta: sessionstore.Meta{
			UserID:    "42",
			CreatedAt: created,
			Deadline:  created.Add(24 * time.Hour),
			IPAddress: "198.51.100.4",
			UserAgent: "Mozilla/5.0",
		},
		Values: map[string]sessionstore.Value{"theme": {JSON: json.RawMessage(`"dark"`)}},
	}
	body, err := sessionstore.MarshalBody(rec)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(body))
	var back sessionstore.Record
	if err := sessionstore.UnmarshalBody(body, &back); err != nil {
		panic(err)
	}
	fmt.Println(back.UserID, back.Deadline.Sub(back.CreatedAt), string(back.Values["theme"].JSON))
	// Output:
	// {"v":1,"uid":"42","created":"2026-11-28T09:00:00Z","deadline":"2026-11-29T09:00:00Z","ip":"198.51.100.4","ua":"Mozilla/5.0","values":{"theme":"dark"}}
	// 42 24h0m0s "dark"
}
