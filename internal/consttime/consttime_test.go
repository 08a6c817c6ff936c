package consttime

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// secretCompares lists the functions that compare secrets, by the
// package's directory (from the repository root) and the function's name,
// "Type.Method" for a method. Add a function here when it compares a MAC,
// a token, a code or anything else an attacker must not learn byte by
// byte. A function that delegates to one of these need not be listed; the
// one that compares must be.
var secretCompares = []struct{ dir, fn, what string }{
	{"session", "macKey.mac", "a cookie's HMAC against the one computed"},
	{"session", "sessionID.Equal", "two session IDs (the cookies of one request)"},
	{"auth", "sameCredential", "a session's credential fingerprint against its user's"},
	{"session", "deviceSigned", "a device cookie's HMAC against the one computed"},
	{"auth", "totpStep", "a TOTP code against the codes of the steps around now"},
}

// constantTime are the calls that compare in constant time; each listed
// function must make one.
var constantTime = map[string]bool{
	"crypto/hmac.Equal":                 true,
	"crypto/subtle.ConstantTimeCompare": true,
}

// variableTime are the calls that return as soon as a byte differs.
var variableTime = map[string]bool{
	"bytes.Equal":       true,
	"bytes.Compare":     true,
	"bytes.EqualFold":   true,
	"strings.EqualFold": true,
	"strings.Compare":   true,
	"slices.Equal":      true,
	"slices.Compare":    true,
	"maps.Equal":        true,
	"reflect.DeepEqual": true,
}

func TestSecretsCompareInConstantTime(t *testing.T) {
	root := filepath.Join("..", "..")
	pkgs := map[string]*pkg{}
	for _, s := range secretCompares {
		p := pkgs[s.dir]
		if p == nil {
			var err error
			if p, err = parseDir(filepath.Join(root, filepath.FromSlash(s.dir))); err != nil {
				t.Fatal(err)
			}
			pkgs[s.dir] = p
		}
		for _, problem := range p.check(s.fn) {
			t.Errorf("%s.%s (compares %s): %s", s.dir, s.fn, s.what, problem)
		}
	}
}

// The check itself: each way of comparing a secret in variable time that
// it must catch, in a function that otherwise looks right.
func TestCheckCatchesVariableTimeCompares(t *testing.T) {
	const header = `package p

import (
	"bytes"
	h "crypto/hmac"
	"crypto/subtle"
	str "strings"
)

const prefix = "v1"

type key struct{}
`
	ok := []string{
		`func (key) verify(sum, want []byte) bool { return h.Equal(sum, want) }`,
		`func (*key) verify(sum, want []byte) bool { return len(sum) == len(want) && h.Equal(sum, want) }`,
		`func verify(a, b string) bool { return a == "" || subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }`,
		`func verify(a, b string) bool { return a != prefix && subtle.ConstantTimeCompare([]byte(a), []byte(b)) != 0 }`,
	}
	bad := map[string]string{
		"bytes.Equal":        `func (key) verify(sum, want []byte) bool { return bytes.Equal(sum, want) }`,
		"no constant-time":   `func (key) verify(sum, want []byte) bool { return len(sum) > 0 }`,
		"==":                 `func verify(a, b string) bool { return a == b }`,
		"!=":                 `func verify(a, b string) bool { return !(a != b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }`,
		"string(...) ==":     `func (key) verify(sum, want []byte) bool { return string(sum) == string(want) || h.Equal(sum, want) }`,
		"EqualFold, renamed": `func verify(a, b string) bool { return str.EqualFold(a, b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }`,
		"in a closure":       `func verify(a, b string) bool { f := func() bool { return a == b }; return f() && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }`,
		"switch":             `func verify(a, b string) bool { switch a { case b: return true }; return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }`,
		"array ==":           `func (k *key) verify(a, b [32]byte) bool { return a == b && subtle.ConstantTimeCompare(a[:], b[:]) == 1 }`,
	}
	for i, src := range ok {
		t.Run(fmt.Sprintf("ok %d", i), func(t *testing.T) {
			p := parseSource(t, header+src)
			if problems := p.check(funcName(src)); len(problems) > 0 {
				t.Errorf("%s\nflagged: %q", src, problems)
			}
		})
	}
	for name, src := range bad {
		t.Run(name, func(t *testing.T) {
			p := parseSource(t, header+src)
			if problems := p.check(funcName(src)); len(problems) == 0 {
				t.Errorf("%s\nnot flagged", src)
			}
		})
	}
	if problems := parseSource(t, header).check("verify"); len(problems) == 0 {
		t.Error("a listed function that is gone was not flagged")
	}
}

