package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/middleware"
)

// FuzzLoginBody feeds arbitrary bodies, under each content type, to the
// parser of the login route: it must never panic, and must answer either
// fields or a 4xx problem; a JSON body, the same answer as the token
// reader decodeJSON replaced.
func FuzzLoginBody(f *testing.F) {
	f.Add(uint8(0), []byte(`{"username":"alice","password":"secret","remember":true}`))
	f.Add(uint8(0), []byte(`{"username":"a","username":"b"}`))
	f.Add(uint8(0), []byte(`{"username":"\u0000","password":5} trailing`))
	f.Add(uint8(1), []byte("username=alice&password=secret&remember=on"))
	f.Add(uint8(1), []byte("username=%zz&username=b"))
	f.Add(uint8(2), []byte("<xml/>"))
	f.Add(uint8(0), []byte(`{"USERNAME":"a","username":"b","password":"c","remember":null}`))
	f.Add(uint8(0), []byte(`{"username":"a","password":"b","x":{"y":[1,"\":",{"z":2}]},"\u0078":3}`))
	f.Add(uint8(3), []byte(` {"username":"a\u00e9","password":"b","remember":false} `))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		ct := []string{"application/json", "application/x-www-form-urlencoded", "text/plain", "application/ld+json; charset=utf-8"}[int(kind)%4]
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(string(body)))
		c.Request.Header.Set("Content-Type", ct)
		c.Request.Body = http.MaxBytesReader(w, c.Request.Body, DefaultBodyLimit)
		var username, password string
		var remember bool
		_, err := readBody(c,
			field{name: "username", str: &username, required: true},
			field{name: "password", str: &password, required: true},
			field{name: "remember", flag: &remember})
		if kind%4 == 0 || kind%4 == 3 { // JSON: as the token reader reads it
			var u, p string
			var r bool
			oerr := decodeJSONTokens(body, []field{
				{name: "username", str: &u, required: true},
				{name: "password", str: &p, required: true},
				{name: "remember", flag: &r}})
			if len(body) <= DefaultBodyLimit && ((err == nil) != (oerr == nil) || err == nil && (u != username || p != password || r != remember)) {
				t.Fatalf("decodeJSON: %v %q %q %v; the token reader: %v %q %q %v; body %q", err, username, password, remember, oerr, u, p, r, body)
			}
		}
		if err != nil {
			if p, _ := middleware.Problem(err); p.Status < 400 || p.Status > 499 {
				t.Fatalf("error %v is not a client problem", err)
			}
			return
		}
		if username == "" || password == "" {
			t.Fatalf("accepted a body without credentials: %q", body)
		}
	})
}
