package pgtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func show(t *testing.T, conn *pgx.Conn, setting string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(context.Background(), "SHOW "+setting).Scan(&v); err != nil {
		t.Fatalf("SHOW %s: %v", setting, err)
	}
	return v
}

// The shared cluster listens on its socket only, with test settings.
func TestClusterSettings(t *testing.T) {
	conn := connect(t, NewDatabase(t))
	if v := show(t, conn, "listen_addresses"); v != "" {
		t.Errorf("listen_addresses = %q, want none (socket only)", v)
	}
	if v := show(t, conn, "fsync"); v != "off" {
		t.Errorf("fsync = %q, want off", v)
	}
	if v := show(t, conn, "server_encoding"); v != "UTF8" {
		t.Errorf("server_encoding = %q", v)
	}
	dir := show(t, conn, "unix_socket_directories")
	if dir != shared.SocketDir() {
		t.Errorf("socket directory %q, want %q", dir, shared.SocketDir())
	}
	if _, err := os.Stat(filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))); err != nil {
		t.Errorf("socket: %v", err)
	}
}

// Each test's database is its own and is dropped at the test's end.
func TestDatabasesAreFreshAndDropped(t *testing.T) {
	ctx := context.Background()
	var names [2]string
	for i := range names {
		t.Run("db"+strconv.Itoa(i), func(t *testing.T) {
			conn := connect(t, NewDatabase(t))
			if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&names[i]); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("fresh database has %d tables", n)
			}
			// Left behind on purpose: the next database must not see it.
			if _, err := conn.Exec(ctx, "CREATE TABLE leftover (x int)"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if names[0] == "" || names[0] == names[1] {
		t.Fatalf("databases %q", names)
	}
	admin := connect(t, shared.DSN("postgres"))
	for _, name := range names {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after its test", name)
		}
	}
}

// A cluster of its own starts, serves, and is gone after Stop.
func TestStartStop(t *testing.T) {
	c, err := StartCluster()
	if err != nil {
		unavailable(t, err)
	}
	conn := connect(t, c.DSN("postgres"))
	var one int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %v %d", err, one)
	}
	conn.Close(context.Background())
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("cluster directory left behind: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.DSN("postgres")); err == nil {
		conn.Close(ctx)
		t.Error("server still accepts connections after Stop")
	}
}

// A cluster whose test binary died (its owner PID is gone) is stopped and
// removed by the next start's sweep; a live owner's cluster is kept.
func TestSweepStale(t *testing.T) {
	dead, err := StartCluster()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(func() { dead.Stop() })
	live, err := StartCluster()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Stop() })

	// A PID that surely is gone: a child that has exited and been reaped.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead.Dir(), "owner"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	SweepStale(os.TempDir(), dead.binDir)

	if _, err := os.Stat(dead.Dir()); !os.IsNotExist(err) {
		t.Errorf("dead owner's cluster directory not removed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, dead.DSN("postgres")); err == nil {
		conn.Close(ctx)
		t.Error("dead owner's server still runs")
	}
	conn := connect(t, live.DSN("postgres"))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Errorf("live owner's cluster was swept: %v", err)
	}
}

// Without PostgreSQL a test skips, unless MAILROOM_REQUIRE_POSTGRES=1
// makes it fail. Checked by running this test binary again with no
// binaries to find.
func TestMissingPostgres(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "1" {
		NewDatabase(t)
		t.Log("reached after NewDatabase")
		return
	}
	for _, tc := range []struct {
		require  string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP: TestMissingPostgres"},
		{"1", true, "--- FAIL: TestMissingPostgres"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingPostgres$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", BinDirEnv+"="+t.TempDir(), RequireEnv+"="+tc.require)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail {
			t.Errorf("%s=%q: exit error %v, want failure %v\n%s", RequireEnv, tc.require, err, tc.wantFail, out)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "PostgreSQL is not installed") {
			t.Errorf("%s=%q: output lacks %q and the reason:\n%s", RequireEnv, tc.require, tc.want, out)
		}
		if strings.Contains(string(out), "reached after NewDatabase") {
			t.Errorf("%s=%q: the test went on without a database:\n%s", RequireEnv, tc.require, out)
		}
	}
}

// A test binary killed with SIGKILL leaves its servers running; the next
// start's sweep stops them and removes their directories.
func TestKilledBinaryIsSwept(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "kill" {
		c, err := StartCluster()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("CLUSTER %s\n", c.Dir())
		time.Sleep(time.Minute) // killed long before
		return
	}
	if _, err := FindBinDir(); err != nil {
		unavailable(t, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledBinaryIsSwept$")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=kill")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "CLUSTER "); ok {
			dir = d
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if dir == "" {
		t.Fatal("the child printed no cluster directory")
	}
	left := &Cluster{dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, left.DSN("postgres"))
	if err != nil {
		t.Fatalf("the killed binary's server is not running, nothing to sweep: %v", err)
	}
	conn.Close(ctx)

	binDir, _ := FindBinDir()
	SweepStale(os.TempDir(), binDir)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory of the killed binary not removed: %v", err)
	}
	if conn, err := pgx.Connect(ctx, left.DSN("postgres")); err == nil {
		conn.Close(ctx)
		t.Error("the killed binary's server still runs after the sweep")
	}
}

// A halted cluster refuses connections; resumed in place, the same DSN
// reaches the same data again; Stop cleans up a halted cluster too.
func TestHaltResume(t *testing.T) {
	c := Start(t)
	// The maintenance database, not NewDatabase's: its drop at the end
	// would meet the cluster halted.
	dsn := c.DSN("postgres")
	conn := connect(t, dsn)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Halt("fast"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if c2, err := pgx.Connect(cctx, dsn); err == nil {
		c2.Close(ctx)
		t.Fatal("connected to a halted cluster")
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	conn = connect(t, dsn)
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 7 {
		t.Fatalf("after Resume: %d, %v; want the row written before Halt", n, err)
	}
	conn.Close(ctx)
	// Halted again and left so: Stop still removes it, without an error.
	if err := c.Halt("immediate"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop of a halted cluster: %v", err)
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Fatalf("cluster directory after Stop: %v", err)
	}
}

// Durable turns synchronous_commit on; the default leaves it off.
func TestDurable(t *testing.T) {
	c := Start(t, Durable())
	if v := show(t, connect(t, c.DSN("postgres")), "synchronous_commit"); v != "on" {
		t.Errorf("Durable cluster: synchronous_commit = %q, want on", v)
	}
	if v := show(t, connect(t, NewDatabase(t)), "synchronous_commit"); v != "off" {
		t.Errorf("default cluster: synchronous_commit = %q, want off", v)
	}
}