// funcName is "verify" or "key.verify" for the source of one function.
func funcName(src string) string {
	if strings.HasPrefix(src, "func (") {
		return "key.verify"
	}
	return "verify"
}

func parseSource(t *testing.T, src string) *pkg {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	return newPkg(fset, []*ast.File{f})
}

// pkg is one package's syntax, its test files left out.
type pkg struct {
	fset   *token.FileSet
	files  []*ast.File
	consts map[string]bool // package-level constants
}

func parseDir(dir string) (*pkg, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return newPkg(fset, files), nil
}

func newPkg(fset *token.FileSet, files []*ast.File) *pkg {
	p := &pkg{fset: fset, files: files, consts: map[string]bool{}}
	for _, f := range files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						p.consts[n.Name] = true
					}
				}
			}
		}
	}
	return p
}

// check returns what is wrong with the function named fn ("name" or
// "Type.Method"): every variable-time comparison in it, and the lack of a
// constant-time one.
func (p *pkg) check(fn string) []string {
	for _, f := range p.files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || declName(fd) != fn {
				continue
			}
			return p.checkFunc(f, fd)
		}
	}
	return []string{"no such function: renamed or moved? Update the list in consttime_test.go"}
}

func (p *pkg) checkFunc(f *ast.File, fd *ast.FuncDecl) []string {
	imports := map[string]string{} // local name -> import path
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		name := path[strings.LastIndexByte(path, '/')+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = path
	}
	var problems []string
	at := func(n ast.Node, format string, args ...any) {
		problems = append(problems, p.fset.Position(n.Pos()).String()+": "+fmt.Sprintf(format, args...))
	}
	constant := false
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok || imports[x.Name] == "" {
				return true
			}
			call := imports[x.Name] + "." + sel.Sel.Name
			if constantTime[call] {
				constant = true
			}
			if variableTime[call] {
				at(n, "%s returns at the first difference; use hmac.Equal or subtle.ConstantTimeCompare", call)
			}
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && !p.isConst(n.X) && !p.isConst(n.Y) && !(isLen(n.X) && isLen(n.Y)) {
				at(n, "%s compares in variable time (a string(...) conversion too); use hmac.Equal or subtle.ConstantTimeCompare", n.Op)
			}
		case *ast.SwitchStmt:
			if n.Tag == nil {
				return true
			}
			for _, s := range n.Body.List {
				for _, e := range s.(*ast.CaseClause).List {
					if !p.isConst(e) {
						at(e, "a switch compares with == in variable time")
					}
				}
			}
		}
		return true
	})
	if !constant {
		at(fd, "calls neither hmac.Equal nor subtle.ConstantTimeCompare")
	}
	return problems
}

// isConst reports whether e is a constant: a literal, nil, true, false, a
// package-level constant, an empty composite literal (a zero value), or
// such a thing in parentheses or after a unary operator.
func (p *pkg) isConst(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return e.Name == "nil" || e.Name == "true" || e.Name == "false" || p.consts[e.Name]
	case *ast.ParenExpr:
		return p.isConst(e.X)
	case *ast.UnaryExpr:
		return p.isConst(e.X)
	case *ast.CompositeLit:
		return len(e.Elts) == 0
	}
	return false
}

// isLen reports whether e is len(...): lengths are not secret.
func isLen(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := c.Fun.(*ast.Ident)
	return ok && id.Name == "len"
}

// declName is "name" for a function, "Type.name" for a method.
func declName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok { // a generic receiver, T[U]
		t = ix.X
	}
	if ix, ok := t.(*ast.IndexListExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
