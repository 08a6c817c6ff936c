package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/testenv"
	"github.com/ginauth/ginauth/sessionstore"
)

// layoutRecord is a signed-in session as the session manager writes it,
// with n application values.
func layoutRecord(n int) *sessionstore.Record {
	now := time.Now().UTC()
	values := []struct{ name, json string }{
		{"returnTo", `"/account/orders?page=2"`},
		{"csrf", `"q3YbT9xWc2LmZpR8sV1nYk6HdF0gAeU4Jx7oPiNwBcs"`},
		{"locale", `"en-GB"`},
		{"theme", `"dark"`},
		{"cart", `{"items":[{"sku":"A-1042","qty":2,"price":1999},{"sku":"B-77","qty":1,"price":4500}],"currency":"EUR"}`},
		{"flash", `{"kind":"success","text":"Your address was saved."}`},
		{"visits", `17`},
		{"lastSearch", `"running shoes size 43"`},
		{"recentlyViewed", `[10423,9981,10077,4410,312]`},
		{"onboarded", `true`},
	}
	rec := &sessionstore.Record{Meta: sessionstore.Meta{
		UserID: "1842", CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(time.Hour),
		Deadline:   now.Add(30 * 24 * time.Hour),
		IPAddress:  "203.0.113.42",
		UserAgent:  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		Persistent: true, Credential: "9f86d081884c7d659a2feaa0c55ad015",
	}}
	if n > 0 {
		rec.Values = make(map[string]sessionstore.Value, n)
		for _, v := range values[:n] {
			rec.Values[v.name] = sessionstore.Value{JSON: json.RawMessage(v.json)}
		}
	}
	return rec
}

// jsonValue is the standard alternative to the packed layout: the session
// as one JSON document, the record's body nested in it as it is.
type jsonValue struct {
	Rev  int64           `json:"rev"`
	Seen int64           `json:"seen"`
	Exp  int64           `json:"exp"`
	UID  string          `json:"uid"`
	Body json.RawMessage `json:"body"`
}

func encodeJSONValue(rec *sessionstore.Record, body []byte) string {
	b, _ := json.Marshal(jsonValue{Rev: 1, Seen: rec.LastActivity.UnixMilli(), Exp: rec.ExpiresAt.UnixMilli(), UID: rec.UserID, Body: body})
	return string(b)
}

// recordFromJSON is record for jsonValue.
func recordFromJSON(s string) (*sessionstore.Record, error) {
	var v jsonValue
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, sessionstore.Corrupt(err)
	}
	rec := &sessionstore.Record{}
	if err := sessionstore.UnmarshalBody([]byte(v.Body), rec); err != nil {
		return nil, err
	}
	rec.Rev = v.Rev
	rec.LastActivity = time.UnixMilli(v.Seen).UTC()
	rec.ExpiresAt = time.UnixMilli(v.Exp).UTC()
	return rec, nil
}

// hashFields are the fields of the other standard alternative, a hash.
var hashFields = []string{"rev", "seen", "exp", "uid", "body"}

// recordFromHash is record for a hash, as HMGET of hashFields answers.
func recordFromHash(vals []any) (*sessionstore.Record, error) {
	var n [3]int64
	for i := range n {
		s, _ := vals[i].(string)
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, sessionstore.Corrupt(err)
		}
		n[i] = v
	}
	body, ok := vals[4].(string)
	if !ok {
		return nil, sessionstore.Corrupt(errors.New("no body"))
	}
	rec := &sessionstore.Record{}
	if err := sessionstore.UnmarshalBody(body, rec); err != nil {
		return nil, err
	}
	rec.Rev = n[0]
	rec.LastActivity = time.UnixMilli(n[1]).UTC()
	rec.ExpiresAt = time.UnixMilli(n[2]).UTC()
	return rec, nil
}

// BenchmarkLayout measures the load of a signed-in session (2 and 10
// values) in the store's packed layout, 2|rev|seen|exp|n:uid|body, against
// the standard alternatives: one JSON document ({"rev","seen","exp","uid",
// "body"}, the body nested as it is, read with json.Unmarshal) with GET,
// and a hash of the same five fields with HMGET. The record's body is read
// by sessionstore.UnmarshalBody in all three. (Only Load is measured: the
// store's Lua scripts would read a JSON document with cjson, whose
// re-encoding rounds the body's numbers to 14 digits, and a hash with
// HGET, with no parser.)
//
// redis/* go to the Redis at REDIS_URL (packed is Store.Load itself); their
// ns/op is mostly the round trip, cpu-µs/op the client's own work (the
// garbage collector's included). decode/* read the stored string without
// Redis: the layout's codec and the body's (the hash has no codec of its
// own: go-redis hands over its fields, allocated). Only Load and record
// are the store's own: the rest is built here, so that the benchmark
// outlives changes to the layout's code.
func BenchmarkLayout(b *testing.B) {
	c, prefix := testenv.RedisClient(b)
	ctx := context.Background()
	s := New(c, Options{Prefix: prefix})
	for _, n := range []int{2, 10} {
		rec := layoutRecord(n)
		key := sessionstore.Key(sha256.Sum256(fmt.Appendf(nil, "layout %d %d", n, time.Now().UnixNano())))
		if err := s.Create(ctx, key, rec); err != nil {
			b.Fatal(err)
		}
		body, err := sessionstore.MarshalBody(rec)
		if err != nil {
			b.Fatal(err)
		}
		packed, err := c.Get(ctx, prefix+key.String()).Result() // as Create wrote it
		if err != nil {
			b.Fatal(err)
		}
		doc := encodeJSONValue(rec, body)
		jsonKey := prefix + "json:" + key.String()
		hashKey := prefix + "hash:" + key.String()
		if err := c.Set(ctx, jsonKey, doc, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
		if err := c.HSet(ctx, hashKey, "rev", 1, "seen", rec.LastActivity.UnixMilli(), "exp", rec.ExpiresAt.UnixMilli(), "uid", rec.UserID, "body", body).Err(); err != nil {
			b.Fatal(err)
		}
		c.Expire(ctx, hashKey, time.Hour)

		run := func(name string, load func() (*sessionstore.Record, error)) {
			// Warmed up first: without it, whichever ran first measured
			// some 10 µs of CPU more per load.
			for range 2000 {
				_, _ = load()
			}
			b.Run(fmt.Sprintf("values=%d/%s", n, name), func(b *testing.B) {
				b.ReportAllocs()
				cpu := testenv.StartCPU()
				for b.Loop() {
					r, err := load()
					if err != nil || len(r.Values) != n || r.UserID != rec.UserID || !r.Live(time.Now()) {
						b.Fatal(r, err)
					}
				}
				cpu.Report(b)
			})
		}
		run("redis/packed", func() (*sessionstore.Record, error) { return s.Load(ctx, key) })
		run("redis/json", func() (*sessionstore.Record, error) {
			v, err := c.Get(ctx, jsonKey).Result()
			if err != nil {
				return nil, err
			}
			return recordFromJSON(v)
		})
		run("redis/hash", func() (*sessionstore.Record, error) {
			vals, err := c.HMGet(ctx, hashKey, hashFields...).Result()
			if err != nil {
				return nil, err
			}
			return recordFromHash(vals)
		})
		run("decode/packed", func() (*sessionstore.Record, error) { return record(packed) })
		run("decode/json", func() (*sessionstore.Record, error) { return recordFromJSON(doc) })
	}
}
