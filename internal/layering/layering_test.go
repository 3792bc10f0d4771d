// Package layering holds the test that pins the import layering of
// regsync's packages, the one depguard checks in make lint, so that make
// test checks it too.
package layering

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/regsync/regsync/"

// forbidden says, for a package, which of regsync's packages its code,
// tests aside, must not import, by prefix, and why.
func forbidden(pkg string) map[string]string {
	machinery := []string{"internal/secret", "internal/envconfig", "internal/domainname", "internal/localpg"}
	rules := map[string]string{}
	switch {
	case strings.HasPrefix(pkg, "registrar"):
		rules["store"] = "registrar adapters know nothing of the database"
		rules["migrations"] = "registrar adapters know nothing of the database"
		rules["worker"] = "registrar adapters know nothing of the jobs"
		rules["internal/httpapi"] = "the HTTP API sits above the adapters"
	case strings.HasPrefix(pkg, "store"):
		rules["worker"] = "the store knows nothing of the jobs that use it"
		rules["internal/httpapi"] = "the HTTP API sits above the store"
		rules["registrar/"] = "the store uses the registrar package's types only, no adapter"
	case strings.HasPrefix(pkg, "worker"):
		rules["internal/httpapi"] = "the HTTP API sits above the workers"
		rules["registrar/"] = "workers get adapters wired in, never a concrete one"
	case strings.HasPrefix(pkg, "migrations"):
		rules["registrar"] = "migrations stand alone"
		rules["store"] = "migrations stand alone"
		rules["worker"] = "migrations stand alone"
	}
	for _, m := range machinery {
		if strings.HasPrefix(pkg, m) {
			rules["registrar"] = "shared machinery knows none of the layers"
			rules["store"] = "shared machinery knows none of the layers"
			rules["worker"] = "shared machinery knows none of the layers"
		}
	}
	if !strings.HasPrefix(pkg, "cmd/") {
		rules["cmd/"] = "nothing imports the commands"
	}
	return rules
}

// TestLayering checks the non-test imports of every package of the
// module against the layering: registrar <- store <- worker <- cmd.
func TestLayering(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	require.NoError(t, err)
	packages := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		packages++
		rules := forbidden(pkg)
		for _, imported := range fields[1:] {
			dep, ours := strings.CutPrefix(imported, module)
			if !ours {
				continue
			}
			for prefix, why := range rules {
				if strings.HasPrefix(dep, prefix) {
					t.Errorf("%s imports %s: %s", pkg, dep, why)
				}
			}
		}
	}
	require.Greater(t, packages, 20, "every package was listed")
}
