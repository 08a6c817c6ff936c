package auth

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/sessionstore"
)

// attempt is one throttled attempt at a password (a login, a registration,
// a password change) or at a second-factor code: the keys it counts
// against, and what to say when a lockout refuses it.
type attempt struct {
	keys    []ThrottleKey
	lockout Event // reported when a lockout refuses the attempt
	refused error // the answer then: ErrTooManyAttempts (nil), or ErrTooManySignups
}

// gated runs work, the bcrypt work of an attempt, throttled (see Throttle):
//
//  1. a lockout of any key refuses the attempt at once (429), before it
//     waits for anything;
//  2. it waits for a bcrypt slot, in its client address's turn;
//  3. holding the slot, it reserves the attempt on its keys, atomically with
//     a second look at their lockouts;
//  4. it runs work, which returns the verdict on each key (in the order of
//     at.keys; nil: none judged);
//  5. it settles the reservation with those verdicts, and gives the slot
//     back.
//
// Reservations in flight are so never more than the slots, and an attempt
// that was never judged counts nothing. A client that hangs up while it
// waits for a slot counts one failure against its address.
func (a *Auth[U]) gated(gc *gin.Context, at attempt, work func() ([]Verdict, error)) error {
	return a.judged(gc, at, true, work)
}

// throttled runs work, a check that is cheap next to bcrypt (a
// second-factor code: an HMAC or a hash, and a store query), throttled as
// gated runs bcrypt work, but without a bcrypt slot: the check neither
// waits behind password hashing nor holds up a password, and counts
// against no MaxConcurrentHashes. A lockout of any key refuses it (429);
// otherwise it reserves the attempt on its keys, runs work, and settles
// the reservation with its verdicts, as gated does.
func (a *Auth[U]) throttled(gc *gin.Context, at attempt, work func() ([]Verdict, error)) error {
	return a.judged(gc, at, false, work)
}

// judged is gated (hashing: with a bcrypt slot) and throttled.
func (a *Auth[U]) judged(gc *gin.Context, at attempt, hashing bool, work func() ([]Verdict, error)) error {
	release, err := a.reserve(gc, at, hashing)
	if err != nil {
		return err
	}
	defer release()
	ctx := gc.Request.Context()
	verdicts, err := work()
	if len(at.keys) > 0 {
		s := make([]Settlement, len(at.keys))
		for i, k := range at.keys {
			s[i] = Settlement{ThrottleKey: k, Reserved: true}
			if i < len(verdicts) {
				s[i].Verdict = verdicts[i]
			}
		}
		// Settled even when the client has gone: the verdict stands.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, serr := a.throttle.Store.Settle(sctx, a.now(), s); serr != nil {
			a.log.Warn("ginauth: recording a throttled attempt failed; its reservation lapses in a minute", "err", serr)
		}
	}
	return err
}

// reserve takes a bcrypt slot for the attempt (when hashing) and, holding
// it, reserves the attempt on its keys; it returns the slot's release (a
// no-op without one). Waiting for a turn, and for other attempts on the
// same keys to be judged, takes HashQueueTimeout at most in all.
func (a *Auth[U]) reserve(gc *gin.Context, at attempt, hashing bool) (release func(), err error) {
	ctx := gc.Request.Context()
	wctx, cancel := context.WithTimeout(ctx, a.gate.wait)
	defer cancel()
	pause := 2 * time.Millisecond
	for {
		release := func() {}
		if hashing {
			slot, err := a.take(gc, wctx, at)
			if err != nil {
				return nil, err
			}
			release = slot
		}
		if len(at.keys) == 0 {
			return release, nil
		}
		wait, err := a.throttle.Store.Reserve(ctx, a.now(), at.keys)
		if err == nil && wait == 0 {
			return release, nil
		}
		release()
		switch {
		case errors.Is(err, ErrInFlight):
			// Other attempts on these keys are being judged, and they
			// may be the last the rule allows: wait for their verdict,
			// out of the queue.
			t := time.NewTimer(pause)
			select {
			case <-t.C:
				pause = min(2*pause, 100*time.Millisecond)
				continue
			case <-wctx.Done():
				t.Stop()
				if ctx.Err() != nil {
					return nil, busy(ctx.Err())
				}
				return nil, retry(ErrBusy, time.Second)
			}
		case errors.Is(err, ErrThrottleFull):
			// Once a minute at most: whoever fills the table also sends
			// the attempts it refuses.
			if t := a.now().UnixMilli(); t-a.fullWarned.Load() >= time.Minute.Milliseconds() {
				a.fullWarned.Store(t)
				a.log.Warn("ginauth: the login throttle is full of live keys; refusing attempts on new keys until some expire")
			}
			return nil, retry(busy(err), time.Minute)
		case err != nil:
			return nil, sessionstore.Unavailable(err)
		default:
			return nil, a.refuse(gc, at, wait)
		}
	}
}

