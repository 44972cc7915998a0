package node_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/banyan-mesh/banyan"

// infrastructure are the packages under node/ that are not features.
var infrastructure = []string{"node/api", "node/cli", "node/config", "node/content", "node/engine", "node/heapgoal", "node/home", "node/nodetest", "node/people"}

// imports returns, for every package of the module, the module packages
// its non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if dep, ok := strings.CutPrefix(p, module+"/"); ok && !slices.Contains(out[pkg], dep) {
				out[pkg] = append(out[pkg], dep)
			}
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isFeature(pkg string) bool {
	return strings.HasPrefix(pkg, "node/") && strings.Count(pkg, "/") == 1 && !slices.Contains(infrastructure, pkg)
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

// The packages keep their layers: the network layer knows nothing of the
// store or the node, features know each other only through interfaces of
// their own, and the shared plumbing knows no feature.
func TestLayering(t *testing.T) {
	deps := imports(t)
	var features []string
	for pkg := range deps {
		if isFeature(pkg) {
			features = append(features, pkg)
		}
	}
	if len(features) < 3 {
		t.Fatalf("found only these feature packages: %v", features)
	}
	for pkg, ds := range deps {
		for _, d := range ds {
			var why string
			switch {
			case under(pkg, "mesh") && (under(d, "store") || under(d, "node") || under(d, "wallet")):
				why = "the network layer must not know the store, the node or the wallet"
			case under(pkg, "store") && !under(d, "crypto") && !under(d, "store/safefile"):
				why = "the store may use only crypto (and its safe files)"
			case under(pkg, "crypto") && !under(d, "crypto"):
				why = "crypto may use only crypto"
			case under(pkg, "wallet") && !under(d, "crypto"):
				why = "the wallet's logic is pure: crypto only"
			case isFeature(pkg) && isFeature(d):
				why = "a feature reaches another only through an interface of its own"
			case slices.Contains(infrastructure, pkg) && pkg != "node/nodetest" && (isFeature(d) || d == "node"):
				why = "shared plumbing must not know the features or the node"
			}
			if why != "" {
				t.Errorf("%s imports %s: %s", pkg, d, why)
			}
		}
	}
}
