package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartAndStop(t *testing.T) {
	var s *Server
	t.Run("server", func(t *testing.T) {
		s = Start(t)
		ctx := context.Background()
		a, b := s.NewDatabase(t), s.NewDatabase(t)
		if a == b {
			t.Fatalf("two databases with one URL %s", a)
		}
		c, err := pgx.Connect(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var one int
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
	})
	if s == nil {
		return
	}
	// The subtest's cleanup stopped the server and removed its files.
	if s.cmd.ProcessState == nil {
		t.Errorf("postgres still running after cleanup")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", s.dir, err)
	}
}

// Stop and Restart: the server goes away under a client and comes back
// with its data.
func TestStopRestart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	url := s.NewDatabase(t)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if _, err := c.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("a query on a stopped server succeeded")
	}
	s.Restart(t)
	c2, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	var v int
	if err := c2.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 7 {
		t.Errorf("after restart: %d, %v", v, err)
	}
}
