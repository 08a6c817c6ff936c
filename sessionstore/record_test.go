package sessionstore_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/internal/session"
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
	want := map[string]any{
		"returnTo": "/account",
		"count":    7,
		"seen":     time.Date(2026, 11, 1, 9, 5, 0, 0, time.UTC),
		"cart":     map[string]any{"k": "v"},
		"flags":    []any{true, false},
	}
	for name, w := range want {
		got, err := session.Decode(rec.Values[name])
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if gt, ok := got.(time.Time); ok {
			if !gt.Equal(w.(time.Time)) {
				t.Errorf("%s = %v, want %v", name, gt, w)
			}
			continue
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
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
		Meta:   sessionstore.Meta{UserID: "u", CreatedAt: now, Deadline: now.Add(time.Hour), IPAddress: "::1", UserAgent: "ua", Persistent: true, Credential: "c0ffee"},
		Values: map[string]sessionstore.Value{"a": {JSON: []byte(`1`), Type: "int"}, "b": {JSON: []byte(`"x"`)}},
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
		!out.Deadline.Equal(in.Deadline) || out.Credential != in.Credential || out.Persistent != in.Persistent {
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
	if !sessionstore.ValidHandle(k.Handle()) || len(k.Handle()) != 32 || !strings.HasPrefix(k.String(), k.Handle()) {
		t.Errorf("handle %q", k.Handle())
	}
	for _, bad := range []string{"", k.String(), strings.ToUpper(k.Handle()), k.Handle()[:31] + "%", k.Handle()[:31] + "_"} {
		if sessionstore.ValidHandle(bad) {
			t.Errorf("sessionstore.ValidHandle(%q) = true", bad)
		}
	}
}

// FuzzUnmarshalBody feeds arbitrary bytes, as a damaged store would hold, to
// the record decoder: no panic, and whatever it accepts survives a round
// trip.
func FuzzUnmarshalBody(f *testing.F) {
	if data, err := os.ReadFile("testdata/records/v1.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"values":{"a":1},"types":{"a":"int"}}`))
	f.Add([]byte(`{"v":1,"values":{"a":"x"},"types":{"a":"time.Time"}}`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec sessionstore.Record
		if err := sessionstore.UnmarshalBody(data, &rec); err != nil {
			if !errors.Is(err, sessionstore.ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		for _, v := range rec.Values {
			_, _ = session.Decode(v) // may fail (a tag that does not fit), must not panic
		}
		again, err := sessionstore.MarshalBody(&rec)
		if err != nil {
			t.Fatalf("re-encoding an accepted record: %v", err)
		}
		var rec2 sessionstore.Record
		if err := sessionstore.UnmarshalBody(again, &rec2); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if len(rec2.Values) != len(rec.Values) || rec2.UserID != rec.UserID {
			t.Fatalf("round trip changed the record")
		}
	})
}
