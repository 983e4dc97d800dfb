package config

import (
	"strings"
	"testing"
)

func TestStorePostgres(t *testing.T) {
	const url = "postgres://lsie:s3cret@db.example:5432/lsie?sslmode=require"
	c, err := Parse([]byte(`store { postgres = "`+url+`" }`), "t.hcl")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Store.Postgres != url || c.Store.SQLite != "" {
		t.Errorf("Store = %+v, want postgres set and sqlite cleared", c.Store)
	}
	if got, want := c.Store.RedactedPostgres(), "postgres://lsie:xxxxx@db.example:5432/lsie?sslmode=require"; got != want {
		t.Errorf("RedactedPostgres = %q, want %q", got, want)
	}
	if got := (Store{Postgres: "postgresql://db/x?password=s3cret"}).RedactedPostgres(); strings.Contains(got, "s3cret") {
		t.Errorf("RedactedPostgres kept a password parameter: %q", got)
	}
	if c := Default(); c.Store.Postgres != "" || c.Store.SQLite != defaultSQLite {
		t.Errorf("Default store = %+v, want SQLite", c.Store)
	}

	for _, tc := range []struct {
		name, src, want string
	}{
		{"both set", "store {\n  sqlite = \"x.db\"\n  postgres = \"postgres://db/lsie\"\n}",
			`t.hcl:3:3: store.postgres: cannot be set together with store.sqlite (set at t.hcl:2:3): choose one store`},
		{"empty", `store { postgres = "" }`, `t.hcl:1:9: store.postgres: must not be empty`},
		{"wrong scheme", `store { postgres = "mysql://u:s3cret@db/lsie" }`,
			`t.hcl:1:9: store.postgres: must be a URL like postgres://user@host:5432/db (scheme postgres or postgresql)`},
		{"key=value form", `store { postgres = "host=db password=s3cret" }`,
			`t.hcl:1:9: store.postgres: must be a URL like postgres://user@host:5432/db (scheme postgres or postgresql)`},
		{"unparsable", `store { postgres = "postgres://u:s3cret@%zz/db" }`,
			`t.hcl:1:9: store.postgres: must be a URL like postgres://user@host:5432/db (it does not parse)`},
		{"not a string", `store { postgres = 5432 }`, `t.hcl:1:9: store.postgres: must be a string, got number 5432`},
		{"outside store", `postgres = "postgres://db/lsie"`, `t.hcl:1:1: unknown attribute "postgres" (it belongs in a store block)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.hcl")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Parse error:\n got %v\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("diagnostic shows the password: %v", err)
			}
		})
	}
}

func TestStoreSpool(t *testing.T) {
	for _, tc := range []struct {
		src, dir string
		max      int
	}{
		{``, "var/lsie.db.spool", 1024},
		{`store { sqlite = "/data/x.db" }`, "/data/x.db.spool", 1024},
		{`store { postgres = "postgres://db/lsie" }`, "var/lsie.spool", 1024},
		{"store {\n  spool = \"/fast/spool\"\n  spool_max_mb = 64\n}", "/fast/spool", 64},
	} {
		c, err := Parse([]byte(tc.src), "t.hcl")
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if c.Store.SpoolDir() != tc.dir || c.Store.SpoolMaxMB != tc.max {
			t.Errorf("%q: spool %q, %d MiB; want %q, %d", tc.src, c.Store.SpoolDir(), c.Store.SpoolMaxMB, tc.dir, tc.max)
		}
	}
	for src, want := range map[string]string{
		`store { spool_max_mb = 0 }`:       `t.hcl:1:9: store.spool_max_mb: must be 1..1048576, got 0`,
		`store { spool_max_mb = 2097152 }`: `t.hcl:1:9: store.spool_max_mb: must be 1..1048576, got 2097152`,
		`store { spool = "" }`:             `t.hcl:1:9: store.spool: must not be empty (leave it out for the default next to the store)`,
	} {
		if _, err := Parse([]byte(src), "t.hcl"); err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", src, err, want)
		}
	}
}