// take takes a bcrypt slot for the attempt: at once when one is free and
// nobody waits; otherwise, after a look at its keys' lockouts (a locked
// attempt is refused without waiting), in its address's turn.
func (a *Auth[U]) take(gc *gin.Context, wctx context.Context, at attempt) (release func(), err error) {
	if release, ok := a.gate.tryEnter(); ok {
		return release, nil
	}
	ctx := gc.Request.Context()
	if len(at.keys) > 0 {
		wait, err := a.throttle.Store.Check(ctx, a.now(), at.keys)
		if err != nil {
			return nil, sessionstore.Unavailable(err)
		}
		if wait > 0 {
			return nil, a.refuse(gc, at, wait)
		}
	}
	release, err = a.gate.enter(wctx, a.addressGroup(gc))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		a.abandoned(gc) // the client hung up
	default:
		err = retry(ErrBusy, time.Second)
	}
	return release, err
}

// refuse answers an attempt that a lockout refuses, and reports it.
func (a *Auth[U]) refuse(gc *gin.Context, at attempt, wait time.Duration) error {
	ev := at.lockout
	ev.Type, ev.RetryAfter = EventLockout, wait
	a.emit(gc, ev)
	p := at.refused
	if p == nil {
		p = ErrTooManyAttempts
	}
	return retry(p, wait)
}

// abandoned counts a failure against the address of a client that gave up
// waiting for a bcrypt slot (hung up), so that a flood of attempts that
// never wait for their answer costs its address like failures do.
func (a *Auth[U]) abandoned(gc *gin.Context) {
	if a.throttle.Disabled {
		return
	}
	k, ok := a.addressKey(gc)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(gc.Request.Context()), 5*time.Second)
	defer cancel()
	if _, err := a.throttle.Store.Settle(ctx, a.now(), []Settlement{{ThrottleKey: k, Verdict: Failed}}); err != nil {
		a.log.Warn("ginauth: counting an abandoned attempt failed", "err", err)
	}
}

// addressKey is the per-IP throttle key of the request's client, when its
// address is known.
func (a *Auth[U]) addressKey(gc *gin.Context) (ThrottleKey, bool) {
	ip := a.sessions.ClientIP(gc.Request)
	if ip == "" {
		return ThrottleKey{}, false
	}
	return ThrottleKey{Key: "ip:" + addressBlock(ip), Rule: a.throttle.PerIP}, true
}

// addressGroup is the group whose turn a request waits for at the bcrypt
// gate: its client's address block.
func (a *Auth[U]) addressGroup(gc *gin.Context) string {
	if ip := a.sessions.ClientIP(gc.Request); ip != "" {
		return addressBlock(ip)
	}
	return ""
}

// slot runs fn holding a bcrypt slot, outside any request's turn (an
// operator's call).
func (a *Auth[U]) slot(ctx context.Context, fn func()) error {
	release, err := a.gate.enter(ctx, "\x00operator")
	if err != nil {
		return err
	}
	defer release()
	fn()
	return nil
}
