package config

import (
	"os"
	"path/filepath"
	"testing"
)

// hermeticEnv clears the LSIE_* variables Load reads (empty counts as
// unset), so tests of Load do not depend on the caller's environment.
func hermeticEnv(t *testing.T) {
	t.Helper()
	for _, v := range envVars {
		t.Setenv(v.name, "")
	}
}

func TestEnvironment(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		env        map[string]string
		wantListen string
		wantToken  string
		wantErr    string
	}{
		{
			name:       "no variables",
			src:        `api { token = "file-token" }`,
			wantListen: "127.0.0.1:8080", wantToken: "file-token",
		},
		{
			name:       "token overrides the file's",
			src:        `api { token = "file-token" }`,
			env:        map[string]string{"LSIE_API_TOKEN": "env-token"},
			wantListen: "127.0.0.1:8080", wantToken: "env-token",
		},
		{
			name:       "listen overrides the file's",
			src:        `api { listen = "127.0.0.1:9000" }`,
			env:        map[string]string{"LSIE_API_LISTEN": "localhost:9100"},
			wantListen: "localhost:9100",
		},
		{
			name:       "empty variables count as unset",
			src:        `api { token = "file-token" }`,
			env:        map[string]string{"LSIE_API_TOKEN": "", "LSIE_API_LISTEN": ""},
			wantListen: "127.0.0.1:8080", wantToken: "file-token",
		},
		{
			name:       "a token from the environment allows an exposed listen from the file",
			src:        `api { listen = "0.0.0.0:8080" }`,
			env:        map[string]string{"LSIE_API_TOKEN": "env-token"},
			wantListen: "0.0.0.0:8080", wantToken: "env-token",
		},
		{
			name:       "both from the environment",
			env:        map[string]string{"LSIE_API_TOKEN": "env-token", "LSIE_API_LISTEN": "[::]:8080"},
			wantListen: "[::]:8080", wantToken: "env-token",
		},
		{
			name:    "exposed listen from the environment without a token",
			env:     map[string]string{"LSIE_API_LISTEN": "0.0.0.0:8080"},
			wantErr: `env LSIE_API_LISTEN: api.listen: "0.0.0.0:8080" is not a loopback address; set api.token (or LSIE_API_TOKEN) to expose the API`,
		},
		{
			name:    "bad listen from the environment",
			src:     `api { listen = "127.0.0.1:8080" }`,
			env:     map[string]string{"LSIE_API_LISTEN": "8080"},
			wantErr: `env LSIE_API_LISTEN: api.listen: "8080" is not host:port (e.g. "127.0.0.1:8080"; "" disables the API)`,
		},
		{
			name:    "bad token from the environment is not echoed",
			env:     map[string]string{"LSIE_API_TOKEN": "secret with spaces"},
			wantErr: `env LSIE_API_TOKEN: api.token: must be printable ASCII without spaces (it is sent in an Authorization header)`,
		},
		{
			name:    "problems from the environment and the file together",
			src:     `segment { duration = "0s" }`,
			env:     map[string]string{"LSIE_API_LISTEN": "0.0.0.0:1"},
			wantErr: `env LSIE_API_LISTEN: api.listen: "0.0.0.0:1" is not a loopback address; set api.token (or LSIE_API_TOKEN) to expose the API` + "\n" + `t.hcl:1:11: segment.duration: must be 1s..300s, got 0s`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(name string) (string, bool) {
				v, ok := tc.env[name]
				return v, ok
			}
			c, err := parse([]byte(tc.src), "t.hcl", lookup)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error:\n got %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.API.Listen != tc.wantListen || c.API.Token != tc.wantToken {
				t.Errorf("api = %+v, want listen %q token %q", c.API, tc.wantListen, tc.wantToken)
			}
		})
	}
}

// TestLoadReadsEnvironment checks that Load, and only Load, reads the
// process environment.
func TestLoadReadsEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.hcl")
	src := []byte(`api { listen = "0.0.0.0:8080" }`)
	if err := os.WriteFile(file, src, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LSIE_API_TOKEN", "from-env")
	t.Setenv("LSIE_API_LISTEN", "")
	c, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.API.Token != "from-env" {
		t.Errorf("Load: token %q, want from-env", c.API.Token)
	}
	if _, err := Parse(src, file); err == nil {
		t.Errorf("Parse read the environment: exposed listen accepted without a token in the file")
	}

	t.Setenv("LSIE_API_TOKEN", "")
	t.Setenv("LSIE_API_LISTEN", "127.0.0.1:0")
	c, err = Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.API.Listen != "127.0.0.1:0" {
		t.Errorf("Load: listen %q, want 127.0.0.1:0", c.API.Listen)
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:80": true, "localhost:0": true, "LOCALHOST:1": true,
		"[::1]:8080": true, "[::ffff:127.0.0.1]:80": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.1:80": false,
		"lsie.example.com:80": false, "localhost.example:80": false, "nonsense": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
