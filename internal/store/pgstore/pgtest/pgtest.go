// Package pgtest runs a private PostgreSQL cluster for tests: Debian's
// binaries, initdb into a temporary directory, a server that listens only on
// a Unix socket inside that directory (so parallel test binaries never fight
// over a TCP port), fsync off, stopped when the tests end. Tests get a fresh
// database each. Import it from tests only.
//
// Use it from TestMain, one cluster per test binary:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestX(t *testing.T) { dsn := pgtest.NewDatabase(t); … }
//
// or, for a cluster of a test's own, Start(t).
//
// Without PostgreSQL installed, NewDatabase and Start skip the test with the
// reason — unless MAILROOM_REQUIRE_POSTGRES=1 (set by `make test`, whose
// install step installs PostgreSQL), where they fail it instead.
//
// What a killed test binary leaves behind: pg_ctl starts the server as a
// daemon, so a test binary that dies without running its cleanup (kill -9, a
// go test timeout) leaves a running server and its directory
// $TMPDIR/mailroom-pgtest-*. Each cluster directory holds an "owner" file
// with the test binary's PID; every start first sweeps the directories whose
// owner is no longer alive: `pg_ctl stop -m immediate`, then removes them.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names.
const (
	// RequireEnv set to 1 turns a missing PostgreSQL from a skip into a failure.
	RequireEnv = "MAILROOM_REQUIRE_POSTGRES"
	// BinDirEnv names the directory holding initdb, pg_ctl and postgres
	// when they are not Debian's (/usr/lib/postgresql/<major>/bin).
	BinDirEnv = "MAILROOM_PG_BINDIR"
)

const (
	dirPrefix = "mailroom-pgtest-"
	// The port only names the socket file (.s.PGSQL.5432) in the
	// cluster's own directory: no TCP listener exists.
	port = 5432
	// superuser is the role initdb creates; local connections trust it.
	superuser = "postgres"
)

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	dir     string // the cluster directory: data/, sock/, owner, log
	binDir  string
	cred    *syscall.Credential // whom the server runs as, when we are root
	nextDB  atomic.Int64
	stopped sync.Once
	halted  atomic.Bool // Halt stopped the server; Resume has not started it
	durable bool        // synchronous_commit on (Durable)
}

// ErrNotInstalled reports that no PostgreSQL binaries were found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL is not installed (apt-get install postgresql, or scripts/install-test-deps.sh; or set " + BinDirEnv + ")")

// shared is the cluster Main started, or why it could not.
var (
	shared    *Cluster
	sharedErr error
)

// Main starts the test binary's cluster, runs the tests and stops it. It
// returns m.Run's exit code. A cluster that cannot start does not stop the
// tests: NewDatabase skips or fails each test that needs it.
func Main(m *testing.M) int {
	shared, sharedErr = StartCluster()
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// NewDatabase creates a fresh database on the cluster Main started and
// returns its DSN; it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if shared == nil {
		err := sharedErr
		if err == nil {
			err = errors.New("pgtest: NewDatabase without pgtest.Main in TestMain")
		}
		unavailable(t, err)
	}
	return shared.NewDatabase(t)
}

// named maps Database's keys to database names.
var named struct {
	sync.Mutex
	m map[string]string
}

// Database returns the DSN of the database that belongs to key (a server's
// data directory, say) on the cluster Main started: created empty the first
// time, the same database every later time, so that a server restarted on
// the same data directory finds its mail again. The test that created it
// drops it when it ends.
func Database(t testing.TB, key string) string {
	t.Helper()
	named.Lock()
	defer named.Unlock()
	if name, ok := named.m[key]; ok {
		return shared.DSN(name)
	}
	dsn := NewDatabase(t)
	name, err := dbName(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if named.m == nil {
		named.m = make(map[string]string)
	}
	named.m[key] = name
	t.Cleanup(func() {
		named.Lock()
		delete(named.m, key)
		named.Unlock()
	})
	return dsn
}

func dbName(dsn string) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return cfg.Database, nil
}

// Option changes a cluster's settings.
type Option func(*Cluster)

// Durable makes the cluster's commits durable against a server crash:
// synchronous_commit on, so a commit returns only once its WAL is written
// (fsync stays off: the operating system keeps what was written, and
// tests crash the server, not the machine). Fault tests that stop the
// server with pg_ctl's "immediate" mode need it: with the default
// synchronous_commit off, the last commits before a crash are lost by
// design.
func Durable() Option { return func(c *Cluster) { c.durable = true } }

// Start starts a cluster for one test, stopped at its end.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := StartCluster(opts...)
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// unavailable skips the test, or fails it where PostgreSQL is required.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" || !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("%v (%s=%s)", err, RequireEnv, os.Getenv(RequireEnv))
	}
	t.Skip(err)
}

