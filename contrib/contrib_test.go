// Package contrib holds files for installing Mailroom (a systemd unit, container
// images); its tests check them against systemd and the server's defaults.
package contrib

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/config"
)

const unitPath = "systemd/mailroom.service"

// unitValues returns every assignment of key in the unit file, in order.
func unitValues(t *testing.T, unit []byte, key string) []string {
	t.Helper()
	var vals []string
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			vals = append(vals, v)
		}
	}
	return vals
}

func unitValue(t *testing.T, unit []byte, key string) string {
	t.Helper()
	vals := unitValues(t, unit, key)
	if len(vals) != 1 {
		t.Fatalf("%s: %s= set %d times, want once", unitPath, key, len(vals))
	}
	return vals[0]
}

// TestSystemdUnitDefaults checks the unit against the server's defaults.
func TestSystemdUnitDefaults(t *testing.T) {
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	def := config.Default()

	if got, want := unitValue(t, unit, "ExecStart"), "/usr/local/bin/mailroom serve --config /etc/mailroom/mailroom.toml"; got != want {
		t.Errorf("ExecStart=%s, want %s", got, want)
	}
	// mailroom serve sends no sd_notify readiness, so Type=notify would time out.
	if got := unitValue(t, unit, "Type"); got != "exec" {
		t.Errorf("Type=%s, want exec", got)
	}
	if got := "/var/lib/" + unitValue(t, unit, "StateDirectory"); got != def.DataDir {
		t.Errorf("StateDirectory gives %s, the default data_dir is %s", got, def.DataDir)
	}
	stop, err := time.ParseDuration(unitValue(t, unit, "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if stop <= def.ShutdownTimeout.Std() {
		t.Errorf("TimeoutStopSec=%v is not above the default shutdown_timeout %v", stop, def.ShutdownTimeout.Std())
	}
	nofile, err := strconv.Atoi(unitValue(t, unit, "LimitNOFILE"))
	if err != nil {
		t.Fatalf("LimitNOFILE: %v", err)
	}
	// Both IMAP listeners full, with room for everything else.
	if min := 4 * def.IMAP.MaxConnections; nofile < min {
		t.Errorf("LimitNOFILE=%d, want at least %d", nofile, min)
	}
	if got := unitValue(t, unit, "CapabilityBoundingSet"); got != "CAP_NET_BIND_SERVICE" {
		t.Errorf("CapabilityBoundingSet=%s, want CAP_NET_BIND_SERVICE only", got)
	}
}

// TestSystemdUnitVerify runs systemd-analyze verify on the unit and fails on any
// message it prints; it also checks that systemd-analyze security rates the unit
// at most 2.0 ("OK").
func TestSystemdUnitVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("MAILROOM_REQUIRE_POSTGRES") != "" {
			t.Fatal("systemd-analyze not installed: scripts/install-test-deps.sh installs systemd")
		}
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart's binary exists and is executable: point the
	// unit at a stand-in in a temporary directory.
	dir := t.TempDir()
	bin := filepath.Join(dir, "mailroom")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	const execBin = "ExecStart=/usr/local/bin/mailroom "
	if !bytes.Contains(unit, []byte(execBin)) {
		t.Fatalf("%s has no %q", unitPath, execBin)
	}
	unit = bytes.ReplaceAll(unit, []byte(execBin), []byte("ExecStart="+bin+" "))
	path := filepath.Join(dir, "mailroom.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sa, "verify", "--man=no", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=notice", "SYSTEMD_COLORS=0")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitPath, err, out)
	}

	cmd = exec.CommandContext(ctx, sa, "security", "--offline=true", "--no-pager", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0")
	out, err = cmd.CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("unrecognized option")) {
		t.Logf("systemd-analyze security --offline not supported: %s", out)
		return
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v: no overall exposure level in\n%s", err, out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd-analyze security: exposure %.1f", score)
	if score > 2.0 {
		t.Errorf("exposure level %.1f, want at most 2.0:\n%s", score, out)
	}
}

// TestContainerfiles checks the container definitions against the defaults:
// every default listener exposed, the data directory a volume, the entry point.
func TestContainerfiles(t *testing.T) {
	def := config.Default()
	var ports []string
	for _, addr := range []string{
		def.Listen.SMTP, def.Listen.Submission, def.Listen.Submissions,
		def.Listen.IMAP, def.Listen.IMAPS, def.Listen.POP3, def.Listen.POP3S,
		def.Listen.ManageSieve, def.Listen.HTTP, def.Listen.HTTPS,
	} {
		ports = append(ports, strings.TrimPrefix(addr, ":"))
	}
	slices.Sort(ports)
	for _, name := range []string{"container/Containerfile", "container/Containerfile.prebuilt"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// The final stage: from the last FROM on.
		final := string(data)
		if i := strings.LastIndex(final, "\nFROM "); i >= 0 {
			final = final[i:]
		}
		var exposed []string
		var volume, entry, user string
		for line := range strings.Lines(final) {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "EXPOSE":
				exposed = append(exposed, f[1:]...)
			case "VOLUME":
				volume = strings.Join(f[1:], " ")
			case "ENTRYPOINT":
				entry = strings.Join(f[1:], " ")
			case "USER":
				user = f[1]
			}
		}
		slices.Sort(exposed)
		if !slices.Equal(exposed, ports) {
			t.Errorf("%s: EXPOSE %v, want the default listeners' ports %v", name, exposed, ports)
		}
		if volume != def.DataDir {
			t.Errorf("%s: VOLUME %s, want %s", name, volume, def.DataDir)
		}
		if want := `["/mailroom", "serve", "--config", "/etc/mailroom/mailroom.toml"]`; entry != want {
			t.Errorf("%s: ENTRYPOINT %s, want %s", name, entry, want)
		}
		uid, _, _ := strings.Cut(user, ":")
		if n, err := strconv.Atoi(uid); err != nil || n == 0 {
			t.Errorf("%s: USER %q, want a numeric non-root user", name, user)
		}
	}
}

// TestContainerImageBuilds builds the FROM-scratch image with the standard
// tools (Docker if a daemon answers, else buildah, which CI installs) and
// runs `mailroom version` in it as its unprivileged user.
func TestContainerImageBuilds(t *testing.T) {
	_, dockerErr := exec.LookPath("docker")
	_, buildahErr := exec.LookPath("buildah")
	if dockerErr != nil && buildahErr != nil {
		if os.Getenv("MAILROOM_REQUIRE_POSTGRES") != "" {
			t.Fatal("neither docker nor buildah: scripts/install-test-deps.sh installs buildah")
		}
		t.Skip("neither docker nor buildah installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "container/build-test.sh", "mailroom:contrib-test").CombinedOutput()
	if err != nil {
		t.Fatalf("build-test.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "build-test: ok") || !strings.Contains(string(out), "mailroom ") {
		t.Fatalf("build-test.sh said:\n%s", out)
	}
}
