package oauthvendor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// lifecycleLayers is the read's way down through the lifecycle, top
// first (README "Architecture"): a file may use what the files of its own
// or a lower layer declare, never a path file's or a higher layer's. The
// paths, periodic.go and the files around the backend sit above all.
var lifecycleLayers = [][]string{
	{"lifecycle.go", "subject.go"},
	{"refreshtoken.go", "readmark.go"},
	{"entry.go"},
	{"namelock.go", "storage.go", "timing.go"},
	{"token.go"},
}

// TestCallsGoDown: no lifecycle file calls up, into a path file or a
// layer above its own. Names are matched by package-level declaration,
// and methods by name where only one file declares a method of that name.
func TestCallsGoDown(t *testing.T) {
	decls, methods, files := declaredIn(t)
	layer := map[string]int{}
	for i, l := range lifecycleLayers {
		for _, f := range l {
			layer[f] = i
		}
	}
	above := func(from, to string) bool {
		if strings.HasPrefix(to, "path_") {
			return true
		}
		lt, ok := layer[to]
		return ok && lt < layer[from]
	}
	for from := range layer {
		af := files[from]
		if af == nil {
			t.Fatalf("%s: not in the package", from)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			var to, name string
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if fs := methods[n.Sel.Name]; len(fs) == 1 {
					to, name = fs[0], n.Sel.Name
				}
			case *ast.Ident:
				to, name = decls[n.Name], n.Name
			}
			if to != "" && to != from && above(from, to) {
				t.Errorf("%s uses %s from %s, a file above it", from, name, to)
			}
			return true
		})
	}
}

// declaredIn parses the package's non-test files: where each package-level
// name and each method name is declared.
func declaredIn(t *testing.T) (map[string]string, map[string][]string, map[string]*ast.File) {
	t.Helper()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	decls, methods, files := map[string]string{}, map[string][]string{}, map[string]*ast.File{}
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = af
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					methods[d.Name.Name] = append(methods[d.Name.Name], p)
				} else {
					decls[d.Name.Name] = p
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						decls[s.Name.Name] = p
					case *ast.ValueSpec:
						for _, n := range s.Names {
							decls[n.Name] = p
						}
					}
				}
			}
		}
	}
	return decls, methods, files
}
