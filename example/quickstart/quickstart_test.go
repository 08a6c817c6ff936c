package main

import (
	"os"
	"strings"
	"testing"
)

// The README's quick start is this program, word for word: CI builds it,
// so the README's snippet compiles.
func TestREADMEQuotesTheQuickStart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	const open = "<!-- quickstart: example/quickstart/main.go -->\n```go\n"
	i := strings.Index(string(readme), open)
	if i < 0 {
		t.Fatalf("README.md has no %q block", strings.TrimSpace(open))
	}
	quoted := string(readme)[i+len(open):]
	quoted = quoted[:strings.Index(quoted, "```")]
	if quoted != string(src) {
		t.Errorf("README.md's quick start differs from example/quickstart/main.go: copy the file into the README")
	}
}
