package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// commandFlag is one flag of a command, with the environment variable it
// falls back to, if any.
type commandFlag struct {
	command, name, env string
}

var (
	flagLine       = regexp.MustCompile(`^  -([a-z0-9-]+)`)
	envOfFlag      = regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)
	subcommandLine = regexp.MustCompile(`^  ([a-z][a-z0-9-]*) `)
	envInSource    = regexp.MustCompile(`"((?:REGSYNC|DATABASE)_[A-Z0-9_]*[A-Z0-9])"`)
)

// allFlags returns the flags of every command and subcommand, read from
// their --help.
func allFlags(t *testing.T) []commandFlag {
	t.Helper()
	var flags []commandFlag
	var visit func(args []string)
	visit = func(args []string) {
		help := regsync(context.Background(), nil, append(args, "--help")...).stderr
		var current *commandFlag
		subcommands := false
		for line := range strings.Lines(help) {
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "Subcommands:"):
				subcommands = true
			case subcommands && subcommandLine.MatchString(line):
				visit(append(args, subcommandLine.FindStringSubmatch(line)[1]))
			case flagLine.MatchString(line):
				flags = append(flags, commandFlag{command: strings.Join(args, " "), name: flagLine.FindStringSubmatch(line)[1]})
				current = &flags[len(flags)-1]
			case current != nil && envOfFlag.MatchString(line):
				current.env = envOfFlag.FindStringSubmatch(line)[1]
			}
		}
	}
	for _, cmd := range commands {
		visit([]string{cmd.name})
	}
	return flags
}

// readmeSection returns the README's "## title" section.
func readmeSection(t *testing.T, readme, title string) string {
	t.Helper()
	start := strings.Index(readme, "\n## "+title+"\n")
	require.GreaterOrEqual(t, start, 0, "README has no section %q", title)
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	return section
}

// TestTheREADMEDocumentsEveryFlagAndVariable checks that every flag with
// an environment variable has its row in the README's configuration table,
// naming both; that every other flag of every command is in the README;
// and that every environment variable the code reads is, by its full
// name in a code span.
func TestTheREADMEDocumentsEveryFlagAndVariable(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(body)
	var rows []string
	for line := range strings.Lines(readmeSection(t, readme, "Configuration")) {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}

	flags := allFlags(t)
	require.Greater(t, len(flags), 40, "the help of every command was read")
	var missing []string
	for _, f := range flags {
		if f.env == "" {
			if !regexp.MustCompile(`(^|[^a-z-])--` + f.name + `([^a-z0-9-]|$)`).MatchString(readme) {
				missing = append(missing, fmt.Sprintf("regsync %s --%s", f.command, f.name))
			}
			continue
		}
		found := false
		for _, row := range rows {
			found = found || (strings.Contains(row, "`"+f.env+"`") && strings.Contains(row, "`--"+f.name+"`"))
		}
		if !found {
			missing = append(missing, fmt.Sprintf("a configuration row for --%s and %s (regsync %s)", f.name, f.env, f.command))
		}
	}

	sources, err := filepath.Glob("../../*/*.go")
	require.NoError(t, err)
	more, err := filepath.Glob("../../*/*/*.go")
	require.NoError(t, err)
	for _, path := range append(sources, more...) {
		if strings.HasSuffix(path, "_test.go") || strings.Contains(path, "regsync-bench") || strings.Contains(path, "regsync-chaos") {
			continue
		}
		code, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, m := range envInSource.FindAllStringSubmatch(string(code), -1) {
			if !strings.Contains(readme, "`"+m[1]) {
				missing = append(missing, fmt.Sprintf("%s, which %s reads", m[1], path))
			}
		}
	}
	slices.Sort(missing)
	require.Empty(t, slices.Compact(missing), "the README does not document these")
}
