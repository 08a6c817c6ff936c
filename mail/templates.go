package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*
var defaultFiles embed.FS

// TemplateData is what a template of [Templates] can show. Each kind uses
// some of the fields:
//
//	password_reset, email_verify, email_change  AppName, Username, Link, ExpiresIn
//	email_changed (to the old address)          AppName, Username, NewEmail, Time
//	email_taken                                 AppName
//	notice_new_sign_in                          AppName, Username, Time, IPAddress, Device, Link (ends that session)
//	notice_password_changed                     AppName, Username, Time, IPAddress
//	notice_locked                               AppName, Username, Time, Until
//
// Besides the fields, templates can call two functions: when, which
// writes a time in UTC ("Mon, 02 Jan 2006 15:04:05 UTC"), and duration,
// which writes a duration in words ("30 minutes").
type TemplateData struct {
	AppName   string        // the application's name, as users know it
	Username  string        // the account's name
	Link      string        // an absolute https URL of the application's page, with its token
	ExpiresIn time.Duration // how long Link works
	NewEmail  string        // the account's new address; mask it with MaskAddress for the old one
	Time      time.Time     // when the event happened
	Until     time.Time     // when a lock ends
	IPAddress string        // the client's address
	Device    string        // a summary of the client ("Firefox on Linux")
	Change    string        // what changed in how the account signs in, as a sentence without its time
}

// Templates hold, per kind of mail, a subject (a text/template), a text
// body (text/template) and an HTML body (html/template, which escapes
// what the data brings). Make them with [DefaultTemplates] and replace
// kinds with [Templates.Set]. Safe for concurrent use.
type Templates struct {
	mu    sync.RWMutex
	kinds map[string]*template
}

type template struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template // nil: text only
}

// ErrUnknownKind is returned by Render for a kind that has no template.
var ErrUnknownKind = errors.New("mail: no template for this kind")

var funcs = map[string]any{
	"when":     when,
	"duration": words,
}

// DefaultTemplates returns the library's templates, in English, for every
// kind of [Kinds].
func DefaultTemplates() *Templates {
	t := &Templates{kinds: make(map[string]*template)}
	for _, kind := range Kinds() {
		read := func(ext string) string {
			b, err := defaultFiles.ReadFile("templates/" + kind + "." + ext)
			if err != nil {
				panic("mail: " + err.Error())
			}
			return string(b)
		}
		if err := t.Set(kind, read("subject"), read("txt"), read("html")); err != nil {
			panic(err) // the embedded templates are tested
		}
	}
	return t
}

// Set replaces the templates of kind (or adds a kind of the
// application's own) with subject and text, parsed as text/template, and
// html, parsed as html/template; html may be "" for mails in text only.
// It returns the parse error, if any, and then changes nothing.
func (t *Templates) Set(kind, subject, text, html string) error {
	if kind == "" || subject == "" || text == "" {
		return fmt.Errorf("mail: templates of %q: a kind, a subject and a text are required", kind)
	}
	var tm template
	var err error
	if tm.subject, err = texttemplate.New(kind + ".subject").Funcs(funcs).Parse(subject); err != nil {
		return fmt.Errorf("mail: subject of %q: %w", kind, err)
	}
	if tm.text, err = texttemplate.New(kind + ".txt").Funcs(funcs).Parse(text); err != nil {
		return fmt.Errorf("mail: text of %q: %w", kind, err)
	}
	if html != "" {
		if tm.html, err = htmltemplate.New(kind + ".html").Funcs(funcs).Parse(html); err != nil {
			return fmt.Errorf("mail: HTML of %q: %w", kind, err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kinds == nil {
		t.kinds = make(map[string]*template)
	}
	t.kinds[kind] = &tm
	return nil
}

// Render makes the message of kind for the address to, from data. The
// subject is made one line (line breaks become spaces).
func (t *Templates) Render(kind, to string, data TemplateData) (*Message, error) {
	t.mu.RLock()
	tm := t.kinds[kind]
	t.mu.RUnlock()
	if tm == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	m := &Message{To: to, Kind: kind}
	var b bytes.Buffer
	if err := tm.subject.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("mail: subject of %q: %w", kind, err)
	}
	m.Subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := tm.text.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("mail: text of %q: %w", kind, err)
	}
	m.Text = b.String()
	if tm.html != nil {
		b.Reset()
		if err := tm.html.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("mail: HTML of %q: %w", kind, err)
		}
		m.HTML = b.String()
	}
	return m, nil
}

// when writes t in UTC, as RFC 1123 does.
func when(t time.Time) string { return t.UTC().Format(time.RFC1123) }

// words writes d in the largest unit that divides it ("30 minutes",
// "2 hours", "1 day"), or in minutes rounded up.
func words(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return strconv.FormatInt(n, 10) + " " + name + "s"
	}
	switch {
	case d <= 0:
		return "0 minutes"
	case d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d < time.Minute:
		return unit(int64((d+time.Second-1)/time.Second), "second")
	default:
		return unit(int64((d+time.Minute-1)/time.Minute), "minute")
	}
}
