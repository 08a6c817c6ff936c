package oauth_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"
	"github.com/glebarez/sqlite"
	"golang.org/x/oauth2"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/auth/oauth"
	"github.com/ginauth/ginauth/handlers"
	"github.com/ginauth/ginauth/models"
	"github.com/ginauth/ginauth/models/gormusers"
	"github.com/ginauth/ginauth/session"
	"github.com/ginauth/ginauth/sessionstore/memstore"
)

// Two providers: a company's OpenID Provider, trusted for the addresses it
// vouches for, and GitHub, a plain OAuth 2.0 service read from its user
// API. Nothing reaches a provider until the first sign-in.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "oauth-example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	users := gormusers.New[models.User](db)
	if err := users.Migrate(); err != nil {
		fmt.Println(err)
		return
	}
	sessions, _ := session.New(session.Config{Store: memstore.New(memstore.Options{}), Secrets: [][]byte{[]byte("a-secret-of-32-bytes-or-more-....")}})
	a, _ := auth.New(auth.Config[*models.User]{Sessions: sessions, Users: users})

	github := func(body []byte) (oauth.Profile, error) {
		var u struct {
			ID    int64  `json:"id"`
			Login string `json:"login"`
		}
		if err := json.Unmarshal(body, &u); err != nil || u.ID == 0 {
			return oauth.Profile{}, fmt.Errorf("not a GitHub user: %v", err)
		}
		return oauth.Profile{Subject: fmt.Sprint(u.ID), Username: u.Login}, nil
	}
	providers, err := oauth.New(a, oauth.Config{
		BaseURL: "https://example.org",
		Store:   users,
		SignUp:  true,
		Providers: []oauth.Provider{
			{Name: "corp", Label: "Corp SSO", Issuer: "https://sso.corp.example/realms/staff",
				ClientID: "example", ClientSecret: "from-the-environment", TrustEmail: true},
			{Name: "github", Label: "GitHub", ClientID: "example", ClientSecret: "from-the-environment",
				Endpoint:    oauth2.Endpoint{AuthURL: "https://github.com/login/oauth/authorize", TokenURL: "https://github.com/login/oauth/access_token"},
				UserInfoURL: "https://api.github.com/user", Scopes: []string{"read:user"}, Profile: github},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := gin.New()
	handlers.Mount(r.Group("/"), a, handlers.WithProviders(providers))
	for _, p := range providers.List() {
		fmt.Printf("%s: register https://example.org/oauth/%s/callback\n", p.Label, p.Name)
	}
	// Output:
	// Corp SSO: register https://example.org/oauth/corp/callback
	// GitHub: register https://example.org/oauth/github/callback
}
