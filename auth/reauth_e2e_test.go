package auth_test

// Re-authentication ("sudo mode"): the window, the step up, the throttle.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/internal/apptest"
)

func TestReauth(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		a := apptest.NewEnv(t, b)
		cl := a.Client(t)
		cl.Register("hal", "hal's good password")

		// Just signed in: recent enough, to the last second of the window.
		cl.Want(cl.Do("POST", "/sudo", nil), http.StatusNoContent, "")
		a.Clock.Advance(auth.DefaultReauthWindow)
		cl.Want(cl.Do("POST", "/sudo", nil), http.StatusNoContent, "")
		a.Clock.Advance(time.Second)
		cl.Want(cl.Do("POST", "/sudo", nil), http.StatusForbidden, "reauth_required")
		cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "") // still signed in

		before := cl.SessionCookie()
		cl.Want(cl.Do("POST", "/reauth", map[string]any{"password": "not hal's password"}), http.StatusUnauthorized, "invalid_credentials")
		cl.Want(cl.Do("POST", "/sudo", nil), http.StatusForbidden, "reauth_required")
		cl.Want(cl.Do("POST", "/reauth", map[string]any{"password": "hal's good password"}), http.StatusOK, "")
		after := cl.SessionCookie()
		if after == nil || after.Value == before.Value {
			t.Fatal("re-authentication kept the session ID")
		}
		// The ID seen before the step up is worthless after it.
		a.WithCookie(t, before).Want(a.WithCookie(t, before).Do("GET", "/me", nil), http.StatusUnauthorized, "")
		cl.Want(cl.Do("POST", "/sudo", nil), http.StatusNoContent, "")

		// The session says how it was authenticated, in the list too.
		list := cl.Do("GET", "/sessions", nil).JSON["sessions"].([]any)
		factors := list[0].(map[string]any)["factors"].([]any)
		if len(factors) != 1 || factors[0].(map[string]any)["factor"] != "password" {
			t.Errorf("factors in the list = %v", factors)
		}
		info := cl.Do("GET", "/session-info", nil).JSON
		if f := info["factors"].([]any); len(f) != 1 {
			t.Errorf("factors in session-info = %v", f)
		}

		// Signed out: 401, not 403.
		anon := a.Client(t)
		anon.Want(anon.Do("POST", "/sudo", nil), http.StatusUnauthorized, "unauthenticated")
		anon.Want(anon.Do("POST", "/reauth", map[string]any{"password": "x"}), http.StatusUnauthorized, "unauthenticated")
	})
}

// Browsers go to the re-authentication page, and come back to the page of
// the form they posted; the page's form, posted back, returns them there.
func TestReauthBrowser(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	cl := a.Client(t)
	cl.Register("ida", "ida's good password")
	a.Clock.Advance(20 * time.Minute) // within the idle timeout, past the window
	r := cl.Do("POST", "/sudo", nil, "Accept", "text/html", "Referer", a.Server.URL+"/account?tab=email")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/reauth?returnTo=%2Faccount%3Ftab%3Demail" {
		t.Fatalf("POST /sudo from a browser = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	// A Referer from elsewhere is not a place to come back to.
	r = cl.Do("POST", "/sudo", nil, "Accept", "text/html", "Referer", "https://evil.example/account")
	if r.Header.Get("Location") != "/reauth" {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	r = cl.Do("POST", "/reauth", url.Values{"password": {"wrong one"}, "returnTo": {"/account?tab=email"}})
	if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/reauth?") || !strings.Contains(loc, "error=1") {
		t.Errorf("a wrong password from the form = %d, Location %q", r.Status, loc)
	}
	r = cl.Do("POST", "/reauth", url.Values{"password": {"ida's good password"}, "returnTo": {"/account?tab=email"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account?tab=email" {
		t.Errorf("the form = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	cl.Want(cl.Do("POST", "/sudo", nil), http.StatusNoContent, "")
}

// Guessing the password through a stolen session is throttled like a
// password change, and a lockout leaves the session signed in.
func TestReauthThrottle(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	cl := a.Client(t)
	cl.Register("jo", "jo's good password")
	for range 5 {
		cl.Want(cl.Do("POST", "/reauth", map[string]any{"password": "a guess"}), http.StatusUnauthorized, "invalid_credentials")
	}
	r := cl.Do("POST", "/reauth", map[string]any{"password": "jo's good password"})
	cl.Want(r, http.StatusTooManyRequests, "too_many_attempts")
	cl.Want(cl.Do("GET", "/me", nil), http.StatusOK, "")
	// The owner's sign-in elsewhere is not locked by it.
	a.Client(t).Login("jo", "jo's good password")
}

// TestRevokeNeedsRecentAuth: ending another session of one's own asks for
// a recent authentication (ASVS 7.5.2), so that a stolen session cannot
// sign the owner out of theirs; the owner, who just signed in, can.
func TestRevokeNeedsRecentAuth(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	owner := a.Client(t)
	owner.Register("ivy", "ivy's good password")
	thief := a.Client(t)
	thief.Login("ivy", "ivy's good password")
	a.Clock.Advance(auth.DefaultReauthWindow + time.Minute)

	var ownerID string
	for _, s := range thief.Do("GET", "/sessions", nil).JSON["sessions"].([]any) {
		if s := s.(map[string]any); s["current"] != true {
			ownerID = s["id"].(string)
		}
	}
	thief.Want(thief.Do("DELETE", "/sessions/"+ownerID, nil), http.StatusForbidden, "reauth_required")
	owner.Want(owner.Do("GET", "/me", nil), http.StatusOK, "")

	// The owner proves the password again, and ends the thief's session.
	owner.Want(owner.Do("POST", "/reauth", map[string]any{"password": "ivy's good password"}), http.StatusOK, "")
	var thiefID string
	for _, s := range owner.Do("GET", "/sessions", nil).JSON["sessions"].([]any) {
		if s := s.(map[string]any); s["current"] != true {
			thiefID = s["id"].(string)
		}
	}
	owner.Want(owner.Do("DELETE", "/sessions/"+thiefID, nil), http.StatusNoContent, "")
	thief.Want(thief.Do("GET", "/me", nil), http.StatusUnauthorized, "")
}
