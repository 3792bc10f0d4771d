package deploy_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository holding regsync's code, relative to this
// package.
const repoRoot = ".."

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// decodeStrict decodes YAML into v as the Kubernetes API server does with
// strict field validation: field names match case-sensitively, and
// unknown or duplicate fields are errors.
func decodeStrict(t *testing.T, path string, data []byte, v any) {
	t.Helper()
	if err := unmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func unmarshalStrict(data []byte, v any) error {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(js, v)
	return errors.Join(append(strictErrs, err)...)
}

// yamlDocuments splits a multi-document YAML file, dropping empty ones.
func yamlDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) != "" {
			docs = append(docs, []byte(doc))
		}
	}
	return docs
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

var (
	envNamePattern = regexp.MustCompile(`\b(?:REGSYNC_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b`)
	// secretCall finds the variables read through factory.Secret, which
	// also reads NAME_FILE.
	secretCall = regexp.MustCompile(`Secret\(\w+, "([A-Z0-9_]+)"\)`)
)

// knownEnv returns the environment variables regsync's code names: every
// REGSYNC_* name and DATABASE_URL in its non-test Go files, plus NAME_FILE
// for each NAME read as a secret. A setting in a deployment file that is
// not among them is a typo or a setting that no longer exists.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, dir := range []string{"cmd", "worker", "store", "registrar", "internal", "migrations"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, name := range envNamePattern.FindAll(src, -1) {
				known[string(name)] = true
			}
			for _, m := range secretCall.FindAllSubmatch(src, -1) {
				known[string(m[1])+"_FILE"] = true
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if !known["DATABASE_URL"] || !known["REGSYNC_HTTP_ADDR"] {
		t.Fatalf("found no configuration variables in %s: %v", repoRoot, known)
	}
	return known
}

// checkEnvNames fails for every name regsync does not read.
func checkEnvNames(t *testing.T, where string, names []string) {
	t.Helper()
	known := knownEnv(t)
	for _, name := range names {
		if strings.HasPrefix(name, "REGSYNC_") || name == "DATABASE_URL" {
			if !known[name] {
				t.Errorf("%s: %s is not a variable regsync reads", where, name)
			}
		}
	}
}

// envFileNames returns the variable names set in a KEY=VALUE file.
func envFileNames(data []byte) []string {
	var names []string
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, _, _ := bytes.Cut(line, []byte("="))
		names = append(names, string(name))
	}
	return names
}

// decodeLoose decodes the YAML file at path into v, ignoring the fields v
// does not have: for reading a few settings of a file checked elsewhere.
func decodeLoose(t *testing.T, path string, v any) {
	t.Helper()
	if err := yaml.Unmarshal(readFile(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
