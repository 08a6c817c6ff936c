package main

import (
	"regexp"
	"strings"
)

// device summarizes a User-Agent header for people: "Firefox 132 on
// Windows", "Safari on iPhone", "curl". It knows the common browsers and
// systems, and falls back to the first product of the header.
func device(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return "Unknown device"
	}
	browser := ""
	for _, b := range browsers {
		if m := b.re.FindStringSubmatch(ua); m != nil {
			browser = b.name
			if len(m) > 1 && m[1] != "" {
				browser += " " + m[1]
			}
			break
		}
	}
	system := ""
	for _, s := range systems {
		if s.re.MatchString(ua) {
			system = s.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	}
	product, _, _ := strings.Cut(ua, " ")
	product, _, _ = strings.Cut(product, "/")
	if len(product) > 40 {
		product = product[:40]
	}
	return product
}

type uaPattern struct {
	name string
	re   *regexp.Regexp
}

// browsers, most specific first: Edge and Opera say Chrome too, Chrome
// says Safari, and headless Chrome says HeadlessChrome.
var browsers = []uaPattern{
	{"Edge", regexp.MustCompile(`Edg(?:e|A|iOS)?/(\d+)`)},
	{"Opera", regexp.MustCompile(`(?:OPR|Opera)/(\d+)`)},
	{"Samsung Internet", regexp.MustCompile(`SamsungBrowser/(\d+)`)},
	{"Headless Chrome", regexp.MustCompile(`HeadlessChrome/(\d+)`)},
	{"Chrome", regexp.MustCompile(`(?:Chrome|CriOS)/(\d+)`)},
	{"Firefox", regexp.MustCompile(`(?:Firefox|FxiOS)/(\d+)`)},
	{"Safari", regexp.MustCompile(`Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/`)},
	{"curl", regexp.MustCompile(`^curl/([\d.]+)`)},
	{"Go HTTP client", regexp.MustCompile(`^Go-http-client/()`)},
}

var systems = []uaPattern{
	{"iPhone", regexp.MustCompile(`iPhone`)},
	{"iPad", regexp.MustCompile(`iPad`)},
	{"Android", regexp.MustCompile(`Android`)},
	{"ChromeOS", regexp.MustCompile(`CrOS`)},
	{"Windows", regexp.MustCompile(`Windows`)},
	{"macOS", regexp.MustCompile(`Mac OS X|Macintosh`)},
	{"Linux", regexp.MustCompile(`Linux|X11`)},
}
