package sessionstore_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

// Records written by an earlier version of the package must stay readable:
// testdata/records holds one body per version, as that version wrote it.
func TestUnmarshalBodyReadsVersion1(t *testing.T) {
	data, err := os.ReadFile("testdata/records/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec sessionstore.Record
	if err := sessionstore.UnmarshalBody(data, &rec); err != nil {
		t.Fatalf("sessionstore.UnmarshalBody(v1): %v", err)
	}
	created := time.Date(2026, 11, 1, 9, 0, 0, 123e6, time.UTC)
	if rec.UserID != "42" || !rec.CreatedAt.Equal(created) || !rec.Deadline.Equal(created.Add(24*time.Hour)) ||
		rec.IPAddress != "198.51.100.4" || rec.UserAgent != "Mozilla/5.0" || !rec.Persistent {
		t.Errorf("metadata = %+v", rec)
	}
	want := map[string]string{
		"returnTo": `"/account"`,
		"count":    `7`,
		"seen":     `"2026-11-01T09:05:00Z"`,
		"cart":     `{"k":"v"}`,
		"flags":    `[true,false]`,
	}
	for name, w := range want {
		if got := string(rec.Values[name].JSON); got != w {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
	}
}

func TestUnmarshalBodyRefusesWhatItCannotRead(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          ``,
		"not json":       `garbage`,
		"no version":     `{"uid":"1"}`,
		"future version": `{"v":2,"uid":"1"}`,
		"wrong types":    `{"v":1,"uid":5}`,
		"array":          `[1,2]`,
		"trailing":       `{"v":1} x`,
	} {
		var rec sessionstore.Record
		if err := sessionstore.UnmarshalBody([]byte(body), &rec); !errors.Is(err, sessionstore.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestMarshalBodyRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	in := &sessionstore.Record{
		Meta:   sessionstore.Meta{UserID: "u", CreatedAt: now, Deadline: now.Add(time.Hour), IPAddress: "::1", UserAgent: "ua", Persistent: true, Credential: "c0ffee", Auth: "password:1"},
		Values: map[string]sessionstore.Value{"a": {JSON: []byte(`1`)}, "b": {JSON: []byte(`"x"`)}},
	}
	data, err := sessionstore.MarshalBody(in)
	if err != nil {
		t.Fatal(err)
	}
	var out sessionstore.Record
	if err := sessionstore.UnmarshalBody(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.Values, out.Values) || out.UserID != in.UserID || !out.CreatedAt.Equal(in.CreatedAt) ||
		!out.Deadline.Equal(in.Deadline) || out.Credential != in.Credential || out.Auth != in.Auth || out.Persistent != in.Persistent {
		t.Errorf("round trip: %+v -> %+v", in, out)
	}
}

func TestParseKeyAndHandle(t *testing.T) {
	k := sessionstore.Key(sha256.Sum256([]byte("a session ID")))
	got, err := sessionstore.ParseKey(k.String())
	if err != nil || got != k {
		t.Fatalf("ParseKey = %v, %v", got, err)
	}
	for _, bad := range []string{"", "zz", k.String()[:63], k.String() + "0", strings.ToUpper(k.String())[:63] + "g"} {
		if _, err := sessionstore.ParseKey(bad); err == nil {
			t.Errorf("sessionstore.ParseKey(%q) succeeded", bad)
		}
	}
	if !sessionstore.ValidID(k.ID()) || len(k.ID()) != 32 || !strings.HasPrefix(k.String(), k.ID()) {
		t.Errorf("handle %q", k.ID())
	}
	for _, bad := range []string{"", k.String(), strings.ToUpper(k.ID()), k.ID()[:31] + "%", k.ID()[:31] + "_"} {
		if sessionstore.ValidID(bad) {
			t.Errorf("sessionstore.ValidID(%q) = true", bad)
		}
	}
}

// sameRecord reports whether two records read from one body are the same:
// the same metadata (times equal, in the same zone) and values.
func sameRecord(a, b *sessionstore.Record) bool {
	at, bt := a.Meta, b.Meta
	if !at.CreatedAt.Equal(bt.CreatedAt) || !at.Deadline.Equal(bt.Deadline) ||
		at.CreatedAt.Location().String() != bt.CreatedAt.Location().String() ||
		at.Deadline.Location().String() != bt.Deadline.Location().String() {
		return false
	}
	at.CreatedAt, bt.CreatedAt, at.Deadline, bt.Deadline = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return at == bt && reflect.DeepEqual(a.Values, b.Values)
}

// canonical returns a copy of r whose values' JSON is in the form
// encoding/json writes (compact, HTML-escaped).
func canonical(t *testing.T, r *sessionstore.Record) *sessionstore.Record {
	c := r.Clone()
	for name, v := range c.Values {
		b, err := json.Marshal(v.JSON)
		if err != nil {
			t.Fatalf("value %q of an accepted record: %v", name, err)
		}
		v.JSON = b
		c.Values[name] = v
	}
	return c
}

// FuzzUnmarshalBody feeds arbitrary bytes, as a damaged store would hold, to
// the record decoder: no panic; whatever it accepts survives a round trip;
// and the fast scanner, when it accepts a body, reads exactly what
// encoding/json reads.
func FuzzUnmarshalBody(f *testing.F) {
	if data, err := os.ReadFile("testdata/records/v1.json"); err == nil {
		f.Add(data)
	}
	now := time.Date(2026, 11, 28, 9, 30, 0, 123456789, time.UTC)
	for _, rec := range []*sessionstore.Record{
		{Meta: sessionstore.Meta{CreatedAt: now}},
		{Meta: sessionstore.Meta{UserID: "42", CreatedAt: now, Deadline: now.Add(time.Hour), IPAddress: "2001:db8::1", UserAgent: "Mozilla/5.0 (\"quoted\")", Persistent: true, Credential: "c0ffee", Auth: "password:1700000000000,passkey:1700000000001"},
			Values: map[string]sessionstore.Value{"a": {JSON: []byte(`{"x":[1,2,{"y":"z\"w"}]}`)}, "b": {JSON: []byte(`-1.5e3`)}, "c": {JSON: []byte(`"é<>&"`)}}},
	} {
		b, _ := sessionstore.MarshalBody(rec)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"values":{"a":1},"types":{"a":"int"}}`))
	f.Add([]byte(`{"v":1,"values":{"a":"x"},"types":{"a":"time.Time"}}`))
	f.Add([]byte(`{"v":1,"created":"2026-11-28T09:00:00+01:00","uid":"x"}`))
	f.Add([]byte(`{"v":1,"created":"2026-11-28T09:00:00.50Z"}`))
	f.Add([]byte(`{"v":1,"created":"2026-02-30T09:00:00.5Z"}`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow sessionstore.Record
		if sessionstore.FastUnmarshalBody(string(data), &fast) {
			if err := sessionstore.SlowUnmarshalBody(data, &slow); err != nil {
				t.Fatalf("the fast scanner accepted what encoding/json refuses (%v): %q", err, data)
			}
			if !sameRecord(&fast, &slow) {
				t.Fatalf("the two readings differ for %q:\nfast %+v\nslow %+v", data, fast, slow)
			}
		}
		var rec sessionstore.Record
		if err := sessionstore.UnmarshalBody(data, &rec); err != nil {
			if !errors.Is(err, sessionstore.ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		for name, v := range rec.Values {
			if !json.Valid(v.JSON) {
				t.Fatalf("accepted value %q is not JSON: %s", name, v.JSON)
			}
		}
		again, err := sessionstore.MarshalBody(&rec)
		if err != nil {
			t.Fatalf("re-encoding an accepted record: %v", err)
		}
		var rec2 sessionstore.Record
		if err := sessionstore.UnmarshalBody(string(again), &rec2); err != nil {
			t.Fatalf("a re-encoded record does not decode: %v", err)
		}
		// A value keeps its meaning, not its bytes: encoding/json compacts
		// and HTML-escapes a value's JSON as it writes the body.
		if !sameRecord(canonical(t, &rec), canonical(t, &rec2)) && rec.CreatedAt.Location() == time.UTC {
			t.Fatalf("round trip changed the record: %+v -> %+v", rec, rec2)
		}
	})
}

// Reading a body as MarshalBody writes it, from a string, allocates only
// for the values it holds.
func TestUnmarshalBodyAllocations(t *testing.T) {
	now := time.Now().UTC()
	body, _ := sessionstore.MarshalBody(&sessionstore.Record{Meta: sessionstore.Meta{
		UserID: "42", CreatedAt: now, Deadline: now.Add(time.Hour), IPAddress: "198.51.100.4",
		UserAgent: "Mozilla/5.0", Credential: "0123456789abcdef0123456789abcdef",
	}})
	s := string(body)
	var rec sessionstore.Record
	if got := testing.AllocsPerRun(100, func() { _ = sessionstore.UnmarshalBody(s, &rec) }); got != 0 {
		t.Errorf("UnmarshalBody of a body without values allocates %v times, want 0", got)
	}
	if rec.UserID != "42" || !rec.Deadline.Equal(now.Add(time.Hour)) {
		t.Errorf("read %+v", rec)
	}
}

// signedInRecord is a signed-in session as the session manager writes it,
// with n of the values an application keeps in one: a return path, a CSRF
// token, then preferences, a cart, a flash message, counters.
func signedInRecord(n int) *sessionstore.Record {
	created := time.Date(2026, 11, 28, 9, 30, 12, 345678901, time.UTC)
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
		UserID: "1842", CreatedAt: created, Deadline: created.Add(30 * 24 * time.Hour),
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

// BenchmarkUnmarshalBody reads the body of a signed-in session with 0, 2
// and 10 values, as a store hands it over (a string), with the scanner
// (UnmarshalBody) and with encoding/json alone (what UnmarshalBody would be
// without the scanner: the string copied to bytes, then json.Unmarshal).
// The record is the caller's, as a store's is, and not counted.
func BenchmarkUnmarshalBody(b *testing.B) {
	for _, n := range []int{0, 2, 10} {
		data, err := sessionstore.MarshalBody(signedInRecord(n))
		if err != nil {
			b.Fatal(err)
		}
		s := string(data)
		b.Run(fmt.Sprintf("values=%d/scanner", n), func(b *testing.B) {
			var rec sessionstore.Record
			b.ReportAllocs()
			for b.Loop() {
				rec = sessionstore.Record{}
				if !sessionstore.FastUnmarshalBody(s, &rec) || len(rec.Values) != n {
					b.Fatal("not read")
				}
			}
		})
		b.Run(fmt.Sprintf("values=%d/json", n), func(b *testing.B) {
			var rec sessionstore.Record
			b.ReportAllocs()
			for b.Loop() {
				rec = sessionstore.Record{}
				if err := sessionstore.SlowUnmarshalBody([]byte(s), &rec); err != nil || len(rec.Values) != n {
					b.Fatal(err)
				}
			}
		})
	}
}
