package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

// goFiles parses every non-test Go file under dir (recursively unless flat).
func goFiles(t *testing.T, dir string, flat bool) map[string]*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (flat || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		files[path] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// coreAllowed lists the only imports the Raft core (raftgroup, not its
// subpackages' tests or the simulator) may use: no os, net, time, sync,
// goroutine machinery or global randomness.
var coreAllowed = map[string]bool{
	"errors":          true,
	"fmt":             true,
	"math":            true,
	"math/rand/v2":    true, // only with a seeded source from Config; checked below
	"slices":          true,
	"sort":            true,
	"strings":         true,
	"encoding/binary": true,
	"github.com/flotilladb/flotilla/raftgroup/raftpb": true,
}

func TestRaftCoreImports(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range []string{"raftgroup", "raftgroup/raftpb"} {
		for path, f := range goFiles(t, filepath.Join(root, dir), true) {
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !coreAllowed[p] {
					t.Errorf("%s imports %q, which the Raft core may not use (allowed: %v)", rel(root, path), p, keys(coreAllowed))
				}
			}
		}
	}
}

// TestRaftCoreNoGlobalRandom rejects calls to the top-level functions of
// math/rand/v2 (which use the process-wide source) in the Raft core.
func TestRaftCoreNoGlobalRandom(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	for path := range goFiles(t, filepath.Join(root, "raftgroup"), true) {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "rand" {
				switch sel.Sel.Name {
				case "New", "NewPCG", "Rand", "Source", "PCG":
				default:
					t.Errorf("%s: rand.%s uses the global random source; take a seeded source from Config", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}
}

// TestNoMutablePackageVars rejects package-level var declarations in
// library packages, except error sentinels (errors.New / fmt.Errorf) and
// values explicitly marked immutable with a "lint:immutable" comment.
func TestNoMutablePackageVars(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	for path := range goFiles(t, root, false) {
		if strings.Contains(path, string(filepath.Separator)+"cmd"+string(filepath.Separator)) ||
			strings.Contains(path, string(filepath.Separator)+"bench"+string(filepath.Separator)) {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name == "main" {
			continue
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			if hasMarker(gd.Doc) {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if hasMarker(vs.Doc) || hasMarker(vs.Comment) || allErrors(vs) || allBlank(vs) {
					continue
				}
				t.Errorf("%s: package-level var %s is mutable global state; pass it in through Options, or mark it // lint:immutable",
					fset.Position(vs.Pos()), vs.Names[0].Name)
			}
		}
	}
}

// TestNoRawAtomics rejects atomic.AddUint64 and friends: use the typed
// atomics (atomic.Uint64 and so on), which cannot be read non-atomically.
func TestNoRawAtomics(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	for path := range goFiles(t, root, false) {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "atomic" {
				for _, p := range []string{"Add", "Load", "Store", "Swap", "CompareAndSwap"} {
					if strings.HasPrefix(sel.Sel.Name, p) {
						t.Errorf("%s: atomic.%s: use a typed atomic (atomic.Uint64, atomic.Int64, atomic.Bool, ...)", fset.Position(sel.Pos()), sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
}

func hasMarker(cg *ast.CommentGroup) bool {
	return cg != nil && strings.Contains(cg.Text(), "lint:immutable")
}

// allErrors reports whether every value is an errors.New or fmt.Errorf
// call: error sentinels are the accepted package-level vars.
func allErrors(vs *ast.ValueSpec) bool {
	if len(vs.Values) == 0 {
		return false
	}
	for _, v := range vs.Values {
		call, ok := v.(*ast.CallExpr)
		if !ok {
			return false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok || !((pkg.Name == "errors" && sel.Sel.Name == "New") || (pkg.Name == "fmt" && sel.Sel.Name == "Errorf")) {
			return false
		}
	}
	return true
}

// allBlank accepts compile-time interface checks: var _ I = (*T)(nil).
func allBlank(vs *ast.ValueSpec) bool {
	for _, n := range vs.Names {
		if n.Name != "_" {
			return false
		}
	}
	return true
}

func rel(root, path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return r
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
