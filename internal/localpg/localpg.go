// Package localpg starts a throwaway PostgreSQL cluster from the server
// binaries installed on the machine, for tests, benchmarks and the demo.
//
// The cluster listens only on a unix socket in a private directory (no TCP),
// runs as the "postgres" user when the caller is root (PostgreSQL refuses to
// run as root), and is deleted by [Cluster.Stop].
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultBinDir is where Debian installs the PostgreSQL 15 server binaries.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Options configures [Start].
type Options struct {
	// BinDir holds initdb, pg_ctl and postgres. Empty means $PGBIN, then
	// [DefaultBinDir], then the directory of pg_ctl on $PATH.
	BinDir string
	// Durable keeps fsync, synchronous_commit and full_page_writes on. Off by
	// default: a throwaway cluster does not need to survive a power cut, and
	// tests run several times faster without fsync.
	Durable bool
	// ParentDir is where the cluster's private directory is made. Empty
	// means /dev/shm when it exists (memory-backed), else the system temp dir.
	ParentDir string
}

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	dir    string
	port   int
	binDir string
	runAs  string
}

// Start creates and starts a new cluster. Its superuser is "postgres", with
// trust authentication over the private socket.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	binDir, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	parent := opts.ParentDir
	if parent == "" {
		parent = os.TempDir()
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			parent = "/dev/shm"
		}
	}
	dir, err := os.MkdirTemp(parent, "regsync-pg-")
	if err != nil {
		return nil, fmt.Errorf("localpg: make cluster dir: %w", err)
	}
	c := &Cluster{dir: dir, binDir: binDir, port: 20000 + rand.IntN(40000)}
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
		if err := chownTo(dir, c.runAs); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}

	initArgs := []string{"-D", c.dataDir(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"}
	if err := c.run(ctx, "initdb", initArgs...); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	serverOpts := fmt.Sprintf("-k %s -c listen_addresses='' -p %d -c max_connections=200", dir, c.port)
	if !opts.Durable {
		serverOpts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	startArgs := []string{"-D", c.dataDir(), "-l", filepath.Join(dir, "postgres.log"), "-w", "-t", "60", "-o", serverOpts, "start"}
	if err := c.run(ctx, "pg_ctl", startArgs...); err != nil {
		logTail := c.logTail()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w; server log: %s", err, logTail)
	}
	return c, nil
}

// URL returns a connection string for database dbname on the cluster.
func (c *Cluster) URL(dbname string) string {
	q := url.Values{}
	q.Set("host", c.dir)
	q.Set("port", strconv.Itoa(c.port))
	q.Set("sslmode", "disable")
	return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + dbname, RawQuery: q.Encode()}).String()
}

// Dir is the directory holding the cluster's data and socket.
func (c *Cluster) Dir() string { return c.dir }

// Stop shuts the cluster down immediately and deletes its files.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopErr := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop")
	return errors.Join(stopErr, os.RemoveAll(c.dir))
}

// Restart stops the server (immediately, like a crash) and starts it again
// on the same data directory and socket.
func (c *Cluster) Restart(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.dir, "postgres.log"), "-m", "immediate", "-w", "-t", "60", "restart")
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(ctx context.Context, tool string, args ...string) error {
	path := filepath.Join(c.binDir, tool)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// pg_ctl start leaves the server running with our pipes as its output
	// unless told otherwise; the -l log file takes the server's output, and
	// WaitDelay keeps a lingering child from holding Wait forever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("localpg: %s: %w: %s", tool, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func findBinDir(explicit string) (string, error) {
	candidates := []string{explicit, os.Getenv("PGBIN"), DefaultBinDir}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("localpg: no PostgreSQL server binaries found (set PGBIN to the directory holding initdb and pg_ctl, or set DATABASE_URL)")
}

func chownTo(dir, username string) error {
	u, err := user.Lookup(username)
	if err != nil {
		return fmt.Errorf("localpg: running as root needs the %q user: %w", username, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("localpg: chown %s: %w", dir, err)
	}
	return nil
}

// WithDatabase returns conn, a URL or a keyword/value connection string,
// naming database name instead of its own.
func WithDatabase(conn, name string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		q := u.Query()
		q.Del("dbname")
		u.RawQuery = q.Encode()
		return u.String()
	}
	// In a keyword/value string the last occurrence of a keyword wins.
	return conn + " dbname=" + name
}
