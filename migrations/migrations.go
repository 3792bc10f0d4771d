// Package migrations brings a database up to date: River's own tables (via
// rivermigrate) and regsync's numbered SQL files embedded from sql/, all in
// the "regsync" schema.
//
// [Up] is idempotent and safe to run on every deploy, also from several
// processes at once: it holds a session advisory lock for its whole run, so
// concurrent callers wait and then find nothing left to do.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Schema is the Postgres schema holding regsync's tables and River's.
const Schema = "regsync"

// advisoryLockKey is the pg_advisory_lock key serializing migration runs
// (the bytes of "regsync" read as a number).
const advisoryLockKey = 0x72656773796e63

//go:embed sql/*.sql
var files embed.FS

// Applied describes one migration applied by [Up].
type Applied struct {
	// Line is "river" for River's own migrations, "regsync" for this project's.
	Line    string
	Version int
	Name    string
}

// Up applies every migration not yet applied and returns what it applied,
// in order. logger receives River's migrator logs; nil discards them.
func Up(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) ([]Applied, error) {
	return UpTo(ctx, pool, logger, 0)
}

// UpTo is [Up] that stops after regsync's migration version, for a
// database as an earlier release left it (tests of upgrades, benchmarks of
// migration time); zero applies every migration.
func UpTo(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, version int) ([]Applied, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", advisoryLockKey); err != nil {
		return nil, fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// Unlock on a fresh context so a cancelled ctx still releases the lock.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", advisoryLockKey)
	}()

	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+Schema); err != nil {
		return nil, fmt.Errorf("migrate: create schema: %w", err)
	}

	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: Schema, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("migrate: river migrator: %w", err)
	}
	riverResult, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: river: %w", err)
	}
	var applied []Applied
	for _, v := range riverResult.Versions {
		applied = append(applied, Applied{Line: "river", Version: v.Version, Name: v.Name})
	}

	own, err := applyOwn(ctx, conn, version)
	applied = append(applied, own...)
	return applied, err
}

// applyOwn applies regsync's SQL files up to version (zero: all), each in
// its own transaction together with its row in regsync.schema_migrations.
func applyOwn(ctx context.Context, conn *pgxpool.Conn, version int) ([]Applied, error) {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS regsync.schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var done []int
	rows, err := conn.Query(ctx, "SELECT version FROM regsync.schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		done = append(done, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}

	all, err := list()
	if err != nil {
		return nil, err
	}
	var applied []Applied
	for _, m := range all {
		if version != 0 && m.Version > version {
			break
		}
		if slices.Contains(done, m.Version) {
			continue
		}
		body, err := fs.ReadFile(files, path.Join("sql", m.file))
		if err != nil {
			return applied, fmt.Errorf("migrate: read %s: %w", m.file, err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return applied, fmt.Errorf("migrate: begin %s: %w", m.file, err)
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			_ = tx.Rollback(ctx)
			return applied, fmt.Errorf("migrate: apply %s: %w", m.file, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO regsync.schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			_ = tx.Rollback(ctx)
			return applied, fmt.Errorf("migrate: record %s: %w", m.file, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return applied, fmt.Errorf("migrate: commit %s: %w", m.file, err)
		}
		applied = append(applied, Applied{Line: "regsync", Version: m.Version, Name: m.Name})
	}
	return applied, nil
}

type ownMigration struct {
	Version int
	Name    string
	file    string
}

// list returns regsync's own migrations in version order. File names are
// NNN_name.sql; a malformed name or a repeated version is an error.
func list() ([]ownMigration, error) {
	entries, err := fs.ReadDir(files, "sql")
	if err != nil {
		return nil, fmt.Errorf("migrate: list: %w", err)
	}
	var out []ownMigration
	for _, e := range entries {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrate: file %q is not named NNN_name.sql", e.Name())
		}
		if len(out) > 0 && out[len(out)-1].Version == v {
			return nil, fmt.Errorf("migrate: version %d appears twice", v)
		}
		out = append(out, ownMigration{Version: v, Name: name, file: e.Name()})
	}
	return out, nil
}
