package session

import (
	"testing"
	"time"
)

func TestLifetimeValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Lifetime
		ok   bool
	}{
		{"defaults", Lifetime{}.withDefaults(), true},
		{"idle longer than absolute", Lifetime{Idle: 2 * time.Hour, Absolute: time.Hour}, false},
		{"absolute only", Lifetime{Absolute: time.Hour}, true},
		{"idle only", Lifetime{Idle: time.Hour, TouchInterval: time.Minute}, true},
		{"never ends", Lifetime{}, false},
		{"negative", Lifetime{Idle: -time.Second, Absolute: time.Hour}, false},
		{"touch >= idle", Lifetime{Idle: time.Minute, TouchInterval: time.Minute}, false},
	}
	for _, tt := range tests {
		if err := tt.p.validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
	p := Lifetime{Idle: 30 * time.Minute, Absolute: time.Hour}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := p.deadline(created, "u1")
	if got := p.expiry(created.Add(10*time.Minute), d); !got.Equal(created.Add(40 * time.Minute)) {
		t.Errorf("idle expiry = %v", got)
	}
	if got := p.expiry(created.Add(50*time.Minute), d); !got.Equal(d) {
		t.Errorf("expiry past the deadline = %v, want the deadline", got)
	}
	// Anonymous sessions end sooner, never later.
	p.Anonymous = 20 * time.Minute
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
		p := Lifetime{Idle: 10 * time.Minute, Absolute: tt.abs, Anonymous: tt.anon}
		if got := p.deadline(created, tt.user); !got.Equal(created.Add(tt.want)) {
			t.Errorf("Deadline(%+v, user %q) = %v, want +%v", p, tt.user, got.Sub(created), tt.want)
		}
	}
}

// The defaults stay consistent with what is set.
func TestLifetimeWithDefaults(t *testing.T) {
	for _, tt := range []struct {
		in, want Lifetime
	}{
		{Lifetime{}, Lifetime{Idle: 30 * time.Minute, Absolute: 24 * time.Hour, TouchInterval: time.Minute, Anonymous: time.Hour, Remember: 24 * time.Hour}},
		{Lifetime{Absolute: 10 * time.Minute}, Lifetime{Idle: 10 * time.Minute, Absolute: 10 * time.Minute, TouchInterval: time.Minute, Anonymous: 10 * time.Minute, Remember: 10 * time.Minute}},
		{Lifetime{Idle: time.Minute}, Lifetime{Idle: time.Minute, Absolute: 24 * time.Hour, TouchInterval: 30 * time.Second, Anonymous: time.Hour, Remember: 24 * time.Hour}},
	} {
		if got := tt.in.withDefaults(); got != tt.want {
			t.Errorf("%+v.withDefaults() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// Anonymous sessions get the anonymous timeout as their absolute one, in
// the store's record too, so that the store forgets them soon whatever
// the process checks; signed-in sessions get the absolute timeout.
func TestLifetimeDeadline(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Lifetime{Absolute: 24 * time.Hour, Anonymous: time.Hour}
	if got := p.deadline(start, ""); !got.Equal(start.Add(time.Hour)) {
		t.Errorf("anonymous deadline %v, want %v", got, start.Add(time.Hour))
	}
	if got := p.deadline(start, "u1"); !got.Equal(start.Add(24 * time.Hour)) {
		t.Errorf("signed-in deadline %v, want %v", got, start.Add(24*time.Hour))
	}
	p.Anonymous = 48 * time.Hour // never longer than the absolute timeout
	if got := p.deadline(start, ""); !got.Equal(start.Add(24 * time.Hour)) {
		t.Errorf("anonymous deadline over the absolute timeout: %v", got)
	}
}
