// Package migrations brings a database up to date: River's own tables (via
// rivermigrate) and regsync's numbered SQL files embedded from sql/, all in
// the "regsync" schema.
//
// [Up] is idempotent and safe to run on every deploy, also from several
// processes at once: it holds a session advisory lock for its whole run, so
// concurrent callers wait and then find nothing left to do.
//
// The schema and everything in it belong to the NOLOGIN role
// [MigratorRole], and the migrations grant [WorkerRole], [EnqueuerRole]
// and [ReaderRole] what each needs. [Up] creates these roles when they are
// missing and the user running it may create roles; otherwise an
// administrator runs [RoleStatements] once per cluster. The user running
// [Up] must be a superuser or a member of [MigratorRole]; [Up] makes it one
// when it may.
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

	"github.com/jackc/pgx/v5"
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

	if err := ensureRoles(ctx, conn); err != nil {
		return nil, err
	}
	if err := createSchema(ctx, conn); err != nil {
		return nil, err
	}

	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	riverPool, err := riverMigrationPool(ctx, conn, pool)
	if err != nil {
		return nil, err
	}
	if riverPool != pool {
		defer riverPool.Close()
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(riverPool), &rivermigrate.Config{Schema: Schema, Logger: logger})
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

// createSchema creates the schema, owned by [MigratorRole] from the start,
// unless it exists. One that an earlier release made belongs to whoever
// migrated it then, until regsync's migration 8 hands it and its contents
// to the migrator role. CREATE SCHEMA IF NOT EXISTS is not enough: it needs
// CREATE on the database even when the schema exists, which a member of
// the migrator role need not have once the schema is made.
func createSchema(ctx context.Context, conn *pgxpool.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regnamespace($1) IS NOT NULL", Schema).Scan(&exists); err != nil {
		return fmt.Errorf("migrate: look up schema %s: %w", Schema, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+Schema+" AUTHORIZATION "+MigratorRole); err != nil {
		return fmt.Errorf("migrate: create schema: %w", err)
	}
	return nil
}

// rowQuerier is a connection or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaOwnedByMigrator reports whether the schema belongs to
// [MigratorRole]: then migrations run as that role, so that what they
// create belongs to it too and its default privileges apply.
func schemaOwnedByMigrator(ctx context.Context, q rowQuerier) (bool, error) {
	var owned bool
	err := q.QueryRow(ctx, "SELECT nspowner = to_regrole($1) FROM pg_namespace WHERE nspname = $2", MigratorRole, Schema).Scan(&owned)
	if err != nil {
		return false, fmt.Errorf("migrate: read the owner of schema %s: %w", Schema, err)
	}
	return owned, nil
}

// riverMigrationPool returns the pool River's migrations run on: pool
// itself while the schema still belongs to the user migrating, else a
// pool of its own whose connections act as [MigratorRole], closed by the
// caller.
func riverMigrationPool(ctx context.Context, conn *pgxpool.Conn, pool *pgxpool.Pool) (*pgxpool.Pool, error) {
	owned, err := schemaOwnedByMigrator(ctx, conn)
	if err != nil || !owned {
		return pool, err
	}
	cfg := pool.Config()
	afterConnect := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if afterConnect != nil {
			if err := afterConnect(ctx, c); err != nil {
				return err
			}
		}
		_, err := c.Exec(ctx, "SET ROLE "+MigratorRole)
		return err
	}
	rolePool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("migrate: open a pool as %s: %w", MigratorRole, err)
	}
	return rolePool, nil
}

// beginMigration begins a transaction that acts as [MigratorRole] when
// the schema belongs to it. SET LOCAL ends with the transaction, so the
// connection goes back to its pool as the user it logged in as.
func beginMigration(ctx context.Context, conn *pgxpool.Conn) (pgx.Tx, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	owned, err := schemaOwnedByMigrator(ctx, tx)
	if err == nil && owned {
		_, err = tx.Exec(ctx, "SET LOCAL ROLE "+MigratorRole)
	}
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	return tx, nil
}

// applyOwn applies regsync's SQL files up to version (zero: all), each in
// its own transaction together with its row in regsync.schema_migrations.
func applyOwn(ctx context.Context, conn *pgxpool.Conn, version int) ([]Applied, error) {
	done, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
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
		tx, err := beginMigration(ctx, conn)
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

// appliedVersions creates regsync.schema_migrations when it is missing
// and returns the versions it lists.
func appliedVersions(ctx context.Context, conn *pgxpool.Conn) ([]int, error) {
	tx, err := beginMigration(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("migrate: begin reading schema_migrations: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS regsync.schema_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM regsync.schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	return done, nil
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
