package migrations_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/localpg"
	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/migrations"
)

// TestEverythingBelongsToTheMigratorRole checks a database migrated from
// scratch: the schema and all it holds, River's tables included, belong to
// regsync_migrator, not to the superuser that ran the migrations.
func TestEverythingBelongsToTheMigratorRole(t *testing.T) {
	t.Parallel()
	require.Empty(t, notOwnedByMigrator(t, pgtest.NewPool(t)))
}

// notOwnedByMigrator lists the schema and the objects in it that belong
// to another role than regsync_migrator.
func notOwnedByMigrator(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT 'schema ' || nspname || ' of ' || nspowner::regrole FROM pg_namespace
		WHERE nspname = 'regsync' AND nspowner <> 'regsync_migrator'::regrole
		UNION ALL
		SELECT 'relation ' || oid::regclass || ' of ' || relowner::regrole FROM pg_class
		WHERE relnamespace = 'regsync'::regnamespace AND relowner <> 'regsync_migrator'::regrole
		UNION ALL
		SELECT 'function ' || oid::regprocedure || ' of ' || proowner::regrole FROM pg_proc
		WHERE pronamespace = 'regsync'::regnamespace AND proowner <> 'regsync_migrator'::regrole
		UNION ALL
		SELECT 'type ' || oid::regtype || ' of ' || typowner::regrole FROM pg_type
		WHERE typnamespace = 'regsync'::regnamespace AND typowner <> 'regsync_migrator'::regrole`)
	require.NoError(t, err)
	others, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return others
}

// The tests below migrate as a user that is not a superuser, as on a
// managed PostgreSQL service.

// emptyDatabaseFor drops the schema of admin's database and lets user
// create schemas in the database, as the owner of a database on a
// managed service can.
func emptyDatabaseFor(t *testing.T, admin, user *pgxpool.Pool) {
	t.Helper()
	cfg := user.Config().ConnConfig
	_, err := admin.Exec(context.Background(), "DROP SCHEMA regsync CASCADE; GRANT CREATE ON DATABASE "+
		pgx.Identifier{cfg.Database}.Sanitize()+" TO "+pgx.Identifier{cfg.User}.Sanitize())
	require.NoError(t, err)
}

func isMigrator(t *testing.T, pool *pgxpool.Pool) bool {
	t.Helper()
	var member bool
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT pg_has_role(current_user, 'regsync_migrator', 'MEMBER')").Scan(&member))
	return member
}

func TestMigratingUserWithCreateRoleJoinsTheMigratorRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	user := pgtest.LoginAs(t, admin)
	emptyDatabaseFor(t, admin, user)
	_, err := admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{user.Config().ConnConfig.User}.Sanitize()+" CREATEROLE")
	require.NoError(t, err)
	require.False(t, isMigrator(t, user))

	_, err = migrations.Up(ctx, user, nil)
	require.NoError(t, err)
	require.True(t, isMigrator(t, user))
	require.Empty(t, notOwnedByMigrator(t, admin))
}

func TestMigratingUserWithoutCreateRoleIsToldWhatToRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	user := pgtest.LoginAs(t, admin)
	emptyDatabaseFor(t, admin, user)
	name := user.Config().ConnConfig.User

	_, err := migrations.Up(ctx, user, nil)
	require.ErrorContains(t, err, "GRANT regsync_migrator TO "+pgx.Identifier{name}.Sanitize()+";")
	var schema *string
	require.NoError(t, admin.QueryRow(ctx, "SELECT to_regnamespace('regsync')::text").Scan(&schema))
	require.Nil(t, schema, "nothing was migrated")

	_, err = admin.Exec(ctx, "GRANT regsync_migrator TO "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	_, err = migrations.Up(ctx, user, nil)
	require.NoError(t, err)
	require.Empty(t, notOwnedByMigrator(t, admin))
}

// TestUpgradeHandsEverythingToTheMigratorRole migrates as an earlier
// release did, as a user that owns what it creates, and then upgrades:
// the schema, River's tables and regsync's change hands, with their data,
// and the user keeps working through its membership of the role.
func TestUpgradeHandsEverythingToTheMigratorRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin := pgtest.NewPool(t)
	user := pgtest.LoginAs(t, admin, migrations.MigratorRole)
	emptyDatabaseFor(t, admin, user)
	_, err := user.Exec(ctx, "CREATE SCHEMA regsync")
	require.NoError(t, err)
	_, err = migrations.UpTo(ctx, user, nil, 7)
	require.NoError(t, err)
	var owner string
	require.NoError(t, admin.QueryRow(ctx, "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'regsync.river_job'::regclass").Scan(&owner))
	require.Equal(t, user.Config().ConnConfig.User, owner, "before the upgrade the user owns what it created")
	_, err = user.Exec(ctx, `INSERT INTO regsync.domains (id, name, registrar, status) VALUES ('dom_kept', 'kept.example', 'sim', 'active')`)
	require.NoError(t, err)

	applied, err := migrations.Up(ctx, user, nil)
	require.NoError(t, err)
	require.Contains(t, applied, migrations.Applied{Line: "regsync", Version: 8, Name: "least_privilege"})
	require.Empty(t, notOwnedByMigrator(t, admin))
	var status string
	require.NoError(t, user.QueryRow(ctx, "SELECT status FROM regsync.domains WHERE id = 'dom_kept'").Scan(&status))
	require.Equal(t, "active", status)
}

// TestRolesOnANewCluster starts a cluster of its own, where regsync's roles
// do not exist yet: a user that may not create roles is told the
// statements an administrator must run, and they run; a user with
// CREATEROLE creates the roles while migrating four databases at once.
func TestRolesOnANewCluster(t *testing.T) {
	if os.Getenv("DATABASE_URL") != "" {
		t.Skip("starts a PostgreSQL cluster of its own from the local binaries; DATABASE_URL is set")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := localpg.Start(ctx, localpg.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cluster.Stop()) })
	admin, err := pgxpool.New(ctx, cluster.URL("postgres"))
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	for _, statement := range []string{
		"CREATE ROLE plain LOGIN",
		"CREATE ROLE roles_admin LOGIN CREATEROLE",
		"CREATE DATABASE plain_db OWNER plain",
		"CREATE DATABASE db1 OWNER roles_admin",
		"CREATE DATABASE db2 OWNER roles_admin",
		"CREATE DATABASE db3 OWNER roles_admin",
		"CREATE DATABASE db4 OWNER roles_admin",
	} {
		_, err := admin.Exec(ctx, statement)
		require.NoError(t, err)
	}
	poolAs := func(user, database string) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(cluster.URL(database))
		require.NoError(t, err)
		cfg.ConnConfig.User = user
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		return pool
	}
	roleCount := func() int {
		var n int
		require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)", migrations.Roles).Scan(&n))
		return n
	}

	plain := poolAs("plain", "plain_db")
	_, err = migrations.Up(ctx, plain, nil)
	require.ErrorContains(t, err, "permission denied to create role")
	statements := migrations.RoleStatements("plain")
	require.ErrorContains(t, err, statements)
	require.Equal(t, 0, roleCount())
	// The statements are what an administrator can run as they are.
	tx, err := admin.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, statements)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	// Another migration creates regsync_migrator and has not committed
	// yet: each of the four finds no such role, tries to create it, waits
	// for that transaction, and must take the role it made as made.
	other, err := admin.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = other.Rollback(ctx) }()
	_, err = other.Exec(ctx, "CREATE ROLE regsync_migrator NOLOGIN")
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		pool := poolAs("roles_admin", fmt.Sprintf("db%d", i+1))
		wg.Go(func() { _, errs[i] = migrations.Up(ctx, pool, nil) })
	}
	require.Eventually(t, func() bool {
		var waiting int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE ROLE regsync_migrator%'`).Scan(&waiting))
		return waiting == len(errs)
	}, time.Minute, 10*time.Millisecond)
	require.NoError(t, other.Commit(ctx))
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "db%d", i+1)
	}
	require.Equal(t, len(migrations.Roles), roleCount())
	require.True(t, isMigrator(t, poolAs("roles_admin", "db1")))

	_, err = migrations.Up(ctx, plain, nil)
	require.ErrorContains(t, err, `GRANT regsync_migrator TO "plain";`)
	for statement := range strings.SplitSeq(strings.TrimSpace(statements), "\n") {
		if !strings.HasPrefix(statement, "CREATE ROLE") {
			_, err := admin.Exec(ctx, statement)
			require.NoError(t, err)
		}
	}
	_, err = migrations.Up(ctx, plain, nil)
	require.NoError(t, err)
	require.Empty(t, notOwnedByMigrator(t, plain))
}
