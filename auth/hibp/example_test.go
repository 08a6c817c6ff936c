package hibp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/hibp"
	"github.com/ginauth/ginauth/models"
)

// An application adds the check to its auth configuration; every new
// password is then looked up. Here a local stand-in for the service (a
// mirror would be one too) answers one breached suffix, so that the
// example runs offline.
func Example() {
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// SHA-1("P@ssw0rd!") is 076D3E6C...: only "076D3" is asked, and
		// the answer lists the suffixes of that prefix.
		if strings.HasSuffix(r.URL.Path, "/076D3") {
			fmt.Fprint(w, "E6C4B9F654B5B220B9045B7458AB6B4CBC6:70421\r\n")
		}
	}))
	defer mirror.Close()

	breaches, err := hibp.New(hibp.Options{
		URL:     mirror.URL + "/range/", // default: the public service, hibp.DefaultURL
		Timeout: time.Second,
		// FailClosed: true, // refuse to set any password while the service is down (503)
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = auth.Config[*models.User]{
		// Sessions, Users, ...
		Passwords: auth.Passwords{Checks: []auth.PasswordChecker{breaches}},
	}

	for _, pw := range []string{"P@ssw0rd!", "tender lizard kettle"} {
		err := breaches.CheckPassword(context.Background(), pw)
		fmt.Printf("%s: breached %v\n", pw, errors.Is(err, auth.ErrBreachedPassword))
	}
	// Output:
	// P@ssw0rd!: breached true
	// tender lizard kettle: breached false
}
