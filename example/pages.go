package main

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ginauth/ginauth/auth"
	"github.com/ginauth/ginauth/models"
)

type pages struct {
	a *auth.Auth[*models.User]
}

var tmpl = template.Must(template.New("").Parse(`
{{define "top"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ginauth example</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
form.inline{display:inline} label{display:block;margin:.5rem 0}
input[type=text],input[type=password]{padding:.3rem;width:16rem}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
.note{padding:.5rem;background:#fff4d6} .muted{color:#666;font-size:.9em}
</style></head><body><h1><a href="/">ginauth example</a></h1>{{end}}
{{define "bottom"}}</body></html>{{end}}

{{define "home"}}{{template "top"}}
{{if .User}}<p>Signed in as <strong>{{.User.Username}}</strong>.</p>
<p><a href="/account/sessions">Your sessions</a></p>
<form class="inline" method="post" action="/logout"><button>Sign out</button></form>
{{else}}<p><a href="/login">Sign in</a> or <a href="/register">register</a>.</p>{{end}}
<p class="muted">The JSON API is mounted here too: POST /login, GET /me, GET /sessions, …</p>
{{template "bottom"}}{{end}}

{{define "login"}}{{template "top"}}<h2>Sign in</h2>
{{if .Expired}}<p class="note">Your session expired. Sign in again.</p>{{end}}
{{if eq .Error "1"}}<p class="note">Invalid username or password.</p>
{{else if eq .Error "too_many_attempts"}}<p class="note">Too many failed attempts. Wait a little, then try again.</p>
{{else if .Error}}<p class="note">Sign-in failed ({{.Error}}).</p>{{end}}
<form method="post" action="/login">
{{if .ReturnTo}}<input type="hidden" name="returnTo" value="{{.ReturnTo}}">{{end}}
<label>Username <input type="text" name="username" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<label><input type="checkbox" name="remember"> Remember me</label>
<button>Sign in</button></form>
<p>No account? <a href="/register">Register</a>.</p>{{template "bottom"}}{{end}}

{{define "register"}}{{template "top"}}<h2>Register</h2>
{{if .Error}}<p class="note">Registration failed ({{.Error}}).</p>{{end}}
<form method="post" action="/register">
<label>Username <input type="text" name="username" autocomplete="username" required autofocus></label>
<label>Password (8 characters or more) <input type="password" name="password" autocomplete="new-password" minlength="8" required></label>
<button>Register</button></form>{{template "bottom"}}{{end}}

{{define "sessions"}}{{template "top"}}<h2>Your sessions</h2>
<table><tr><th>Signed in</th><th>Last active</th><th>From</th><th></th></tr>
{{range .Sessions}}<tr>
<td>{{.CreatedAt.Format "2006-01-02 15:04"}}</td><td>{{.LastActivity.Format "2006-01-02 15:04"}}</td>
<td>{{.IPAddress}}<br><span class="muted">{{.UserAgent}}</span></td>
<td>{{if .Current}}this one{{else}}<form class="inline" method="post" action="/account/sessions/{{.ID}}/revoke"><button>Revoke</button></form>{{end}}</td>
</tr>{{end}}</table>
<p><form class="inline" method="post" action="/logout-all"><button>Sign out everywhere</button></form></p>
{{template "bottom"}}{{end}}
`))

func render(c *gin.Context, name string, data any) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	if err := tmpl.ExecuteTemplate(c.Writer, name, data); err != nil {
		_ = c.Error(err)
	}
}

func (p *pages) home(c *gin.Context) {
	u, _ := p.a.User(c)
	render(c, "home", gin.H{"User": u})
}

func (p *pages) login(c *gin.Context) {
	if p.a.IsAuthenticated(c) {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	returnTo := c.Query(auth.ReturnToParam)
	if !auth.LocalPath(returnTo) {
		returnTo = ""
	}
	render(c, "login", gin.H{"Error": c.Query("error"), "Expired": c.Query("expired") == "true", "ReturnTo": returnTo})
}

func (p *pages) register(c *gin.Context) {
	render(c, "register", gin.H{"Error": c.Query("error")})
}

func (p *pages) sessions(c *gin.Context) {
	list, err := p.a.Sessions(c)
	if err != nil {
		auth.WriteProblem(c, err)
		return
	}
	render(c, "sessions", gin.H{"Sessions": list})
}

func (p *pages) revoke(c *gin.Context) {
	if err := p.a.RevokeSession(c, c.Param("id")); err != nil && !errors.Is(err, auth.ErrNotFound) {
		auth.WriteProblem(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/account/sessions")
}