// FindBinDir returns the directory with initdb, pg_ctl and postgres:
// $MAILROOM_PG_BINDIR, else Debian's newest /usr/lib/postgresql/<major>/bin.
func FindBinDir() (string, error) {
	if d := os.Getenv(BinDirEnv); d != "" {
		if !hasBinaries(d) {
			return "", fmt.Errorf("%w: no initdb, pg_ctl and postgres in %s=%s", ErrNotInstalled, BinDirEnv, d)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major first: "15" and "16" sort numerically, not as strings.
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	for _, d := range dirs {
		if hasBinaries(d) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func major(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasBinaries(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// StartCluster initdb's and starts a new cluster. Callers Stop it.
func StartCluster(opts ...Option) (*Cluster, error) {
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{binDir: binDir}
	for _, o := range opts {
		o(c)
	}
	// PostgreSQL refuses to run as root: as root, run it as the postgres
	// user Debian's package creates.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs the postgres system user (Debian's postgresql package creates it): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	SweepStale(os.TempDir(), c.binDir)

	c.dir, err = os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	// A Unix socket path has room for about 107 bytes.
	if sock := filepath.Join(c.SocketDir(), ".s.PGSQL.5432"); len(sock) > 100 {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("pgtest: socket path %s is too long for a Unix socket: set TMPDIR to a shorter directory", sock)
	}
	if err := c.start(); err != nil {
		c.runQuiet("pg_ctl", "stop", "-D", c.dataDir(), "-m", "immediate")
		os.RemoveAll(c.dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

// SocketDir is the directory of the server's Unix socket.
func (c *Cluster) SocketDir() string { return filepath.Join(c.dir, "sock") }

// Dir is the cluster's directory (data, socket, log).
func (c *Cluster) Dir() string { return c.dir }

func (c *Cluster) start() error {
	if err := os.WriteFile(filepath.Join(c.dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := os.Mkdir(c.SocketDir(), 0o700); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if c.cred != nil {
		for _, p := range []string{c.dir, c.SocketDir()} {
			if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
		}
	}
	// trust: only this cluster's own socket reaches it, in a 0700 directory.
	if out, err := c.run("initdb", "-D", c.dataDir(), "-U", superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	// Appended settings win over initdb's defaults. Durability is not
	// what tests measure: fsync off makes them fast.
	conf := fmt.Sprintf(`
listen_addresses = ''
unix_socket_directories = '%s'
port = %d
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 32MB
# Parallel query's shared memory in the data directory, not /dev/shm
# (small in containers, and shared by every cluster of a parallel go test).
dynamic_shared_memory_type = mmap
max_parallel_workers_per_gather = 0
`, c.SocketDir(), port)
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if c.durable {
		conf += "synchronous_commit = on\n" // the later line wins
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtest: postgresql.conf: %w", err)
	}
	// -w waits until the server accepts connections.
	if out, err := c.run("pg_ctl", "start", "-D", c.dataDir(), "-w", "-t", "60",
		"-l", filepath.Join(c.dir, "log")); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	// pg_ctl -w trusts postmaster.pid; check the socket with a real login.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: server does not accept connections: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// run runs a PostgreSQL binary as the server's user.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.binDir, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// Run from the cluster directory: the server's user may not be able to
	// enter the test's working directory.
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

func (c *Cluster) runQuiet(name string, args ...string) {
	_, _ = c.run(name, args...)
}

// DSN is the connection string for database db.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", c.SocketDir(), port, superuser, db)
}

// NewDatabase creates a fresh empty database (from template0) and returns
// its DSN. It is dropped when the test ends, with its connections closed.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), c.nextDB.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a test that leaked a connection must not keep its database.
		if err := c.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return c.DSN(name)
}

func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast: open sessions are ended) and removes
// the cluster directory.
func (c *Cluster) Stop() error {
	var err error
	c.stopped.Do(func() {
		if c.halted.Load() {
			err = os.RemoveAll(c.dir)
			return
		}
		if out, e := c.run("pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60"); e != nil {
			err = fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", e, out)
			c.runQuiet("pg_ctl", "stop", "-D", c.dataDir(), "-m", "immediate")
		}
		if e := os.RemoveAll(c.dir); e != nil && err == nil {
			err = fmt.Errorf("pgtest: %w", e)
		}
	})
	return err
}

// Restart stops the server and starts it again on the same data, for
// tests of what clients do while the database is away. mode is pg_ctl's
// shutdown mode: "fast" (a clean shutdown) or "immediate" (as a crash:
// the restart recovers from the WAL).
func (c *Cluster) Restart(mode string) error {
	if err := c.Halt(mode); err != nil {
		return err
	}
	return c.Resume()
}

// Halt stops the server and leaves it stopped, keeping its data and
// socket directory, so that a test can watch clients while the database
// is away and then Resume it in place (same data, same socket, same
// DSNs). mode is pg_ctl's shutdown mode, as for Restart. Stop still
// cleans up a halted cluster.
func (c *Cluster) Halt(mode string) error {
	if out, err := c.run("pg_ctl", "stop", "-D", c.dataDir(), "-m", mode, "-w", "-t", "60"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	c.halted.Store(true)
	return nil
}

// Resume starts a halted server again on its data and waits until it
// accepts connections.
func (c *Cluster) Resume() error {
	if out, err := c.run("pg_ctl", "start", "-D", c.dataDir(), "-w", "-t", "60",
		"-l", filepath.Join(c.dir, "log")); err != nil {
		return fmt.Errorf("pgtest: pg_ctl start: %v\n%s", err, out)
	}
	c.halted.Store(false)
	return nil
}

// SweepStale stops and removes the clusters under tmp left by test
// binaries that died without cleaning up (their owner PID is gone).
// Clusters of live test binaries are left alone.
func SweepStale(tmp, binDir string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			// A directory being set up right now has no owner file yet
			// for a moment; only old ones are debris.
			if fi, serr := os.Stat(d); serr != nil || time.Since(fi.ModTime()) < time.Minute {
				continue
			}
		} else if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && alive(pid) {
			continue
		}
		c := &Cluster{dir: d, binDir: binDir}
		if fi, err := os.Stat(d); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid != 0 {
				c.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid, NoSetGroups: true}
			}
		}
		if _, err := os.Stat(c.dataDir()); err == nil {
			c.runQuiet("pg_ctl", "stop", "-D", c.dataDir(), "-m", "immediate", "-w", "-t", "30")
		}
		os.RemoveAll(d)
	}
}

// alive reports whether process pid exists (signal 0 checks without sending).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
