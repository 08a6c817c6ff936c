package testenv

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// notEnvironment lists the skips that do not depend on the machine: a test
// that does not apply to one store. They are the same everywhere, CI
// included, so they need no report. Key: file, relative to go.work's
// folder; value: a part of the skipping line.
var notEnvironment = map[string][]string{
	"sessionstore/storetest/storetest.go": {"no bytes that can be corrupted", "no backend to lose"},
	"sessionstore/storetest/limit.go":     {"does not implement sessionstore.Limiter", "has no second instance"},
	"session/users_e2e_test.go":           {"a memory store is one process's"},
}

// Every skip in the four modules goes through Missing, Optional or
// SkipIfShort, which log it and report it to .ci/run, except those listed in
// notEnvironment: a test calling t.Skip for a missing server would pass
// unseen under REQUIRE_SERVICES=1.
func TestSkipsGoThroughTestenv(t *testing.T) {
	root := packageDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.IsAbs(root) {
		t.Fatalf("no go.work above %s", wd)
	}
	top := wd
	for range strings.Split(root, "/") {
		top = filepath.Dir(top)
	}
	skipCall := regexp.MustCompile(`\.Skip(f|Now)?\(`)
	seen := 0
	err = filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != top && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(top, path)
		rel = filepath.ToSlash(rel)
		if rel == "internal/testenv/testenv.go" || rel == "internal/testenv/skip_test.go" {
			return nil // skip itself, and this test's pattern
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if !skipCall.MatchString(line) || strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			seen++
			allowed := false
			for _, part := range notEnvironment[rel] {
				allowed = allowed || strings.Contains(line, part)
			}
			if !allowed {
				t.Errorf("%s:%d skips directly; use testenv.Missing, Optional or SkipIfShort (or list it in notEnvironment if it does not depend on the machine):\n\t%s", rel, n, strings.TrimSpace(line))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("found no skip at all: the walk missed the repository")
	}
}
