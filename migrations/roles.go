package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The group roles regsync's migrations grant to. They are NOLOGIN roles:
// real login users are made members of them. Roles belong to the whole
// PostgreSQL cluster, so every regsync database on a cluster shares these
// names; the grants are made in each database by its own migrations.
const (
	// MigratorRole owns the schema and everything in it; [Up] creates and
	// changes objects as this role. The user running the migrations must
	// be a member of it (or a superuser).
	MigratorRole = "regsync_migrator"
	// WorkerRole has what regsync serve needs, and nothing more.
	WorkerRole = "regsync_worker"
	// EnqueuerRole may only call regsync.enqueue_status_sync and
	// regsync.enqueue_transfer_retry.
	EnqueuerRole = "regsync_enqueuer"
	// ReaderRole may read domains, outcomes, transfers and jobs for
	// reporting, never authInfo values or API key hashes.
	ReaderRole = "regsync_reader"
)

// Roles lists the group roles in the order they are created.
var Roles = []string{MigratorRole, WorkerRole, EnqueuerRole, ReaderRole}

// SQLSTATE codes ensureRoles tells apart.
const (
	duplicateObject       = "42710"
	uniqueViolation       = "23505"
	insufficientPrivilege = "42501"
)

// migratingUserPlaceholder stands for the user running the migrations in
// [RoleStatements] when its name is not known.
const migratingUserPlaceholder = "MIGRATING_USER"

// RoleStatements returns the SQL an administrator runs once per cluster
// when the user running the migrations may not create roles: the group
// roles, and membership of migratingUser in [MigratorRole]. An empty
// migratingUser prints a placeholder to replace.
func RoleStatements(migratingUser string) string {
	var b strings.Builder
	for _, role := range Roles {
		fmt.Fprintf(&b, "CREATE ROLE %s NOLOGIN;\n", role)
	}
	user := migratingUserPlaceholder
	if migratingUser != "" {
		user = pgx.Identifier{migratingUser}.Sanitize()
	}
	fmt.Fprintf(&b, "GRANT %s TO %s;\n", MigratorRole, user)
	return b.String()
}

// ensureRoles creates the group roles that do not exist yet and makes the
// current user a member of [MigratorRole] when it is not one already. It
// needs CREATEROLE (or a superuser) only when something is missing, and
// says which statements an administrator must run when it cannot do them
// itself. Migrations of several databases on one cluster may run it at
// the same moment: a role another one just created counts as created.
func ensureRoles(ctx context.Context, conn *pgxpool.Conn) error {
	var user string
	var superuser bool
	if err := conn.QueryRow(ctx, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &superuser); err != nil {
		return fmt.Errorf("migrate: read current user: %w", err)
	}
	for _, role := range Roles {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
			return fmt.Errorf("migrate: look up role %s: %w", role, err)
		}
		if exists {
			continue
		}
		_, err := conn.Exec(ctx, "CREATE ROLE "+role+" NOLOGIN")
		switch code := sqlState(err); {
		case err == nil, code == duplicateObject, code == uniqueViolation:
		case code == insufficientPrivilege:
			return missingRolesError(user, err)
		default:
			return fmt.Errorf("migrate: create role %s: %w", role, err)
		}
	}
	if superuser {
		return nil
	}
	var member bool
	if err := conn.QueryRow(ctx, "SELECT pg_has_role(current_user, $1, 'MEMBER')", MigratorRole).Scan(&member); err != nil {
		return fmt.Errorf("migrate: check membership of %s: %w", MigratorRole, err)
	}
	if member {
		return nil
	}
	_, err := conn.Exec(ctx, "GRANT "+MigratorRole+" TO CURRENT_USER")
	switch code := sqlState(err); {
	case err == nil, code == uniqueViolation:
		return nil
	case code == insufficientPrivilege:
		return missingRolesError(user, err)
	default:
		return fmt.Errorf("migrate: grant %s to %s: %w", MigratorRole, user, err)
	}
}

func missingRolesError(user string, err error) error {
	return fmt.Errorf("migrate: %s may not create regsync's roles or join %s (%w); "+
		"have an administrator run these statements once per cluster, leaving out the CREATE ROLE of any role that exists, "+
		"then migrate again:\n%s", user, MigratorRole, err, RoleStatements(user))
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
