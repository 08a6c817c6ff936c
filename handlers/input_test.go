package handlers_test

import (
	"strings"
	"testing"

	"github.com/ginauth/ginauth/internal/apptest"
)

func TestHostileBodies(t *testing.T) {
	a := apptest.NewEnv(t, apptest.Backends[0])
	a.Client(t).Register("mia", "mia's password")
	big := `{"username":"mia","password":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"empty JSON", "application/json", "", 400, "bad_request"},
		{"not JSON", "application/json", "{not json", 400, "bad_request"},
		{"array", "application/json", `["mia","pw"]`, 400, "bad_request"},
		{"wrong type", "application/json", `{"username":5,"password":"mia's password"}`, 400, "bad_request"},
		{"null", "application/json", `{"username":null,"password":"mia's password"}`, 400, "bad_request"},
		{"bool as string", "application/json", `{"username":"mia","password":"mia's password","remember":"yes"}`, 400, "bad_request"},
		{"duplicate key", "application/json", `{"username":"x","username":"mia","password":"mia's password"}`, 400, "bad_request"},
		{"trailing garbage", "application/json", `{"username":"mia","password":"mia's password"} x`, 400, "bad_request"},
		{"two objects", "application/json", `{"username":"mia","password":"mia's password"}{}`, 400, "bad_request"},
		{"missing password", "application/json", `{"username":"mia"}`, 400, "bad_request"},
		{"oversized", "application/json", big, 413, "payload_too_large"},
		{"oversized form", "application/x-www-form-urlencoded", "username=mia&password=" + strings.Repeat("x", 70<<10), 413, "payload_too_large"},
		{"xml", "application/xml", "<login/>", 415, "unsupported_media_type"},
		{"malformed form", "application/x-www-form-urlencoded", "username=%zz&password=x", 303, ""},
		{"repeated form field", "application/x-www-form-urlencoded", "username=a&username=mia&password=mia%27s+password", 303, ""},
		{"NUL in username", "application/json", `{"username":"mi\u0000a","password":"mia's password"}`, 401, "invalid_credentials"},
		{"very long username", "application/json", `{"username":"` + strings.Repeat("m", 5000) + `","password":"x"}`, 401, "invalid_credentials"},
		{"long password", "application/json", `{"username":"mia","password":"` + strings.Repeat("p", 5000) + `"}`, 401, "invalid_credentials"},
		{"extra fields", "application/json", `{"username":"mia","password":"mia's password","x":[1,{"y":2}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := a.Client(t)
			r := cl.Do("POST", "/login", tt.body, "Content-Type", tt.ct)
			if r.Status != tt.status || (tt.code != "" && r.Code() != tt.code) {
				t.Errorf("%d %.200s; want %d %s", r.Status, r.Body, tt.status, tt.code)
			}
			if r.Status >= 400 && r.JSON["error"] == nil {
				t.Errorf("error body is not the JSON contract: %.200s", r.Body)
			}
		})
	}
}
