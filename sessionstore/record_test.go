package sessionstore

import (
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

// Records written by an earlier version of the package must stay readable:
// testdata/records holds one body per version, as that version wrote it.
func TestUnmarshalBodyReadsVersion1(t *testing.T) {
	data, err := os.ReadFile("testdata/records/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := UnmarshalBody(data, &rec); err != nil {
		t.Fatalf("UnmarshalBody(v1): %v", err)
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
		got, err := rec.Values[name].Decode()
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
		var rec Record
		if err := UnmarshalBody([]byte(body), &rec); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestMarshalBodyRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	in := &Record{UserID: "u", CreatedAt: now, Deadline: now.Add(time.Hour), IPAddress: "::1", UserAgent: "ua", Persistent: true,
		Values: map[string]Value{"a": {JSON: []byte(`1`), Type: "int"}, "b": {JSON: []byte(`"x"`)}}}
	data, err := MarshalBody(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Record
	if err := UnmarshalBody(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in.Values, out.Values) || out.UserID != in.UserID || !out.CreatedAt.Equal(in.CreatedAt) || !out.Deadline.Equal(in.Deadline) {
		t.Errorf("round trip: %+v -> %+v", in, out)
	}
}

func TestValueTypes(t *testing.T) {
	type local struct{ A int }
	if _, err := EncodeValue(local{1}); !errors.Is(err, ErrEncode) {
		t.Fatalf("unregistered type: %v", err)
	}
	v, err := EncodeTyped(local{1}) // typed access registers the type
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Decode(); err != nil || got != (local{1}) {
		t.Errorf("Decode = %#v, %v", got, err)
	}
	if _, err := EncodeValue(local{2}); err != nil {
		t.Errorf("after EncodeTyped the type is registered: %v", err)
	}
	// A type another process registered but this one did not decodes as
	// plain JSON rather than failing.
	unknown := Value{JSON: []byte(`{"A":1}`), Type: "example.com/elsewhere.T"}
	if got, err := unknown.Decode(); err != nil || !reflect.DeepEqual(got, map[string]any{"A": 1.0}) {
		t.Errorf("unknown type: %#v, %v", got, err)
	}
	var dst local
	if err := v.DecodeInto(&dst); err != nil || dst.A != 1 {
		t.Errorf("DecodeInto = %v, %v", dst, err)
	}
	if err := (Value{JSON: []byte(`"x"`)}).DecodeInto(&dst); err == nil {
		t.Error("DecodeInto a mismatched type succeeded")
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"default", DefaultPolicy, true},
		{"absolute only", Policy{AbsoluteTimeout: time.Hour}, true},
		{"idle only", Policy{IdleTimeout: time.Hour, TouchInterval: time.Minute}, true},
		{"never ends", Policy{}, false},
		{"negative", Policy{IdleTimeout: -time.Second, AbsoluteTimeout: time.Hour}, false},
		{"touch >= idle", Policy{IdleTimeout: time.Minute, TouchInterval: time.Minute}, false},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
	p := Policy{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := p.Deadline(created, "u1")
	if got := p.Expiry(created.Add(10*time.Minute), d); !got.Equal(created.Add(40 * time.Minute)) {
		t.Errorf("idle expiry = %v", got)
	}
	if got := p.Expiry(created.Add(50*time.Minute), d); !got.Equal(d) {
		t.Errorf("expiry past the deadline = %v, want the deadline", got)
	}
	// Anonymous sessions end sooner, never later.
	p.AnonymousTimeout = 20 * time.Minute
	for _, tt := range []struct {
		anon, abs time.Duration
		user      string
		want      time.Duration
	}{
		{20 * time.Minute, time.Hour, "", 20 * time.Minute},
		{20 * time.Minute, time.Hour, "u1", time.Hour},
		{2 * time.Hour, time.Hour, "", time.Hour},
		{0, time.Hour, "", time.Hour},
		{20 * time.Minute, 0, "", 20 * time.Minute},
	} {
		p := Policy{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: tt.abs, AnonymousTimeout: tt.anon}
		if got := p.Deadline(created, tt.user); !got.Equal(created.Add(tt.want)) {
			t.Errorf("Deadline(%+v, user %q) = %v, want +%v", p, tt.user, got.Sub(created), tt.want)
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
		var rec Record
		if err := UnmarshalBody(data, &rec); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		for _, v := range rec.Values {
			_, _ = v.Decode() // may fail (a tag that does not fit), must not panic
		}
		again, err := MarshalBody(&rec)
		if err != nil {
			t.Fatalf("re-encoding an accepted record: %v", err)
		}
		var rec2 Record
		if err := UnmarshalBody(again, &rec2); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if len(rec2.Values) != len(rec.Values) || rec2.UserID != rec.UserID {
			t.Fatalf("round trip changed the record")
		}
	})
}
