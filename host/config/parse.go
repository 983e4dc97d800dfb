package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Parse decodes src, a configuration in HCL native syntax, over Default and
// validates the result; filename is used in diagnostics, and its directory
// anchors relative file sources ("file:media/clip.mp4"). When the input is
// bad it returns a nil Config and a Diagnostics error listing every problem.
// Parse does not read the environment; Load does.
func Parse(src []byte, filename string) (*Config, error) {
	return parse(src, filename, nil)
}

// Load reads the configuration file at path, decodes it like Parse, and
// overlays the environment variables below before validating: an empty
// variable counts as unset. Diagnostics about a value that came from the
// environment name the variable instead of a file position.
//
//	LSIE_API_TOKEN   overrides api.token
//	LSIE_API_LISTEN  overrides api.listen
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return parse(src, path, os.LookupEnv)
}

// parse is Parse with the environment layer: lookup reads a variable, or is
// nil for none.
func parse(src []byte, filename string, lookup func(string) (string, bool)) (*Config, error) {
	d := &decoder{file: filename, baseDir: filepath.Dir(filename), at: map[string]Pos{}}
	f, hdiags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if hdiags.HasErrors() {
		// The body of a file with syntax errors is partial; decoding it
		// would only add noise to the syntax errors.
		d.addHCL(hdiags, "", d.fileStart())
		d.diags.sortByPos()
		return nil, d.diags
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, Diagnostics{{Pos: d.fileStart(), Message: "not an HCL native-syntax file"}}
	}
	c := Default()
	c.file = filename
	d.root(body, c)
	if lookup != nil {
		d.environment(c, lookup)
	}
	d.validate(c)
	if len(d.diags) > 0 {
		d.diags.sortByPos()
		return nil, d.diags
	}
	return c, nil
}

// ValidateRunnable reports what, beyond Parse's checks, prevents running the
// configuration: it needs at least one stream. A file without streams still
// passes Parse, so `config check` is useful on a partial file.
func (c *Config) ValidateRunnable() error {
	var ds Diagnostics
	if len(c.Streams) == 0 {
		ds = append(ds, Diagnostic{
			Pos:     Pos{File: c.file},
			Message: `no stream blocks: at least one is needed to run (e.g. stream "cam1" { source = "test://ball" })`,
		})
	}
	return ds.err()
}
