package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/regsync/regsync/migrations"
)

// importGoalPerMillion is the longest `regsync domain import` may take for
// a million lines, scaled to the number measured.
const importGoalPerMillion = 30 * time.Second

// importSuite times `regsync domain import` of a file of --domains lines,
// CSV and JSON Lines, each into an empty database, and then of the CSV
// file again, which changes nothing.
func importSuite(ctx context.Context, opts options) error {
	dir, err := os.MkdirTemp("", "regsync-bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, format := range []string{"csv", "jsonl"} {
		if err := importFormat(ctx, opts, dir, format); err != nil {
			return err
		}
	}
	return nil
}

// importFormat writes --domains lines in format into dir and imports them
// into a database of their own; the CSV file twice.
func importFormat(ctx context.Context, opts options, dir, format string) error {
	path := filepath.Join(dir, "domains."+format)
	if err := writeImportFile(path, format, opts.domains); err != nil {
		return err
	}
	pool, dbURL, err := newDatabase(ctx, opts, "bench_import_"+format, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return err
	}
	took, err := timeImport(ctx, opts.binary, dbURL, path)
	if err != nil {
		return err
	}
	var domains int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM regsync.domains`).Scan(&domains); err != nil {
		return err
	}
	if domains != opts.domains {
		return fmt.Errorf("the import of %s added %d domains, want %d", path, domains, opts.domains)
	}
	goal := time.Duration(float64(importGoalPerMillion) * float64(opts.domains) / 1e6)
	figure(fmt.Sprintf("domain import of %d %s lines into an empty database", opts.domains, format),
		fmt.Sprintf("%.1fs (%.0f lines/s)", took.Seconds(), perSecond(opts.domains, took)), fmt.Sprintf("at most %s", goal), took <= goal)
	if format != "csv" {
		return nil
	}
	took, err = timeImport(ctx, opts.binary, dbURL, path)
	if err != nil {
		return err
	}
	note(fmt.Sprintf("domain import of the same %d CSV lines again (nothing changes)", opts.domains), fmt.Sprintf("%.1fs", took.Seconds()))
	return nil
}

// timeImport runs `regsync domain import path` on the database and returns
// how long it took.
func timeImport(ctx context.Context, binary, databaseURL, path string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, binary, "domain", "import", path)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("regsync domain import %s: %w: %s", path, err, output.String())
	}
	return time.Since(start), nil
}

// writeImportFile writes n domains in format, csv or jsonl: one in ten
// with a Unicode name, one in ten in upper case, three registrars, every
// status, and one in five with a sync interval of its own.
func writeImportFile(path, format string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	registrars := []string{"sim", "hostup", "epp"}
	statuses := []string{"pending", "active", "suspended", "terminated", "cancelled", "expired", "fraud", "unknown"}
	if format == "csv" {
		fmt.Fprintln(w, "id,name,registrar,status,sync_interval")
	}
	for i := range n {
		name := fmt.Sprintf("import-%07d.se", i)
		switch i % 10 {
		case 3:
			name = fmt.Sprintf("bücher-%07d.de", i)
		case 7:
			name = fmt.Sprintf("IMPORT-%07d.COM", i)
		}
		interval := ""
		if i%5 == 0 {
			interval = "12h"
		}
		id, registrar, status := fmt.Sprintf("dom_imp%07d", i), registrars[i%len(registrars)], statuses[i%len(statuses)]
		if format == "csv" {
			fmt.Fprintf(w, "%s,%s,%s,%s,%s\n", id, name, registrar, status, interval)
		} else {
			fmt.Fprintf(w, `{"id":%q,"name":%q,"registrar":%q,"status":%q,"sync_interval":%q}`+"\n", id, name, registrar, status, interval)
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
