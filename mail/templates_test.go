package mail_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ginauth/ginauth/mail"
)

var fullData = mail.TemplateData{
	AppName:   "Shop",
	Username:  "mia",
	Link:      "https://shop.example/reset?token=tok123",
	ExpiresIn: 30 * time.Minute,
	NewEmail:  "m***@example.net",
	Time:      time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600)),
	Until:     time.Date(2026, 3, 4, 5, 21, 7, 0, time.UTC),
	IPAddress: "203.0.113.9",
	Device:    "Firefox on Linux",
	Change:    "An authenticator app was set up to guard your account's sign-in",
}

// What each default template must show of the data.
var wantShown = map[string][]string{
	mail.KindPasswordReset:         {"Shop", "mia", "token=tok123", "30 minutes"},
	mail.KindEmailVerify:           {"Shop", "mia", "token=tok123", "30 minutes"},
	mail.KindEmailChange:           {"Shop", "mia", "token=tok123", "30 minutes"},
	mail.KindEmailChanged:          {"Shop", "mia", "m***@example.net", "Wed, 04 Mar 2026 04:06:07 UTC"},
	mail.KindEmailTaken:            {"Shop"},
	mail.KindNoticeNewSignIn:       {"Shop", "mia", "Wed, 04 Mar 2026 04:06:07 UTC", "203.0.113.9", "Firefox on Linux", "token=tok123"},
	mail.KindNoticePasswordChanged: {"Shop", "mia", "Wed, 04 Mar 2026 04:06:07 UTC", "203.0.113.9"},
	mail.KindNoticeLocked:          {"Shop", "mia", "Wed, 04 Mar 2026 04:06:07 UTC", "Wed, 04 Mar 2026 05:21:07 UTC"},
	mail.KindNoticeSecondFactor:    {"Shop", "mia", "Wed, 04 Mar 2026 04:06:07 UTC", "203.0.113.9", "authenticator app was set up"},
}

// Every kind has a default template that renders a valid message with
// its data, in text and HTML; times are in UTC.
func TestDefaultTemplates(t *testing.T) {
	tpl := mail.DefaultTemplates()
	if len(wantShown) != len(mail.Kinds()) {
		t.Fatalf("the test knows %d kinds, the package %d", len(wantShown), len(mail.Kinds()))
	}
	for _, kind := range mail.Kinds() {
		t.Run(kind, func(t *testing.T) {
			m, err := tpl.Render(kind, "mia@example.org", fullData)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			if m.Kind != kind || m.To != "mia@example.org" {
				t.Errorf("kind %q, to %q", m.Kind, m.To)
			}
			if !strings.Contains(m.Subject, "Shop") || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("subject %q", m.Subject)
			}
			for _, body := range []string{m.Text, m.HTML} {
				for _, want := range wantShown[kind] {
					if !strings.Contains(body, want) {
						t.Errorf("body does not show %q:\n%s", want, body)
					}
				}
				if strings.Contains(body, "<no value>") || strings.Contains(body, "ZgotmplZ") {
					t.Errorf("body:\n%s", body)
				}
			}
			if strings.Contains(m.Text, "<p>") || !strings.Contains(m.HTML, "<p>") {
				t.Errorf("text and HTML mixed up:\n%s\n%s", m.Text, m.HTML)
			}
		})
	}
}

// HTML escapes what the data brings: a username or device cannot add
// markup, a link cannot run script. The text body is text, as given.
func TestTemplatesEscapeHTML(t *testing.T) {
	tpl := mail.DefaultTemplates()
	data := fullData
	data.Username = `<script>alert("x")</script>`
	data.Device = `<img src=x onerror=alert(1)>`
	m, err := tpl.Render(mail.KindNoticeNewSignIn, "mia@example.org", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<script>", "<img"} {
		if strings.Contains(m.HTML, raw) {
			t.Errorf("HTML holds %q unescaped:\n%s", raw, m.HTML)
		}
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;") || !strings.Contains(m.HTML, "&lt;img") {
		t.Errorf("HTML does not show the escaped username and device:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, data.Username) {
		t.Errorf("text does not show the username as it is:\n%s", m.Text)
	}

	data.Link = "javascript:alert(1)"
	m, err = tpl.Render(mail.KindPasswordReset, "mia@example.org", data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "javascript:") {
		t.Errorf("HTML links to script:\n%s", m.HTML)
	}
}

// Set replaces one kind, adds kinds of the application's own, and refuses
// what does not parse without changing anything.
func TestTemplatesSet(t *testing.T) {
	tpl := mail.DefaultTemplates()
	if err := tpl.Set(mail.KindPasswordReset, "Reset for {{.AppName}}\n now", "Go to {{.Link}}", ""); err != nil {
		t.Fatal(err)
	}
	m, err := tpl.Render(mail.KindPasswordReset, "mia@example.org", fullData)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Reset for Shop now" || m.Text != "Go to "+fullData.Link || m.HTML != "" {
		t.Errorf("rendered %+v", m)
	}

	if err := tpl.Set("invoice", "Your {{.AppName}} invoice", "Hello {{.Username}}", "<p>Hello {{.Username}}</p>"); err != nil {
		t.Fatal(err)
	}
	if m, err := tpl.Render("invoice", "mia@example.org", fullData); err != nil || m.HTML != "<p>Hello mia</p>" {
		t.Errorf("Render(invoice) = %+v, %v", m, err)
	}

	for _, bad := range [][3]string{
		{"{{.AppName", "text", "<p>html</p>"},
		{"subject", "{{if}}", "<p>html</p>"},
		{"subject", "text", "<p>{{.Nope}</p>"},
		{"", "text", ""},
		{"subject", "", "<p>html</p>"},
	} {
		if err := tpl.Set(mail.KindEmailVerify, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	if m, err := tpl.Render(mail.KindEmailVerify, "mia@example.org", fullData); err != nil || !strings.Contains(m.Text, "confirm") {
		t.Errorf("a refused Set changed the template: %+v, %v", m, err)
	}
	// A field that TemplateData does not have fails at Render.
	if err := tpl.Set("broken", "s", "{{.Nope}}", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Render("broken", "mia@example.org", fullData); err == nil {
		t.Error("Render of an unknown field succeeded")
	}
}

func TestTemplatesUnknownKind(t *testing.T) {
	if _, err := mail.DefaultTemplates().Render("nope", "mia@example.org", fullData); !errors.Is(err, mail.ErrUnknownKind) {
		t.Errorf("Render(nope) = %v, want ErrUnknownKind", err)
	}
	var zero mail.Templates
	if _, err := zero.Render(mail.KindPasswordReset, "mia@example.org", fullData); !errors.Is(err, mail.ErrUnknownKind) {
		t.Errorf("zero Templates: Render = %v, want ErrUnknownKind", err)
	}
}

func TestMaskAddressAndDomain(t *testing.T) {
	cases := []struct{ in, mask, domain string }{
		{"mia@example.org", "m***@example.org", "example.org"},
		{"Mia <mia@Example.ORG>", "m***@Example.ORG", "example.org"},
		{"élodie@example.fr", "é***@example.fr", "example.fr"},
		{"not an address", "***", ""},
		{"", "***", ""},
	}
	for _, tc := range cases {
		if got := mail.MaskAddress(tc.in); got != tc.mask {
			t.Errorf("MaskAddress(%q) = %q, want %q", tc.in, got, tc.mask)
		}
		if got := mail.Domain(tc.in); got != tc.domain {
			t.Errorf("Domain(%q) = %q, want %q", tc.in, got, tc.domain)
		}
	}
}
