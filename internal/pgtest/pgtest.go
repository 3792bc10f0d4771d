// Package pgtest gives each test its own freshly migrated PostgreSQL
// database on a real server: the one DATABASE_URL points at, or else a
// throwaway cluster started for the test binary (see localpg).
//
// A package using it calls [RunMain] from TestMain. Each [NewPool] clones a
// migrated template database (CREATE DATABASE ... TEMPLATE), which takes
// tens of milliseconds, and drops the clone when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/regsync/regsync/internal/localpg"
	"github.com/regsync/regsync/migrations"
)

var (
	adminURL string
	cluster  *localpg.Cluster

	templateOnce sync.Once
	templateName string
	templateErr  error

	dbCounter atomic.Int64
)

// run starts a throwaway cluster unless DATABASE_URL is set, runs the
// tests, stops the cluster and returns the exit code for os.Exit.
func run(m *testing.M) int {
	adminURL = os.Getenv("DATABASE_URL")
	if adminURL == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		c, err := localpg.Start(ctx, localpg.Options{})
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 1
		}
		cluster = c
		adminURL = c.URL("postgres")
	}
	code := m.Run()
	if templateName != "" {
		_ = execAdmin(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{templateName}.Sanitize()+" WITH (FORCE)")
	}
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// Cluster returns the throwaway cluster the tests run on, or nil when they
// run on DATABASE_URL's server.
func Cluster() *localpg.Cluster { return cluster }

// NewDatabase creates a new migrated database for the test, dropped when
// the test ends, and returns its connection string.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	if adminURL == "" {
		tb.Fatal("pgtest: RunMain was not called from TestMain")
	}
	templateOnce.Do(func() { templateName, templateErr = makeTemplate() })
	if templateErr != nil {
		tb.Fatalf("pgtest: template database: %v", templateErr)
	}
	ctx := context.Background()
	name := fmt.Sprintf("regsync_test_%d_%d", os.Getpid(), dbCounter.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	if err := execAdmin(ctx, "CREATE DATABASE "+ident+" TEMPLATE "+pgx.Identifier{templateName}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		if err := execAdmin(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	return localpg.WithDatabase(adminURL, name)
}

// poolSize is the connections of a test's pool: regsync serve's default,
// not pgxpool's four, which a worker, River's notifier and a test holding
// a transaction open would share.
const poolSize = 20

// NewPool is [NewDatabase] with a pool on it, closed when the test ends.
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(NewDatabase(tb))
	if err != nil {
		tb.Fatalf("pgtest: parse database URL: %v", err)
	}
	cfg.MaxConns = poolSize
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pgtest: open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// NewLogin creates a login user for the test that is a member of roles
// and nothing else, and returns a connection string for databaseURL's
// database as that user. Roles belong to the whole cluster, which the
// tests of all packages may share: each user has a name of its own, and
// is dropped, with any privilege it was granted in the database, when the
// test ends.
func NewLogin(tb testing.TB, databaseURL string, roles ...string) string {
	tb.Helper()
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		tb.Fatalf("pgtest: parse database URL: %v", err)
	}
	name := fmt.Sprintf("regsync_login_%d_%d_%s", os.Getpid(), dbCounter.Add(1), strings.ToLower(rand.Text()[:8]))
	password := rand.Text()
	create := "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN PASSWORD '" + password + "'"
	if len(roles) > 0 {
		idents := make([]string, len(roles))
		for i, r := range roles {
			idents[i] = pgx.Identifier{r}.Sanitize()
		}
		create += " IN ROLE " + strings.Join(idents, ", ")
	}
	if err := execAdmin(context.Background(), create); err != nil {
		tb.Fatalf("pgtest: create login user: %v", err)
	}
	tb.Cleanup(func() {
		// DROP OWNED revokes what the user was granted in its database, so
		// that DROP ROLE finds nothing depending on it.
		admin := localpg.WithDatabase(adminURL, cfg.Database)
		if err := execOn(context.Background(), admin, "DROP OWNED BY "+pgx.Identifier{name}.Sanitize()+"; DROP ROLE "+pgx.Identifier{name}.Sanitize()); err != nil {
			tb.Errorf("pgtest: drop login user: %v", err)
		}
	})
	return withUser(databaseURL, name, password)
}

// LoginAs is [NewLogin] on pool's database with a pool logged in as the
// new user, closed when the test ends.
func LoginAs(tb testing.TB, pool *pgxpool.Pool, roles ...string) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(NewLogin(tb, pool.Config().ConnString(), roles...))
	if err != nil {
		tb.Fatalf("pgtest: parse login URL: %v", err)
	}
	cfg.MaxConns = poolSize
	login, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pgtest: open pool as %s: %v", cfg.ConnConfig.User, err)
	}
	tb.Cleanup(login.Close)
	return login
}

// withUser returns conn, a URL or a keyword/value connection string,
// logging in as user with password instead of its own user.
func withUser(conn, user, password string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.User = url.UserPassword(user, password)
		q := u.Query()
		q.Del("user")
		q.Del("password")
		u.RawQuery = q.Encode()
		return u.String()
	}
	// In a keyword/value string the last occurrence of a keyword wins; the
	// user's name and password need no quoting.
	return conn + " user=" + user + " password=" + password
}

func makeTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("regsync_template_%d", os.Getpid())
	if err := execAdmin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, localpg.WithDatabase(adminURL, name))
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool, nil); err != nil {
		return "", err
	}
	return name, nil
}

func execAdmin(ctx context.Context, sql string) error { return execOn(ctx, adminURL, sql) }

func execOn(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// RunMain is TestMain's body: it runs the package's tests on a database
// server and exits with their result.
func RunMain(m *testing.M) { os.Exit(run(m)) }
