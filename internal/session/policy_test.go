package session

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ginauth/ginauth/sessionstore"
)

func TestValueTypes(t *testing.T) {
	type local struct{ A int }
	if _, err := EncodeValue(local{1}); !errors.Is(err, sessionstore.ErrEncode) {
		t.Fatalf("unregistered type: %v", err)
	}
	v, err := EncodeTyped(local{1}) // typed access registers the type
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decode(v); err != nil || got != (local{1}) {
		t.Errorf("Decode = %#v, %v", got, err)
	}
	if _, err := EncodeValue(local{2}); err != nil {
		t.Errorf("after EncodeTyped the type is registered: %v", err)
	}
	// A type another process registered but this one did not decodes as
	// plain JSON rather than failing.
	unknown := sessionstore.Value{JSON: []byte(`{"A":1}`), Type: "example.com/elsewhere.T"}
	if got, err := Decode(unknown); err != nil || !reflect.DeepEqual(got, map[string]any{"A": 1.0}) {
		t.Errorf("unknown type: %#v, %v", got, err)
	}
	var dst local
	if err := DecodeInto(v, &dst); err != nil || dst.A != 1 {
		t.Errorf("DecodeInto = %v, %v", dst, err)
	}
	if err := DecodeInto(sessionstore.Value{JSON: []byte(`"x"`)}, &dst); err == nil {
		t.Error("DecodeInto a mismatched type succeeded")
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"defaults", Policy{}.WithDefaults(), true},
		{"idle longer than absolute", Policy{IdleTimeout: 2 * time.Hour, AbsoluteTimeout: time.Hour}, false},
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

// The defaults stay consistent with what is set.
func TestPolicyWithDefaults(t *testing.T) {
	for _, tt := range []struct {
		in, want Policy
	}{
		{Policy{}, Policy{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 24 * time.Hour, TouchInterval: time.Minute, AnonymousTimeout: time.Hour}},
		{Policy{AbsoluteTimeout: 10 * time.Minute}, Policy{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: 10 * time.Minute, TouchInterval: time.Minute, AnonymousTimeout: 10 * time.Minute}},
		{Policy{IdleTimeout: time.Minute}, Policy{IdleTimeout: time.Minute, AbsoluteTimeout: 24 * time.Hour, TouchInterval: 30 * time.Second, AnonymousTimeout: time.Hour}},
	} {
		if got := tt.in.WithDefaults(); got != tt.want {
			t.Errorf("%+v.WithDefaults() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// Anonymous sessions get the anonymous timeout as their absolute one, in
// the store's record too, so that the store forgets them soon whatever
// the process checks; signed-in sessions get the absolute timeout.
func TestPolicyDeadline(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{AbsoluteTimeout: 24 * time.Hour, AnonymousTimeout: time.Hour}
	if got := p.Deadline(start, ""); !got.Equal(start.Add(time.Hour)) {
		t.Errorf("anonymous deadline %v, want %v", got, start.Add(time.Hour))
	}
	if got := p.Deadline(start, "u1"); !got.Equal(start.Add(24 * time.Hour)) {
		t.Errorf("signed-in deadline %v, want %v", got, start.Add(24*time.Hour))
	}
	p.AnonymousTimeout = 48 * time.Hour // never longer than the absolute timeout
	if got := p.Deadline(start, ""); !got.Equal(start.Add(24 * time.Hour)) {
		t.Errorf("anonymous deadline over the absolute timeout: %v", got)
	}
}
