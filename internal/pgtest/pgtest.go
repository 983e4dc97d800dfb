// Package pgtest starts a private PostgreSQL server for tests: a fresh
// cluster in a temporary directory, reachable only through a unix socket
// there, with trust authentication. Nothing of the machine's own PostgreSQL
// (its service, its clusters, port 5432) is used.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// port only names the socket file (.s.PGSQL.<port>); the server listens on
// no TCP port, so any value is free.
const port = 5432

// startTimeout bounds how long the server may take to accept connections.
const startTimeout = 60 * time.Second

// Server is one running PostgreSQL server.
type Server struct {
	dir  string // the socket directory, holding the cluster in data/
	bin  string
	cred *syscall.Credential
	cmd  *exec.Cmd
	out  testenv.SyncBuffer
	done chan struct{}
	n    atomic.Int64 // databases created, for unique names

	// StartTime is how long initdb and the server's start took.
	StartTime time.Duration
}

// Start initialises a cluster and starts its server; tb's cleanup stops it
// and removes its files. It skips (fails under CI) where PostgreSQL is not
// installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binDir()
	if bin == "" {
		testenv.Missing(tb, "postgresql (scripts/setup.sh)")
	}
	began := time.Now()
	// Not tb.TempDir: its parent is private to the test's user, which the
	// postgres user needs to traverse when the test runs as root; and a unix
	// socket path must stay under ~107 bytes.
	dir, err := os.MkdirTemp("", "lsie-pg")
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	s := &Server{dir: dir, bin: bin}
	tb.Cleanup(func() { s.stop(tb) })

	cred, err := credential(dir)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	s.cred = cred
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = procAttr(cred)
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}

	s.launch(tb)
	s.StartTime = time.Since(began)
	tb.Logf("pgtest: postgres ready in %s (%s)", s.StartTime.Round(time.Millisecond), dir)
	return s
}

// Stop shuts the server down (fast shutdown: sessions are ended) and keeps
// its cluster, for Restart: a database server going away under a client.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.shutdown()
}

// Restart starts the server again on its cluster after Stop and waits
// until it accepts connections.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.launch(tb)
}

// launch starts postgres on the cluster and waits until it accepts
// connections.
func (s *Server) launch(tb testing.TB) {
	tb.Helper()
	data := filepath.Join(s.dir, "data")
	s.done = make(chan struct{})
	// fsync off and no TCP listener: the cluster is thrown away after the
	// test, and a socket in a private directory never collides.
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(port), "-k", s.dir, "-c", "listen_addresses=",
		"-F", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=100")
	s.cmd.SysProcAttr = procAttr(s.cred)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		close(s.done)
		tb.Fatalf("pgtest: start postgres: %v", err)
	}
	cmd, done := s.cmd, s.done
	go func() { _ = cmd.Wait(); close(done) }()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			_ = c.Close(ctx)
			break
		}
		select {
		case <-s.done:
			tb.Fatalf("pgtest: postgres exited at start: %v\n%s", s.cmd.ProcessState, s.out.String())
		case <-ctx.Done():
			tb.Fatalf("pgtest: postgres not ready after %s: %v\n%s", startTimeout, err, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL returns a postgres:// URL for database db on s, as the superuser
// "postgres" over the unix socket.
func (s *Server) URL(db string) string {
	q := url.Values{"host": {s.dir}, "port": {strconv.Itoa(port)}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

var notIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates an empty database named after tb and returns its URL.
// It is not dropped: the whole cluster is removed with the server.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := notIdent.ReplaceAllString(strings.ToLower(tb.Name()), "_")
	if len(name) > 40 { // identifiers stop at 63 bytes
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", s.n.Add(1), name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.URL(name)
}

// stop shuts the server down (fast shutdown, then a kill after a grace
// period) and removes its files. The server's log is kept in the test's
// output when the test failed.
func (s *Server) stop(tb testing.TB) {
	if s.cmd != nil && s.cmd.Process != nil {
		s.shutdown()
		if tb.Failed() {
			tb.Logf("pgtest: postgres output:\n%s", s.out.String())
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		tb.Errorf("pgtest: remove %s: %v", s.dir, err)
	}
}

// shutdown stops the server if it runs: a fast shutdown, then a kill
// after a grace period.
func (s *Server) shutdown() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown: ends sessions
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// binDir finds PostgreSQL's server binaries: Debian keeps them out of PATH
// under /usr/lib/postgresql/VERSION/bin; the newest version wins.
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && isExec(filepath.Join(filepath.Dir(p), "postgres")) {
		return filepath.Dir(p)
	}
	return ""
}

func version(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// credential returns who runs initdb and the server: PostgreSQL refuses to
// run as root, so under root it is the "postgres" system user (which then
// gets dir), otherwise nil (the current user).
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres system user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, fmt.Errorf("hand %s to the postgres user: %w", dir, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
